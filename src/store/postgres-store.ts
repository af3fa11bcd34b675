/**
 * The store in PostgreSQL (DATABASE_URL), in its own schema (default `lastpass_audit_digest`).
 * - `init()` applies the versioned migrations of postgres-migrations.ts in one transaction guarded by a
 *   transaction-level advisory lock, so two processes starting at once are safe.
 * - Every operation runs in an explicit transaction; each state change is one transaction. Parameterised
 *   statements are only ever sent inside a transaction (see test/support/postgres.ts: PGlite's wire
 *   server multiplexes connections and keeps a transaction's statements together, not a lone
 *   Parse/Bind/Execute sequence).
 * - Per-user history (migration 2, postgres-history.ts): completeDelivery merges a contribution in its own
 *   transaction, after locking the run_state row (which serialises every state change). Rows become run
 *   state in postgres-rows.ts.
 * - `tryLock` is a session-level advisory lock on a dedicated pooled connection held until release
 *   (postgres-run-lock.ts: a dead owner frees it, within about 2 minutes for a vanished host).
 * TLS follows the URL's `sslmode` (pg handles it). The URL is never logged: `description` names host,
 * port, database and schema only.
 */
import pg from 'pg';
import type { PoolClient, PoolConfig } from 'pg';
import { describeError, StorageError } from '../errors.js';
import { createRedactor, silentLogger, type Logger } from '../logger.js';
import {
  canonicalInstant,
  invalidInstants,
  DELIVERED_HISTORY_LIMIT,
  nextCursor,
  normaliseContribution,
  normaliseDelivered,
  normaliseFailure,
  normaliseIntent,
  type DeliveredWindow,
  type DeliveryIntent,
  type DeliveryTail,
  type FailureRecord,
  type HistoryContribution,
  type RunState,
} from '../core/run-state.js';
import type { Clock, LockHandle, Store } from '../ports.js';
import { mergeHistoryRows, readHistoryRows } from './postgres-history.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from './postgres-migrations.js';
import { type DeliveredRow, iso, type RunStateRow, toDelivered, toFailure, toIntent } from './postgres-rows.js';
import { takeRunLock } from './postgres-run-lock.js';
import { describeTarget, passwordOf } from './postgres-target.js';

export const DEFAULT_POSTGRES_SCHEMA = 'lastpass_audit_digest';

/** pg_advisory_xact_lock key serialising migrations (any schema): 'LPAD' then 1. */
export const MIGRATION_LOCK_KEY = '5498966905332957185'; // 0x4C504144_00000001
export { RUN_LOCK_NAMESPACE } from './postgres-run-lock.js';
export { HISTORY_BATCH_ROWS } from './postgres-history.js';
export { describeTarget } from './postgres-target.js';

export interface PostgresStoreOptions {
  connectionString: string;
  schema?: string;
  /** The account whose rows this store reads and writes (a slug; default 'default', the single account). */
  accountId?: string;
  now: Clock;
  logger?: Logger;
  /** Pool size (default 10, at least 2): a held run lock occupies one connection until released. */
  maxConnections?: number;
  /** How long to wait for a connection before failing (default 10 s). */
  connectionTimeoutMillis?: number;
  /**
   * Fault injection for the crash tests (the CLI passes LAD_CRASH_AT's): called at named points of the
   * writes: `store.intent.written` (beginDelivery committed), `store.history.written` (history merged,
   * transaction not committed), `store.delivery.uncommitted` (every row written, before COMMIT),
   * `store.delivery.written` (completeDelivery committed).
   */
  checkpoint?: ((name: string) => void) | undefined;
}

