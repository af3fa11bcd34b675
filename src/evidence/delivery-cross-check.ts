/**
 * `verify`'s cross-check of the store against the archive: every delivered window the store records names
 * its evidence bundle (label and content-manifest SHA-256, written in the same step as the delivery), and
 * that bundle must be in the archive, complete, with that content hash. So deleting any bundle, the newest
 * included and with the chain head rewritten to the previous one, is reported by the bundle's name, unless
 * the store's delivery records are altered as well; and an archive with no bundle while the store records
 * deliveries fails. Bundles pruned by the retention (up to the checkpoint's day) are expected to be gone.
 * What it cannot see: an attacker who rewrites both the store and the archive consistently. The digest
 * footer in the recipients' mailboxes (the same content SHA-256) is the record outside this machine.
 */
import type { ChainCheckpoint, DeliveredRecord, DeliveryCheck, VerifyProblem } from '../ports.js';

/** What the check needs of a bundle in the archive. */
export interface ArchivedBundle {
  label: string;
  runId: string;
  complete: boolean;
  /** The content-manifest SHA-256 its final manifest records (null: incomplete, or an unreadable manifest). */
  contentSha256: string | null;
}

/** The day a delivered window's bundle is filed under: its label's day, else the day its window ends. */
function dayOf(d: DeliveredRecord): string {
  const label = d.evidence?.bundle ?? '';
  return /^\d{4}-\d{2}-\d{2}\//.test(label) ? label.slice(0, 10) : d.end.slice(0, 10);
}

export function crossCheckDeliveries(input: {
  bundles: readonly ArchivedBundle[];
  checkpoint: ChainCheckpoint | null;
  delivered: readonly DeliveredRecord[];
  inRange: (day: string) => boolean;
}): { problems: VerifyProblem[]; summary: DeliveryCheck } {
  const problems: VerifyProblem[] = [];
  const summary: DeliveryCheck = { recorded: 0, matched: 0, pruned: 0, withoutEvidence: 0 };
  const byHash = new Map<string, ArchivedBundle>();
  for (const b of input.bundles) if (b.complete && b.contentSha256) byHash.set(b.contentSha256, b);
  const byRun = new Map(input.bundles.map((b) => [b.runId, b]));
  const prunedUpTo = input.checkpoint?.day ?? null;
  let expected = 0;
  for (const d of input.delivered) {
    const day = dayOf(d);
    if (!input.inRange(day)) continue;
    summary.recorded++;
    if (prunedUpTo !== null && day <= prunedUpTo) {
      summary.pruned++;
      continue;
    }
    expected++;
    const sent = `window ${d.key} (delivered ${d.deliveredAt}${d.messageId ? `, SendGrid message id ${d.messageId}` : ''})`;
    if (!d.evidence) {
      summary.withoutEvidence++;
      continue;
    }
    const { bundle, contentSha256 } = d.evidence;
    const found = byHash.get(contentSha256);
    if (found) {
      summary.matched++;
      if (found.label !== bundle) {
        problems.push({
          kind: 'delivery',
          where: bundle,
          message: `${sent}: the store names bundle ${bundle}, but its content SHA-256 ${contentSha256} is filed as ${found.label} (bundles moved or renamed)`,
        });
      }
      continue;
    }
    const runId = bundle.slice(bundle.indexOf('/') + 1);
    const same = byRun.get(runId);
    problems.push({
      kind: 'delivery',
      where: bundle,
      message: same
        ? same.complete
          ? `${sent}: bundle ${bundle} is in the archive but does not record the content SHA-256 ${contentSha256} the store (and the digest's footer) has for it: its manifest was replaced`
          : `${sent}: bundle ${bundle} is incomplete in the archive (its run stopped while writing its evidence)`
        : `${sent}: bundle ${bundle} (content SHA-256 ${contentSha256}, the hash in that digest's footer) is missing from the archive: it was deleted or the archive is not this store's`,
    });
  }
  if (expected > 0 && !input.bundles.some((b) => b.complete)) {
    problems.push({
      kind: 'delivery',
      where: 'archive',
      message: `the archive holds no bundle, but the store records ${expected} delivered window(s) in this range: the evidence was removed, or EVIDENCE/DATA_DIR/DATABASE_URL point at another archive`,
    });
  }
  return { problems, summary };
}
