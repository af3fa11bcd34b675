/**
 * A PostgreSQL server for the store tests.
 *
 * - `TEST_DATABASE_URL` set: that server (dev and CI machines run one, e.g.
 *   postgresql://postgres@127.0.0.1:5432/test; as root, postgresql://root@127.0.0.1:5432/test).
 * - Not set: an in-memory PGlite (PostgreSQL compiled to WASM) served over the wire protocol by
 *   `@electric-sql/pglite-socket` on 127.0.0.1 and a free port, and `pg` connects to it as to any server.
 *   Nothing is ever skipped silently for want of a server.
 *
 * PGlite limitations (pglite 0.5 / pglite-socket 0.2), which is why a few tests run only on a real server:
 * - PGlite is ONE database session. The socket server accepts several connections (`maxConnections`) but
 *   multiplexes them onto that one session: statements are queued one at a time, and while a transaction
 *   is open only the connection that opened it is served. So transactions are serialised (good enough for
 *   the concurrency tests: updates are still not lost), but:
 * - every connection sees the same backend (same `pg_backend_pid()`), so a session-level advisory lock
 *   taken on one connection is re-entrant from every other: lock exclusivity between two stores cannot be
 *   observed. Those tests are `skipIf(!db.separateSessions)` with a console note.
 * - session settings (SET, search_path) leak between connections; the store only uses SET LOCAL inside
 *   transactions and schema-qualified names, and sends parameterised statements only inside transactions.
 */
import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import pg from 'pg';

export interface TestDatabase {
  /** Connection string to hand to createPostgresStore. */
  url: string;
  kind: 'server' | 'pglite';
  /** False on PGlite: every connection is the same session (see above). */
  separateSessions: boolean;
  /** Pool size to use per store (kept small: many stores share the server in a test run). */
  maxConnections: number;
  /** Drops a schema and everything in it. */
  dropSchema(schema: string): Promise<void>;
  stop(): Promise<void>;
}

/** Reads TEST_DATABASE_URL (the only place the tests look at the environment). */
export function testDatabaseUrl(): string | null {
  const url = process.env.TEST_DATABASE_URL;
  return url && url.trim() !== '' ? url.trim() : null;
}

export async function startTestDatabase(): Promise<TestDatabase> {
  const url = testDatabaseUrl();
  if (url) {
    const admin = new pg.Pool({ connectionString: url, max: 2 });
    try {
      await admin.query('SELECT 1');
    } catch (error) {
      await admin.end();
      throw new Error(
        `TEST_DATABASE_URL is set but the server cannot be reached (${error instanceof Error ? error.message : String(error)}); unset it to use the embedded PGlite`,
      );
    }
    return {
      url,
      kind: 'server',
      separateSessions: true,
      maxConnections: 5,
      dropSchema: async (schema) => {
        await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
      },
      stop: () => admin.end(),
    };
  }

  const db = await PGlite.create();
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 64 });
  await server.start();
  const pgliteUrl = `postgresql://postgres@${server.getServerConn()}/postgres?sslmode=disable`;
  // Through the wire server too, so the drop queues behind (never inside) a store's open transaction.
  const admin = new pg.Pool({ connectionString: pgliteUrl, max: 1 });
  return {
    url: pgliteUrl,
    kind: 'pglite',
    separateSessions: false,
    maxConnections: 4,
    dropSchema: async (schema) => {
      await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
    },
    stop: async () => {
      await admin.end();
      await server.stop();
      await db.close();
    },
  };
}

/** A fresh schema name per test, so tests never see each other's state. */
export function randomSchemaName(prefix = 'lpad_test'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}
