/** Picks where evidence goes: PostgreSQL when DATABASE_URL is set (schema created by the store's init), else DATA_DIR/evidence. */
import { join } from 'node:path';
import { CATALOGUE_VERSION } from '../core/catalogue.js';
import { createEvidenceArchive } from './evidence-archive.js';
import { createFileEvidenceBackend } from './file-evidence-backend.js';
import { createPostgresEvidenceBackend } from './postgres-evidence-backend.js';
import type { Clock, EvidenceArchive } from '../ports.js';

export interface EvidenceSettings {
  raw: boolean;
  retentionDays: number;
  signingKey: string | null;
  verifyKey: string | null;
}

export function createEvidence(options: {
  dataDir: string;
  databaseUrl: string | null;
  /** The account whose chain a PostgreSQL archive holds (default 'default'); files are scoped by dataDir. */
  accountId?: string;
  version: string;
  settings: Pick<EvidenceSettings, 'raw' | 'retentionDays' | 'signingKey'>;
  now: Clock;
}): EvidenceArchive {
  const backend = options.databaseUrl
    ? createPostgresEvidenceBackend({
        connectionString: options.databaseUrl,
        ...(options.accountId ? { accountId: options.accountId } : {}),
      })
    : createFileEvidenceBackend({ dir: join(options.dataDir, 'evidence') });
  return createEvidenceArchive({
    backend,
    version: options.version,
    catalogueVersion: CATALOGUE_VERSION,
    raw: options.settings.raw,
    signingKey: options.settings.signingKey,
    retentionDays: options.settings.retentionDays,
    now: options.now,
  });
}
