/** `verify [--from DAY] [--to DAY]`: checks the evidence archive, and the store's delivered windows against it; exit 1 on any problem. */
import { parseArgs } from 'node:util';
import { formatVerifyReport } from '../evidence/evidence-report.js';
import { parseDay } from './args.js';
import { openEvidenceArchive, readDeliveredRecords, withStoreError } from './evidence-archive.js';
import { EXIT_FAILED, EXIT_OK, type CommandIo, type ExitCode } from './io.js';
import { printer } from './wiring.js';

export async function verifyCommand(args: string[], io: CommandIo): Promise<ExitCode> {
  const { values } = parseArgs({
    args,
    options: { from: { type: 'string' }, to: { type: 'string' }, account: { type: 'string' } },
    strict: true,
  });
  const from = parseDay(values.from, '--from');
  const to = parseDay(values.to, '--to');
  const { archive, settings } = await openEvidenceArchive(io, { command: 'verify', account: values.account });
  try {
    // The store's delivered windows: each must still have its bundle (a cut tail leaves no gap in the chain).
    const { delivered, error } = await readDeliveredRecords(io, settings);
    const verified = await archive.verify({
      ...(from ? { from } : {}),
      ...(to ? { to } : {}),
      verifyKey: settings.evidence.verifyKey,
      ...(delivered ? { delivered } : {}),
    });
    const report = withStoreError(verified, error);
    printer(io.stdout)(formatVerifyReport(report).trimEnd());
    return report.ok ? EXIT_OK : EXIT_FAILED;
  } finally {
    await archive.close();
  }
}
