/**
 * Exporting the evidence of some days for an auditor, as one .tar.gz: AUDITOR-README.txt, VERIFY-REPORT.txt
 * (a verify of the same days, made now), chain.json, the bundles under evidence/YYYY/MM/DD/<run id>/, and
 * SHA256SUMS from their manifests. Streamed: no file is held whole. A failure removes the partial archive.
 */
import { auditorReadme } from './auditor-readme.js';
import type { EvidenceBackend } from './evidence-backend.js';
import { json, parseManifest } from './evidence-manifest.js';
import { formatVerifyReport } from './evidence-report.js';
import { createTarGzWriter } from './tar-writer.js';
import { verifyArchive } from './verify-archive.js';
import type { Clock, DeliveredRecord, VerifyReport } from '../ports.js';

export async function exportArchive(
  backend: EvidenceBackend,
  opts: { from: string; to: string; out: string; verifyKey?: string | null; delivered?: readonly DeliveredRecord[] },
  now: Clock,
): Promise<{ bundles: number; files: number; report: VerifyReport }> {
  const report = await verifyArchive(backend, {
    from: opts.from,
    to: opts.to,
    verifyKey: opts.verifyKey ?? null,
    ...(opts.delivered ? { delivered: opts.delivered } : {}),
  });
  const bundles = (await backend.list())
    .filter((b) => b.complete && b.day >= opts.from && b.day <= opts.to)
    .sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  const tar = await createTarGzWriter(opts.out, now().getTime());
  let files = 0;
  const sums: string[] = [];
  try {
    await tar.addBuffer('AUDITOR-README.txt', Buffer.from(auditorReadme(opts.from, opts.to), 'utf8'));
    await tar.addBuffer('VERIFY-REPORT.txt', Buffer.from(formatVerifyReport(report), 'utf8'));
    const { head, checkpoint } = await backend.head();
    await tar.addBuffer('chain.json', json({ head, checkpoint }));
    for (const b of bundles) {
      const dir = `evidence/${b.day.replace(/-/g, '/')}/${b.runId}`;
      for (const f of await backend.files(b)) {
        await tar.addStream(`${dir}/${f.path}`, f.size, backend.read(b, f.path));
        files++;
      }
      const m = parseManifest(b);
      if (typeof m !== 'string') for (const e of m.files) if (e.stored && e.sha256) sums.push(`${e.sha256}  ${dir}/${e.path}`);
    }
    await tar.addBuffer('SHA256SUMS', Buffer.from(sums.length ? `${sums.join('\n')}\n` : '', 'utf8'));
    await tar.finish();
  } catch (error) {
    await tar.abort();
    throw error;
  }
  return { bundles: bundles.length, files, report };
}
