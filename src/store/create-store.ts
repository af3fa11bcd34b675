/** Picks the store: PostgreSQL when DATABASE_URL is set, else files under DATA_DIR. */
import type { Logger } from '../logger.js';
import { createFileStore } from './file-store.js';
import { createPostgresStore } from './postgres-store.js';
import type { ProcessInfo, Store } from '../ports.js';

export function createStore(options: {
  dataDir: string;
  databaseUrl: string | null;
  logger: Logger;
  /** Fault injection for the crash tests (LAD_CRASH_AT): named points of the store's writes. */
  checkpoint?: ((name: string) => void) | null | undefined;
  processInfo?: ProcessInfo;
  now?: () => Date;
}): Store {
  const checkpoint = options.checkpoint ?? undefined;
  if (options.databaseUrl) return createPostgresStore({ connectionString: options.databaseUrl, logger: options.logger, checkpoint });
  return createFileStore({ dir: options.dataDir, checkpoint });
}
