import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../src/errors.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../src/store/postgres-migrations.js';
import { createPostgresStore, describeTarget } from '../src/store/postgres-store.js';
import { CONTRACT_NOW, describeStoreContract } from './store-contract.js';
import { randomSchemaName, startTestDatabase, testDatabaseUrl, type TestDatabase } from './support/postgres.js';
import type { Store } from '../src/ports.js';
import { recordingLogger } from './support/recording-logger.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await startTestDatabase();
  console.info(
    `[postgres-store] running against ${db.kind === 'pglite' ? 'embedded PGlite (TEST_DATABASE_URL unset)' : 'TEST_DATABASE_URL'}`,
  );
});
afterAll(async () => {
  await db?.stop();
});

/** Whether the file is collected with TEST_DATABASE_URL set decides which server tests will get. */
const onPglite = testDatabaseUrl() === null;

function makeFactory(schema: string) {
  const made: Store[] = [];
  const open = async () => {
    const store = createPostgresStore({
      connectionString: db.url,
      schema,
      now: () => CONTRACT_NOW,
      maxConnections: db.maxConnections,
    });
    made.push(store);
    return store;
  };
  const cleanup = async () => {
    for (const store of made) await store.close();
    await db.dropSchema(schema);
  };
  return { open, cleanup };
}

describeStoreContract(
  'postgres',
  async () => {
    const { open, cleanup } = makeFactory(randomSchemaName());
    return { store: await open(), reopen: open, cleanup };
  },
  onPglite
    ? {
        noLockExclusivity:
          'PGlite multiplexes every connection onto one database session, so a session-level advisory lock is re-entrant from every connection; run with TEST_DATABASE_URL to cover it',
      }
    : {},
);

