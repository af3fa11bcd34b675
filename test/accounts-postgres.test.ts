/**
 * Per-account state isolation on PostgreSQL (migration 6, account_id on every table): two stores on one
 * schema, accounts "acme" and "beta", each see only their own run state, delivered windows, history, tail
 * and evidence chain; the default account keeps its rows. On TEST_DATABASE_URL's server, else PGlite.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresEvidenceBackend } from '../src/evidence/postgres-evidence-backend.js';
import { createPostgresStore } from '../src/store/postgres-store.js';
import type { DeliveredWindow } from '../src/core/run-state.js';
import { startTestDatabase, type TestDatabase } from './support/postgres.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await startTestDatabase();
}, 60_000);
afterAll(async () => {
  await db?.stop();
});

const window: DeliveredWindow = {
  key: '20250501T000000Z_20250502T000000Z',
  start: '2025-05-01T00:00:00.000Z',
  end: '2025-05-02T00:00:00.000Z',
  deliveredAt: '2025-05-02T00:01:00.000Z',
  messageId: 'msg-1',
  marker: 'marker-1',
  summary: { eventsReviewed: 10, high: 1, medium: 0, low: 0, info: 0, byCategory: {} },
};

describe('PostgreSQL: every account its own rows', () => {
  it('state, history, tail and evidence of one account are invisible to another', async () => {
    const schema = `lpad_accounts_${randomUUID().slice(0, 8)}`;
    const open = (accountId?: string) =>
      createPostgresStore({
        connectionString: db.url,
        schema,
        maxConnections: db.maxConnections,
        now: () => new Date('2025-05-02T00:02:00Z'),
        ...(accountId ? { accountId } : {}),
      });
    const acme = open('acme');
    const beta = open('beta');
    const base = open();
    try {
      await acme.init();
      await beta.init();
      await base.init();
      await acme.beginDelivery({
        key: window.key,
        start: window.start,
        end: window.end,
        marker: 'marker-1',
        startedAt: window.deliveredAt,
        attempt: 1,
      });
      await acme.completeDelivery(
        window,
        { windowKey: window.key, day: '2025-05-01', users: { alice: { ips: ['203.0.113.5'], vaultChanges: 3 } } },
        { windowKey: window.key, from: '2025-04-30 19:45:00', to: '2025-04-30 20:00:00', fingerprints: { abc: 1 } },
      );
      await beta.recordFailure({ key: window.key, start: window.start, end: window.end, at: window.deliveredAt, message: 'beta failed' });

      const a = await acme.readState();
      const b = await beta.readState();
      const d = await base.readState();
      expect(a.delivered.map((w) => w.key)).toEqual([window.key]);
      expect(a.cursor).toBe(window.end);
      expect(a.consecutiveFailures).toBe(0);
      expect(b.delivered).toEqual([]);
      expect(b.cursor).toBeNull();
      expect(b.consecutiveFailures).toBe(1);
      expect(d.delivered).toEqual([]);
      expect(d.consecutiveFailures).toBe(0);
      expect(Object.keys((await acme.readHistory()).users)).toContain('alice');
      expect(JSON.stringify(await beta.readHistory())).not.toContain('alice');
      expect(await acme.readTail()).not.toBeNull();
      expect(await beta.readTail()).toBeNull();
      // The same window key may be delivered by both accounts.
      await beta.completeDelivery(window);
      expect((await beta.readState()).delivered).toHaveLength(1);
      expect((await acme.readState()).delivered).toHaveLength(1);

      // Evidence: one chain per account.
      const ea = createPostgresEvidenceBackend({ connectionString: db.url, schema, accountId: 'acme', maxConnections: 2 });
      const eb = createPostgresEvidenceBackend({ connectionString: db.url, schema, accountId: 'beta', maxConnections: 2 });
      try {
        const staged = await ea.stage(`run-${randomUUID()}`, '2025-05-01', '2025-05-02T00:00:00.000Z');
        await staged.commit({ seq: 1, manifest: Buffer.from('{}'), signature: null, manifestSha256: 'a'.repeat(64), prevSha256: null });
        expect((await ea.head()).head?.seq).toBe(1);
        expect((await eb.head()).head).toBeNull();
        expect(await eb.list()).toEqual([]);
        // beta's chain starts at seq 1 too.
        const stagedB = await eb.stage(`run-${randomUUID()}`, '2025-05-01', '2025-05-02T00:00:00.000Z');
        await stagedB.commit({ seq: 1, manifest: Buffer.from('{}'), signature: null, manifestSha256: 'b'.repeat(64), prevSha256: null });
        expect((await eb.head()).head?.manifestSha256).toBe('b'.repeat(64));
      } finally {
        await ea.close();
        await eb.close();
      }
    } finally {
      await acme.close();
      await beta.close();
      await base.close();
      await db.dropSchema(schema);
    }
  }, 60_000);
});
