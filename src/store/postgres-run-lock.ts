/**
 * The PostgreSQL store's "one run at a time" lock: a session-level advisory lock on a dedicated pooled
 * connection, held until release. Its owner dying frees it: PostgreSQL ends the session when the process
 * exits or its connection closes, and the lock session asks the server for TCP keepalives (idle 60 s, then
 * every 10 s, 6 probes) so that a host that vanished without closing its connection loses the lock within
 * about 2 minutes rather than the kernel's default 2 hours. A live owner is never displaced; a busy lock is
 * logged (`store.run_lock_busy`) with the session that holds it.
 */
import type { PoolClient } from 'pg';
import { describeError, type StorageError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { LockHandle } from '../ports.js';

/** First half of the two-int run-lock key ('LPAD'); the second half is derived from the schema name. */
export const RUN_LOCK_NAMESPACE = 0x4c504144;

export async function takeRunLock(options: {
  owner: string;
  /** The second half of the key (the schema's). */
  key: number;
  checkout: (action: string) => Promise<PoolClient>;
  fail: (action: string, error: unknown) => StorageError;
  logger: Logger;
  redact: (text: string) => string;
  /** The store's held locks (released at close). */
  held: Set<LockHandle>;
}): Promise<LockHandle | null> {
  const { owner, key, checkout, fail, logger, redact, held } = options;
  const client = await checkout('take the run lock');
  const onError = (error: Error) => logger.error('store.run_lock_connection_lost', { owner, error: redact(describeError(error)) });
  client.on('error', onError);
  let locked = false;
  try {
    const result = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(${RUN_LOCK_NAMESPACE}, ${key}) AS locked`);
    locked = result.rows[0]?.locked === true;
  } catch (error) {
    client.off('error', onError);
    client.release(error instanceof Error ? error : true);
    throw fail('take the run lock', error);
  }
  if (!locked) {
    const holder = await lockHolder(client, key).catch(() => null);
    logger.warn('store.run_lock_busy', { owner, ...(holder ?? {}) });
    client.off('error', onError);
    client.release();
    return null;
  }
  // Best effort (a Unix socket or a server without TCP keepalive support ignores or refuses these).
  await client
    .query(
      `SELECT set_config('tcp_keepalives_idle', '60', false), set_config('tcp_keepalives_interval', '10', false), set_config('tcp_keepalives_count', '6', false)`,
    )
    .catch((error: unknown) => logger.debug('store.run_lock_keepalive_unset', { error: redact(describeError(error)) }));
  let released = false;
  const handle: LockHandle = {
    async release() {
      if (released) return;
      released = true;
      held.delete(handle);
      try {
        await client.query(`SELECT pg_advisory_unlock(${RUN_LOCK_NAMESPACE}, ${key})`);
        client.off('error', onError);
        client.release();
      } catch (error) {
        // The session is unusable; destroying it ends the session, which frees the lock anyway.
        client.off('error', onError);
        client.release(error instanceof Error ? error : true);
        logger.warn('store.run_lock_release_failed', { owner, error: redact(describeError(error)) });
      }
    },
  };
  held.add(handle);
  return handle;
}

/** The session holding the run lock, as pg_stat_activity shows it (for the log: never a password). */
async function lockHolder(client: PoolClient, key: number): Promise<Record<string, unknown> | null> {
  const result = await client.query<{
    pid: number;
    application_name: string;
    client_addr: string | null;
    backend_start: Date;
    state: string;
  }>(
    `SELECT a.pid, a.application_name, a.client_addr::text AS client_addr, a.backend_start, a.state
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.classid = (${RUN_LOCK_NAMESPACE})::int4::oid AND l.objid = (${key})::int4::oid AND l.objsubid = 2
      LIMIT 1`,
  );
  const row = result.rows[0];
  return row
    ? {
        holderPid: row.pid,
        holderApplication: row.application_name,
        holderAddress: row.client_addr,
        holderSince: row.backend_start,
        holderState: row.state,
      }
    : null;
}
