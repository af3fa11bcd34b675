/** `export --from DAY --to DAY --out FILE.tar.gz`: the evidence of those days for an auditor; exit 1 when it does not verify. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import { formatVerifyReport } from '../evidence/evidence-report.js';
import { parseDay } from './args.js';
import { openEvidenceArchive, readDeliveredRecords, withStoreError } from './evidence-archive.js';
import { EXIT_FAILED, EXIT_OK, type CommandIo, type ExitCode } from './io.js';
import { printer } from './wiring.js';

export async function exportCommand(args: string[], io: CommandIo): Promise<ExitCode> {
  const { values } = parseArgs({
    args,
    options: { from: { type: 'string' }, to: { type: 'string' }, out: { type: 'string' }, account: { type: 'string' } },
    strict: true,
  });
  const from = parseDay(values.from, '--from');
  const to = parseDay(values.to, '--to');
  if (!from || !to || !values.out) throw new ConfigError(['export needs --from DAY --to DAY --out FILE.tar.gz']);
  if (!/\.(tar\.gz|tgz)$/.test(values.out)) throw new ConfigError([`--out "${values.out}" must end in .tar.gz (or .tgz).`]);
  const out = resolve(io.cwd, values.out);
  const { archive, settings } = await openEvidenceArchive(io, { command: 'export', account: values.account });
  try {
    const { delivered, error } = await readDeliveredRecords(io, settings);
    const result = await archive.exportTarGz({
      from,
      to,
      out,
      verifyKey: settings.evidence.verifyKey,
      ...(delivered ? { delivered } : {}),
    });
    const report = withStoreError(result.report, error);
    const print = printer(io.stdout);
    print(`Exported ${result.bundles} bundle(s), ${result.files} file(s) for ${from} to ${to}:\n  ${out}\n`);
    print(formatVerifyReport(report).trimEnd());
    return report.ok ? EXIT_OK : EXIT_FAILED;
  } finally {
    await archive.close();
  }
}