export function createPostgresStore(options: PostgresStoreOptions): Store {
  const schema = options.schema ?? DEFAULT_POSTGRES_SCHEMA;
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new StorageError(
      `Invalid PostgreSQL schema name ${JSON.stringify(schema)}: use letters, digits and underscores (at most 63, not starting with a digit)`,
    );
  }
  const maxConnections = options.maxConnections ?? 10;
  if (!Number.isInteger(maxConnections) || maxConnections < 2) {
    throw new StorageError(
      `PostgreSQL store: maxConnections must be an integer of at least 2 (a held run lock keeps one connection), got ${maxConnections}`,
    );
  }
  const now = options.now;
  const logger = options.logger ?? silentLogger;
  const checkpoint = options.checkpoint ?? (() => undefined);
  const target = describeTarget(options.connectionString);
  const description = `postgres ${target} (schema ${schema}${options.accountId && options.accountId !== 'default' ? `, account ${options.accountId}` : ''})`;
  const redact = createRedactor([passwordOf(options.connectionString), options.connectionString]);
  const q = pg.escapeIdentifier(schema);
  const accountId = options.accountId ?? 'default';
  if (!/^[a-z0-9-]{1,40}$/.test(accountId)) throw new StorageError(`Invalid account id ${JSON.stringify(accountId)}: use a slug`);
  // A slug, escaped: every statement is scoped to this account's rows.
  const a = pg.escapeLiteral(accountId);
  // The default account keeps the lock key of the single-account store (a running older worker still excludes it).
  const runLockKey = fnv1a32(accountId === 'default' ? schema : `${schema}:${accountId}`);

  const config: PoolConfig = {
    connectionString: options.connectionString,
    max: maxConnections,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
    application_name: 'lastpass-audit-digest',
  };
  const pool = new pg.Pool(config);
  // An idle client losing its connection must not crash the process; the next checkout reconnects.
  pool.on('error', (error) => logger.warn('store.postgres_idle_client_error', { error: redact(describeError(error)) }));

  const runLocks = new Set<LockHandle>();
  const guarded = new WeakSet<PoolClient>();
  let closed = false;

  function fail(action: string, error: unknown): StorageError {
    if (error instanceof StorageError) return error;
    const code = pgCode(error);
    const message = redact(describeError(error));
    let hint = '';
    if (code === '42P01' || code === '3F000') hint = ': the store is not set up; run `lastpass-audit-digest check` (it runs init)';
    else if (code === '28P01' || code === '28000') hint = ': PostgreSQL rejected the credentials; check DATABASE_URL';
    else if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT' || code === 'EAI_AGAIN' || /timeout/i.test(message)) {
      hint = ': PostgreSQL is unreachable; check DATABASE_URL and that the database is running';
    } else if (code === '42501') hint = ': the database user lacks a privilege on the schema';
    return new StorageError(`PostgreSQL store (${description}) could not ${action}: ${message}${code ? ` [${code}]` : ''}${hint}`);
  }

  async function checkout(action: string): Promise<PoolClient> {
    if (closed) throw new StorageError(`PostgreSQL store (${description}) is closed; cannot ${action}`);
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw fail(action, error);
    }
    // A connection lost while checked out emits 'error' besides failing its query: without a listener that
    // would crash the process (the pool only listens to idle clients). The failed query reports it.
    if (!guarded.has(client)) {
      guarded.add(client);
      client.on('error', (error) => logger.debug('store.postgres_connection_lost', { error: redact(describeError(error)) }));
    }
    return client;
  }

  async function transaction<T>(action: string, begin: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await checkout(action);
    let broken: Error | undefined;
    try {
      await client.query(begin);
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      }
      throw fail(action, error);
    } finally {
      client.release(broken);
    }
  }

  async function lockRunState(client: PoolClient): Promise<RunStateRow> {
    const result = await client.query<RunStateRow>(
      `SELECT cursor, consecutive_failures, last_failure, last_success_at, pending_delivery FROM ${q}.run_state WHERE account_id = ${a} FOR UPDATE`,
    );
    const row = result.rows[0];
    if (!row) throw new StorageError(`PostgreSQL store (${description}): the run_state row is missing; run init again`);
    return row;
  }

  const store: Store = {
    kind: 'postgres',
    description,

    async init() {
      await transaction('apply migrations', 'BEGIN', async (client) => {
        await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
        const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
        if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${q}`);
        await client.query(`SET LOCAL search_path TO ${q}`);
        await client.query(
          'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
        );
        const applied = new Set(
          (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
        );
        const newest = Math.max(0, ...applied);
        if (newest > LATEST_SCHEMA_VERSION) {
          throw new StorageError(
            `PostgreSQL store (${description}) has schema version ${newest}, newer than this build knows (${LATEST_SCHEMA_VERSION}): upgrade lastpass-audit-digest`,
          );
        }
        for (const migration of MIGRATIONS) {
          if (applied.has(migration.version)) continue;
          await client.query(migration.sql);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
          logger.info('store.migration_applied', { schema, version: migration.version, name: migration.name });
        }
        // This account's run_state row (the default account's came with migration 1).
        await client.query(`INSERT INTO run_state (account_id) VALUES (${a}) ON CONFLICT (account_id) DO NOTHING`);
      });
    },

    async schemaVersion() {
      return transaction('read the schema version', 'BEGIN READ ONLY', async (client) => {
        const table = await client.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`${q}.schema_migrations`]);
        if (!table.rows[0]?.t) return 0;
        const result = await client.query<{ v: number }>(`SELECT coalesce(max(version), 0)::integer AS v FROM ${q}.schema_migrations`);
        return result.rows[0]?.v ?? 0;
      });
    },

    async readState() {
      return transaction('read the run state', 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', async (client) => {
        const state = await client.query<RunStateRow>(
          `SELECT cursor, consecutive_failures, last_failure, last_success_at, pending_delivery FROM ${q}.run_state WHERE account_id = ${a}`,
        );
        const row = state.rows[0];
        if (!row) throw new StorageError(`PostgreSQL store (${description}): the run_state row is missing; run init again`);
        const delivered = await client.query<DeliveredRow>(
          `SELECT key, start, "end", delivered_at, message_id, marker, summary, evidence_bundle, evidence_sha256 FROM ${q}.delivered_windows
           WHERE account_id = ${a} ORDER BY "end" DESC, delivered_at DESC, key COLLATE "C" DESC LIMIT ${DELIVERED_HISTORY_LIMIT}`,
        );
        const result: RunState = {
          cursor: iso(row.cursor),
          delivered: delivered.rows.reverse().map(toDelivered),
          pendingDelivery: toIntent(row.pending_delivery),
          consecutiveFailures: row.consecutive_failures,
          lastFailure: toFailure(row.last_failure),
          lastSuccessAt: iso(row.last_success_at),
        };
        const bad = invalidInstants(result);
        if (bad.length > 0) {
          throw new StorageError(
            `PostgreSQL store (${description}) holds ${bad.length === 1 ? 'a time that is' : 'times that are'} not an instant: ${bad.join(', ')}. Nothing can be planned from it. Set it right in the schema ${schema}: the cursor with UPDATE ${q}.run_state SET cursor = '<the end of the last window you know was reported>' (or NULL to cover the last 24 hours next) WHERE account_id = ${a}; a pending delivery with UPDATE ${q}.run_state SET pending_delivery = NULL WHERE account_id = ${a}.`,
          );
        }
        return result;
      });
    },

    async beginDelivery(input: DeliveryIntent) {
      const intent = normaliseIntent(input);
      await transaction('record the delivery intent', 'BEGIN', async (client) => {
        await lockRunState(client);
        await client.query(`UPDATE ${q}.run_state SET pending_delivery = $1::jsonb, updated_at = now() WHERE account_id = ${a}`, [
          JSON.stringify(intent),
        ]);
      });
      checkpoint('store.intent.written');
    },

    async completeDelivery(input: DeliveredWindow, history?: HistoryContribution, tail?: DeliveryTail) {
      const d = normaliseDelivered(input);
      const contribution = history === undefined ? null : normaliseContribution(history);
      await transaction('record the delivered window', 'BEGIN', async (client) => {
        const row = await lockRunState(client);
        if (contribution !== null) {
          await mergeHistoryRows(client, q, contribution, now().toISOString(), a);
          checkpoint('store.history.written');
        }
        if (tail !== undefined) {
          await client.query(
            `INSERT INTO ${q}.delivery_tail (account_id, window_key, from_wall, to_wall, fingerprints) VALUES (${a}, $1, $2, $3, $4::jsonb)
             ON CONFLICT (account_id) DO UPDATE SET window_key = EXCLUDED.window_key, from_wall = EXCLUDED.from_wall,
               to_wall = EXCLUDED.to_wall, fingerprints = EXCLUDED.fingerprints`,
            [tail.windowKey, tail.from, tail.to, JSON.stringify(tail.fingerprints)],
          );
        }
        const cursor = nextCursor(iso(row.cursor), d);
        await client.query(
          `INSERT INTO ${q}.delivered_windows (account_id, key, start, "end", delivered_at, message_id, marker, summary, evidence_bundle, evidence_sha256)
           VALUES (${a}, $1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)
           ON CONFLICT (account_id, key) DO UPDATE SET start = EXCLUDED.start, "end" = EXCLUDED."end", delivered_at = EXCLUDED.delivered_at,
             message_id = EXCLUDED.message_id, marker = EXCLUDED.marker, summary = EXCLUDED.summary,
             evidence_bundle = EXCLUDED.evidence_bundle, evidence_sha256 = EXCLUDED.evidence_sha256`,
          [
            d.key,
            d.start,
            d.end,
            d.deliveredAt,
            d.messageId,
            d.marker,
            JSON.stringify(d.summary),
            d.evidence?.bundle ?? null,
            d.evidence?.contentSha256 ?? null,
          ],
        );
        await client.query(
          `UPDATE ${q}.run_state SET cursor = $1, consecutive_failures = 0, last_success_at = $2, updated_at = now(),
             pending_delivery = CASE WHEN pending_delivery ->> 'key' = $3 THEN NULL ELSE pending_delivery END
           WHERE account_id = ${a}`,
          [cursor, now().toISOString(), d.key],
        );
        checkpoint('store.delivery.uncommitted');
      });
      checkpoint('store.delivery.written');
    },

    async readTail() {
      return transaction('read the delivery tail', 'BEGIN READ ONLY', async (client) => {
        const r = await client.query<{ window_key: string; from_wall: string; to_wall: string; fingerprints: Record<string, number> }>(
          `SELECT window_key, from_wall, to_wall, fingerprints FROM ${q}.delivery_tail WHERE account_id = ${a}`,
        );
        const t = r.rows[0];
        return t ? { windowKey: t.window_key, from: t.from_wall, to: t.to_wall, fingerprints: t.fingerprints } : null;
      });
    },

    async repairCursor(expected: string | null, cursor: string | null) {
      const repaired = cursor === null ? null : canonicalInstant(cursor);
      if (cursor !== null && repaired === null)
        throw new StorageError(`Refusing to store cursor ${JSON.stringify(cursor)}: it is not an ISO-8601 instant`);
      return transaction('repair the cursor', 'BEGIN', async (client) => {
        const row = await lockRunState(client);
        if (iso(row.cursor) !== expected) return false;
        await client.query(`UPDATE ${q}.run_state SET cursor = $1, updated_at = now() WHERE account_id = ${a}`, [repaired]);
        return true;
      });
    },

    async abandonDelivery(key: string) {
      await transaction('clear the abandoned delivery intent', 'BEGIN', async (client) => {
        await lockRunState(client);
        await client.query(
          `UPDATE ${q}.run_state SET pending_delivery = NULL, updated_at = now() WHERE account_id = ${a} AND pending_delivery ->> 'key' = $1`,
          [key],
        );
      });
    },

    async readHistory() {
      return transaction('read the per-user history', 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', async (client) => {
        return readHistoryRows(client, q, a);
      });
    },

    async recordFailure(input: FailureRecord) {
      const failure = normaliseFailure(input);
      await transaction('record the failure', 'BEGIN', async (client) => {
        await lockRunState(client);
        await client.query(
          `UPDATE ${q}.run_state SET consecutive_failures = consecutive_failures + 1, last_failure = $1::jsonb, updated_at = now() WHERE account_id = ${a}`,
          [JSON.stringify(failure)],
        );
      });
    },

    tryLock(owner: string) {
      return takeRunLock({ owner, key: runLockKey, checkout, fail, logger, redact, held: runLocks });
    },

    async close() {
      if (closed) return;
      for (const handle of [...runLocks]) await handle.release();
      closed = true;
      await pool.end();
    },
  };
  return store;
}

function pgCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** FNV-1a 32-bit hash of the schema name, as a signed int4 for pg_try_advisory_lock(int, int). */
function fnv1a32(value: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(value)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}
