/**
 * Pruning: removes the bundles whose day is more than the retention before `now`, only ever a prefix of the
 * chain (the oldest bundles, up to the first one kept) and never the newest (the chain head), and records
 * the last removed manifest as the checkpoint the chain then verifies from.
 */
import type { BundleRef, EvidenceBackend } from './evidence-backend.js';
import { addDays, sha256Hex } from './evidence-manifest.js';

export async function pruneArchive(backend: EvidenceBackend, retentionDays: number, now: Date): Promise<{ pruned: number }> {
  const cutoff = addDays(now.toISOString().slice(0, 10), -retentionDays);
  const { checkpoint } = await backend.head();
  const chain = (await backend.list())
    .filter((b) => b.complete && b.seq !== null && (checkpoint === null || (b.seq as number) > checkpoint.seq))
    .sort((a, b) => (a.seq as number) - (b.seq as number));
  // Only a prefix of the chain: the oldest bundles, up to the first one still kept.
  const doomed: BundleRef[] = [];
  for (const b of chain) {
    if (b.day >= cutoff) break;
    doomed.push(b);
  }
  // Always keep the newest bundle: it is the chain head.
  if (doomed.length === chain.length) doomed.pop();
  const lastDoomed = doomed[doomed.length - 1];
  if (!lastDoomed?.manifest) return { pruned: 0 };
  await backend.prune(doomed, {
    seq: lastDoomed.seq as number,
    manifestSha256: sha256Hex(lastDoomed.manifest),
    day: lastDoomed.day,
    prunedAt: now.toISOString(),
    prunedCount: (checkpoint?.prunedCount ?? 0) + doomed.length,
  });
  return { pruned: doomed.length };
}
