import type { VerifyReport } from '../ports.js';
/** The `verify` report as text: short, suited to pasting into an audit ticket. */

export function formatVerifyReport(r: VerifyReport): string {
  const lines: string[] = [];
  lines.push(`Evidence archive: ${r.archive}`);
  lines.push(`Range: ${r.from ?? 'beginning'} to ${r.to ?? 'latest'}; bundles found for ${r.firstDay ?? '-'} to ${r.lastDay ?? '-'}`);
  lines.push(`Checked: ${r.bundlesChecked} bundle(s), ${r.filesChecked} file(s) re-hashed (SHA-256)`);
  const sig =
    r.signaturesValid + r.signaturesUnchecked === 0
      ? 'none signed'
      : `${r.signaturesValid} valid${r.signaturesUnchecked ? `, ${r.signaturesUnchecked} NOT checked (set EVIDENCE_VERIFY_KEY)` : ''}`;
  lines.push(`Signatures: ${sig}`);
  lines.push(
    `Chain: ${r.checkpoint ? `from checkpoint seq ${r.checkpoint.seq} (${r.checkpoint.prunedCount} bundle(s) pruned up to ${r.checkpoint.day})` : 'from the first bundle'}` +
      (r.head ? ` to head seq ${r.head.seq}, manifest SHA-256 ${r.head.manifestSha256}` : ', empty'),
  );
  lines.push(`Missing days: ${r.missingDays.length ? r.missingDays.join(', ') : 'none'}`);
  lines.push(`Incomplete bundles: ${r.incomplete.length ? r.incomplete.length : 'none'}`);
  const d = r.deliveries;
  lines.push(
    d === null
      ? 'Deliveries: not cross-checked (the store was not read)'
      : `Deliveries: ${d.matched} of ${d.recorded} delivered window(s) in the store found in the archive by their content SHA-256` +
          (d.pruned ? `, ${d.pruned} pruned by the retention` : '') +
          (d.withoutEvidence ? `, ${d.withoutEvidence} recorded without a bundle (delivered before the store kept one: not checked)` : ''),
  );
  if (r.problems.length) {
    lines.push('', `PROBLEMS (${r.problems.length}):`);
    for (const p of r.problems) lines.push(`  [${p.kind}] ${p.where}: ${p.message}`);
  }
  lines.push('', `RESULT: ${r.ok ? 'OK: every hash, link and signature checked verifies' : 'FAILED: see the problems above'}`);
  return `${lines.join('\n')}\n`;
}
