/** Picks the store: PostgreSQL when DATABASE_URL is set, else files under DATA_DIR. */
import type { Logger } from '../logger.js';
import type { Clock, ProcessInfo, Store } from '../ports.js';
import { createFileStore } from './file-store.js';
import { createPostgresStore } from './postgres-store.js';

export function createStore(options: {
  dataDir: string;
  databaseUrl: string | null;
  /** The account whose rows the PostgreSQL store reads and writes (default 'default'); files are scoped by dataDir. */
  accountId?: string;
  logger: Logger;
  /** Fault injection for the crash tests (LAD_CRASH_AT): named points of the store's writes. */
  checkpoint?: ((name: string) => void) | null | undefined;
  /** This process, for the file store's lock files (the PostgreSQL store locks by session instead). */
  processInfo: ProcessInfo;
  now: Clock;
}): Store {
  const checkpoint = options.checkpoint ?? undefined;
  const { now } = options;
  if (options.databaseUrl)
    return createPostgresStore({
      connectionString: options.databaseUrl,
      ...(options.accountId ? { accountId: options.accountId } : {}),
      logger: options.logger,
      checkpoint,
      now,
    });
  return createFileStore({ dir: options.dataDir, logger: options.logger, checkpoint, processInfo: options.processInfo, now });
}
