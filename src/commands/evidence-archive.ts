/**
 * The evidence archive for `verify` and `export`, which need only the storage and EVIDENCE_* settings, and
 * the store's delivered windows that the archive is cross-checked against.
 */
import { loadStoreCommandSettings, type StoreCommandSettings } from '../config/load-config.js';
import { createEvidence } from '../evidence/create-evidence-archive.js';
import { describeError } from '../errors.js';
import type { DeliveredRecord, EvidenceArchive, VerifyReport } from '../ports.js';
import { VERSION } from '../version.js';
import type { CommandIo } from './io.js';
import { createCommandLogger, openStore, resolveStorage } from './wiring.js';

export async function openEvidenceArchive(io: CommandIo): Promise<{ archive: EvidenceArchive; settings: StoreCommandSettings }> {
  const settings = loadStoreCommandSettings(io.env);
  const { dataDir, databaseUrl } = resolveStorage(io, settings.storage);
  if (databaseUrl) {
    // The evidence tables come with the store's migrations.
    const store = openStore(io, settings.storage, createCommandLogger(io, 'error', settings.secrets));
    try {
      await store.init();
    } finally {
      await store.close();
    }
  }
  return { archive: createEvidence({ dataDir, databaseUrl, version: VERSION, settings: settings.evidence, now: io.now }), settings };
}

/** The delivered windows the store records (read only: the file store is not set up by this). */
export async function readDeliveredRecords(
  io: CommandIo,
  settings: StoreCommandSettings,
): Promise<{ delivered: DeliveredRecord[]; error?: undefined } | { delivered?: undefined; error: string }> {
  const store = openStore(io, settings.storage, createCommandLogger(io, 'error', settings.secrets));
  try {
    return { delivered: (await store.readState()).delivered };
  } catch (error) {
    return { error: describeError(error) };
  } finally {
    await store.close().catch(() => undefined);
  }
}

/** A report whose store could not be read fails: its delivered windows were not cross-checked. */
export function withStoreError(report: VerifyReport, error: string | undefined): VerifyReport {
  if (error === undefined) return report;
  return {
    ...report,
    ok: false,
    problems: [
      ...report.problems,
      {
        kind: 'delivery',
        where: 'store',
        message: `the store could not be read, so its delivered windows were not cross-checked against the archive: ${error}`,
      },
    ],
  };
}
