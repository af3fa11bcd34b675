/**
 * Stored times that are not instants are errors that name the store and the fix, in both stores: a cursor
 * "banana" in state.json, an 'infinity' cursor or a garbled pending delivery in PostgreSQL. Never "nothing
 * is due" forever.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../src/errors.js';
import { createFileStore } from '../src/store/file-store.js';
import { createPostgresStore } from '../src/store/postgres-store.js';
import { thisProcess } from './support/process-info.js';
import { randomSchemaName, startTestDatabase, type TestDatabase } from './support/postgres.js';

const NOW = new Date('2025-03-10T07:00:00.000Z');

function stateFile(overrides: Record<string, unknown>): string {
  return JSON.stringify({
    version: 1,
    cursor: '2025-03-09T07:00:00.000Z',
    delivered: [],
    pendingDelivery: null,
    consecutiveFailures: 0,
    lastFailure: null,
    lastSuccessAt: null,
    ...overrides,
  });
}

describe('files', () => {
  const cases: { name: string; state: Record<string, unknown>; names: RegExp }[] = [
    { name: 'a cursor that is not a time at all', state: { cursor: 'banana' }, names: /cursor "banana"/ },
    { name: 'a cursor Date.parse would read but that is no ISO instant', state: { cursor: 'March 7' }, names: /cursor "March 7"/ },
    {
      name: 'a pending delivery with a garbled start',
      state: {
        pendingDelivery: {
          key: 'k',
          start: 'banana',
          end: '2025-03-10T07:00:00.000Z',
          marker: 'm',
          startedAt: '2025-03-10T07:00:01.000Z',
          attempt: 1,
        },
      },
      names: /pendingDelivery\.start "banana"/,
    },
  ];
  for (const c of cases) {
    it(`${c.name} is a StorageError naming the file, the field and the fix`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'lpad-state-'));
      try {
        await writeFile(join(dir, 'state.json'), stateFile(c.state));
        const store = createFileStore({ dir, processInfo: thisProcess(), now: () => NOW });
        const error = await store.readState().then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(StorageError);
        const message = (error as Error).message;
        expect(message).toContain(join(dir, 'state.json'));
        expect(message).toMatch(c.names);
        expect(message).toContain('not an ISO-8601 instant');
        expect(message).toMatch(/or null to cover the last 24 hours/);
        await store.close();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('postgres', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await startTestDatabase();
  });
  afterAll(async () => {
    await db?.stop();
  });

  const cases: { name: string; sql: string; names: RegExp }[] = [
    { name: "an 'infinity' cursor", sql: `UPDATE run_state SET cursor = 'infinity' WHERE id = 1`, names: /cursor "Infinity"/ },
    {
      name: 'a pending delivery whose times are garbled',
      sql: `UPDATE run_state SET pending_delivery = '{"key":"k","start":"banana","end":"2025-03-10T07:00:00.000Z","marker":"m","attempt":1}'::jsonb WHERE id = 1`,
      names: /pendingDelivery\.start "banana", pendingDelivery\.startedAt ""/,
    },
  ];
  for (const c of cases) {
    it(`${c.name} is a StorageError naming the store and the SQL that fixes it`, async () => {
      const schema = randomSchemaName();
      const store = createPostgresStore({ connectionString: db.url, schema, now: () => NOW, maxConnections: db.maxConnections });
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        await store.init();
        await client.query('BEGIN');
        await client.query(`SET LOCAL search_path TO ${pg.escapeIdentifier(schema)}`);
        await client.query(c.sql);
        await client.query('COMMIT');
        const error = await store.readState().then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(StorageError);
        const message = (error as Error).message;
        expect(message).toMatch(/^PostgreSQL store \(/);
        expect(message).toMatch(c.names);
        expect(message).toContain('UPDATE');
      } finally {
        await client.end();
        await store.close();
        await db.dropSchema(schema);
      }
    });
  }
});
