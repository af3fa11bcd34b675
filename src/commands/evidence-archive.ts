/** The evidence archive for `verify` and `export`, which need only the storage and EVIDENCE_* settings. */
import { loadStoreCommandSettings, type StoreCommandSettings } from '../config/load-config.js';
import { createEvidence } from '../evidence/create-evidence-archive.js';
import type { EvidenceArchive } from '../ports.js';
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