describe('postgres store specifics', () => {
  it('two processes initialising a fresh schema at once record each migration exactly once', async () => {
    const schema = randomSchemaName();
    const { open, cleanup } = makeFactory(schema);
    try {
      const stores = await Promise.all([open(), open(), open(), open()]);
      await Promise.all(stores.map((s) => s.init()));
      await Promise.all(stores.map((s) => s.init()));

      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const rows = await client.query<{ version: number; n: string }>(
          `SELECT version, count(*) AS n FROM ${pg.escapeIdentifier(schema)}.schema_migrations GROUP BY version ORDER BY version`,
        );
        expect(rows.rows.map((r) => [r.version, Number(r.n)])).toEqual(MIGRATIONS.map((m) => [m.version, 1]));
        const runState = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${pg.escapeIdentifier(schema)}.run_state`);
        expect(Number(runState.rows[0]?.n)).toBe(1);
      } finally {
        await client.end();
      }
      for (const s of stores) expect(await s.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
    } finally {
      await cleanup();
    }
  });

  it('upgrades a version-1 schema in place: state kept, history tables added', async () => {
    const schema = randomSchemaName();
    const { open, cleanup } = makeFactory(schema);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const first = MIGRATIONS.find((m) => m.version === 1);
      await client.query('BEGIN');
      await client.query(`CREATE SCHEMA ${pg.escapeIdentifier(schema)}`);
      await client.query(`SET LOCAL search_path TO ${pg.escapeIdentifier(schema)}`);
      await client.query(
        'CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      await client.query(first?.sql ?? '');
      await client.query(`INSERT INTO schema_migrations (version, name) VALUES (1, 'run state and delivered windows')`);
      await client.query(`UPDATE run_state SET cursor = '2025-05-02T00:00:00Z' WHERE id = 1`);
      await client.query('COMMIT');

      const store = await open();
      expect(await store.schemaVersion()).toBe(1);
      await store.init();
      expect(await store.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
      expect((await store.readState()).cursor).toBe('2025-05-02T00:00:00.000Z');
      expect(await store.readHistory()).toEqual({ users: {}, days: [] });
    } finally {
      await client.end();
      await cleanup();
    }
  });

  it('reports schema version 0 before init, and a clear StorageError when used uninitialised', async () => {
    const { open, cleanup } = makeFactory(randomSchemaName());
    try {
      const store = await open();
      expect(await store.schemaVersion()).toBe(0);
      await expect(store.readState()).rejects.toBeInstanceOf(StorageError);
      await expect(store.readState()).rejects.toThrow(/not set up.*check/);
    } finally {
      await cleanup();
    }
  });

  it('refuses a schema whose migrations are newer than this build', async () => {
    const schema = randomSchemaName();
    const { open, cleanup } = makeFactory(schema);
    try {
      const store = await open();
      await store.init();
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      await client.query(`INSERT INTO ${pg.escapeIdentifier(schema)}.schema_migrations (version, name) VALUES (9999, 'from the future')`);
      await client.end();
      await expect(store.init()).rejects.toThrow(/schema version 9999.*upgrade/);
    } finally {
      await cleanup();
    }
  });

  it('describes the target without user or password', () => {
    const store = createPostgresStore({
      connectionString: 'postgresql://digest:s3cret-pw@db.example.com:6543/audit?sslmode=require',
      now: () => CONTRACT_NOW,
    });
    expect(store.description).toBe('postgres db.example.com:6543/audit (schema lastpass_audit_digest)');
    expect(store.description).not.toContain('s3cret');
    expect(describeTarget('not a url')).toBe('(unparseable DATABASE_URL)');
    return store.close();
  });

  it('a connection failure is a StorageError that does not leak the password', async () => {
    const store = createPostgresStore({
      connectionString: 'postgresql://digest:s3cret-pw@127.0.0.1:1/audit?sslmode=disable',
      connectionTimeoutMillis: 2_000,
      now: () => CONTRACT_NOW,
    });
    try {
      const error = await store.readState().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StorageError);
      expect((error as Error).message).toMatch(/unreachable; check DATABASE_URL/);
      expect((error as Error).message).not.toContain('s3cret');
    } finally {
      await store.close();
    }
  });

  it('rejects a schema name that is not a plain identifier', () => {
    expect(() => createPostgresStore({ connectionString: db.url, schema: 'x"; drop table y; --', now: () => CONTRACT_NOW })).toThrow(
      StorageError,
    );
  });

  it('rejects a pool too small to hold the run lock and still work', () => {
    expect(() => createPostgresStore({ connectionString: db.url, maxConnections: 1, now: () => CONTRACT_NOW })).toThrow(/at least 2/);
  });

  it.skipIf(onPglite)(
    'the run lock: a live owner is never displaced (logged with who holds it); a dead owner (its session gone) frees it at once',
    async () => {
      const schema = randomSchemaName();
      const logger = recordingLogger();
      const open = () =>
        createPostgresStore({ connectionString: db.url, schema, now: () => CONTRACT_NOW, maxConnections: db.maxConnections, logger });
      const owner = open();
      const other = open();
      const admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      try {
        await owner.init();
        const held = await owner.tryLock('owner');
        expect(held).not.toBeNull();
        expect(await other.tryLock('other')).toBeNull();
        const busy = logger.records().find((r) => r.msg === 'store.run_lock_busy');
        expect(busy).toMatchObject({ level: 'warn', owner: 'other', holderApplication: 'lastpass-audit-digest' });
        const holderPid = busy?.holderPid as number;
        // The owner dies: its session ends (as when its process exits or the server drops its connection).
        await admin.query('SELECT pg_terminate_backend($1, 5000)', [holderPid]);
        const taken = await other.tryLock('other');
        expect(taken).not.toBeNull();
        await taken?.release();
        await held?.release();
      } finally {
        await admin.end();
        await owner.close();
        await other.close();
        await db.dropSchema(schema);
      }
    },
  );

  it('stores on different schemas do not share the run lock', async () => {
    const a = makeFactory(randomSchemaName());
    const b = makeFactory(randomSchemaName());
    try {
      const storeA = await a.open();
      const storeB = await b.open();
      const lockA = await storeA.tryLock('a');
      const lockB = await storeB.tryLock('b');
      expect(lockA).not.toBeNull();
      expect(lockB).not.toBeNull();
      await lockA?.release();
      await lockB?.release();
    } finally {
      await a.cleanup();
      await b.cleanup();
    }
  });
});
