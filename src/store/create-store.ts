/** Picks the store: PostgreSQL when DATABASE_URL is set, else files under DATA_DIR. */
import type { Logger } from '../logger.js';
import { createFileStore } from './file-store.js';
import { createPostgresStore } from './postgres-store.js';
import type { Store } from './store.js';

export function createStore(options: { dataDir: string; databaseUrl: string | null; logger: Logger }): Store {
  if (options.databaseUrl) return createPostgresStore({ connectionString: options.databaseUrl, logger: options.logger });
  return createFileStore({ dir: options.dataDir });
}
