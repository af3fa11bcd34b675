/**
 * The contract every Store implementation passes (files, PostgreSQL). Not a test file itself: the
 * implementation tests call `describeStoreContract` with a factory.
 *
 * The factory must:
 * - return a store on a FRESH, empty backing (temp dir, new schema) that is NOT initialised yet;
 * - construct every store (also those from `reopen`) with `now: () => CONTRACT_NOW`;
 * - `reopen()`: a new, not initialised, store instance on the same backing (a restart, or a second process);
 * - `cleanup()`: close every store it made (close is idempotent) and remove the backing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  emptyRunState,
  type DeliveredWindow,
  type DeliveryIntent,
  type FailureRecord,
  type Store,
} from '../src/store/store.js';

export const CONTRACT_NOW = new Date('2025-06-01T12:00:00.000Z');

export interface StoreFixture {
  store: Store;
  reopen: () => Promise<Store>;
  cleanup: () => Promise<void>;
}

export interface StoreContractOptions {
  /** When set, tests that need two independent lock sessions are skipped, printing this reason. */
  noLockExclusivity?: string;
}

const HOUR = 3_600_000;
const T0 = Date.parse('2025-05-01T00:00:00.000Z');

function at(hours: number): string {
  return new Date(T0 + hours * HOUR).toISOString();
}

function windowKey(startH: number, endH: number): string {
  return `${at(startH)}/${at(endH)}`;
}

function delivered(startH: number, endH: number, extra: Partial<DeliveredWindow> = {}): DeliveredWindow {
  return {
    key: windowKey(startH, endH),
    start: at(startH),
    end: at(endH),
    deliveredAt: new Date(T0 + endH * HOUR + 60_000).toISOString(),
    messageId: `msg-${startH}-${endH}`,
    marker: `marker-${startH}-${endH}`,
    summary: { eventsReviewed: 100 + endH, high: 1, medium: 2, low: 3, info: 4, byCategory: { 'admin-change': 2, login: 5 } },
    ...extra,
  };
}

function intent(startH: number, endH: number, attempt = 1): DeliveryIntent {
  return {
    key: windowKey(startH, endH),
    start: at(startH),
    end: at(endH),
    marker: `marker-${startH}-${endH}`,
    startedAt: new Date(T0 + endH * HOUR + 30_000).toISOString(),
    attempt,
  };
}

function failure(startH: number, endH: number, message: string): FailureRecord {
  return { key: windowKey(startH, endH), start: at(startH), end: at(endH), at: at(endH + 1), message };
}

export function describeStoreContract(
  name: string,
  makeStore: () => Promise<StoreFixture>,
  options: StoreContractOptions = {},
): void {
  describe(`Store contract: ${name}`, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeEach(async () => {
      fixture = await makeStore();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    async function second(): Promise<Store> {
      const other = await fixture.reopen();
      await other.init();
      return other;
    }

    it('starts empty and reports a schema version', async () => {
      await store.init();
      expect(await store.readState()).toEqual(emptyRunState());
      expect(await store.schemaVersion()).toBeGreaterThanOrEqual(1);
    });

    it('begin then complete records the window, clears the intent and moves the cursor from null', async () => {
      await store.init();
      await store.beginDelivery(intent(0, 24));
      expect((await store.readState()).pendingDelivery).toEqual(intent(0, 24));

      await store.completeDelivery(delivered(0, 24));
      expect(await store.readState()).toEqual({
        cursor: at(24),
        delivered: [delivered(0, 24)],
        pendingDelivery: null,
        consecutiveFailures: 0,
        lastFailure: null,
        lastSuccessAt: CONTRACT_NOW.toISOString(),
      });
    });

    it('beginDelivery replaces the pending intent', async () => {
      await store.init();
      await store.beginDelivery(intent(0, 24));
      await store.beginDelivery(intent(24, 48, 2));
      expect((await store.readState()).pendingDelivery).toEqual(intent(24, 48, 2));
    });

    it('completing a different key leaves the pending intent in place', async () => {
      await store.init();
      await store.beginDelivery(intent(24, 48));
      await store.completeDelivery(delivered(0, 24));
      const state = await store.readState();
      expect(state.pendingDelivery).toEqual(intent(24, 48));
      expect(state.cursor).toBe(at(24));
    });

    it('contiguous windows advance the cursor, a window after a gap does not', async () => {
      await store.init();
      await store.completeDelivery(delivered(0, 24));
      await store.completeDelivery(delivered(48, 72));
      expect((await store.readState()).cursor).toBe(at(24));

      await store.completeDelivery(delivered(24, 48));
      const state = await store.readState();
      expect(state.cursor).toBe(at(48));
      expect(state.delivered.map((d) => d.key)).toEqual([windowKey(0, 24), windowKey(24, 48), windowKey(48, 72)]);
    });

    it('the cursor never moves backwards', async () => {
      await store.init();
      await store.completeDelivery(delivered(0, 48));
      await store.completeDelivery(delivered(0, 24)); // entirely before the cursor
      await store.completeDelivery(delivered(24, 48)); // ends exactly at the cursor
      await store.completeDelivery(delivered(12, 36));
      expect((await store.readState()).cursor).toBe(at(48));

      await store.completeDelivery(delivered(40, 60)); // overlaps the cursor: advances
      const state = await store.readState();
      expect(state.cursor).toBe(at(60));
      expect(state.delivered).toHaveLength(5);
    });

    it('failures are counted, do not move the cursor, and a success resets the counter', async () => {
      await store.init();
      await store.completeDelivery(delivered(0, 24));
      await store.recordFailure(failure(24, 48, 'LastPass answered 503'));
      await store.recordFailure(failure(24, 48, 'SendGrid answered 500'));
      let state = await store.readState();
      expect(state.consecutiveFailures).toBe(2);
      expect(state.lastFailure).toEqual(failure(24, 48, 'SendGrid answered 500'));
      expect(state.cursor).toBe(at(24));

      await store.completeDelivery(delivered(24, 48));
      state = await store.readState();
      expect(state.consecutiveFailures).toBe(0);
      expect(state.cursor).toBe(at(48));
      expect(state.lastSuccessAt).toBe(CONTRACT_NOW.toISOString());

      await store.recordFailure(failure(48, 72, 'timeout'));
      expect((await store.readState()).consecutiveFailures).toBe(1);
    });

    it('re-delivering a window (--force) replaces its entry instead of duplicating it', async () => {
      await store.init();
      await store.completeDelivery(delivered(0, 24, { messageId: 'first' }));
      await store.completeDelivery(delivered(0, 24, { messageId: 'second', deliveredAt: at(30) }));
      const state = await store.readState();
      expect(state.delivered).toHaveLength(1);
      expect(state.delivered[0]?.messageId).toBe('second');
      expect(state.delivered[0]?.deliveredAt).toBe(at(30));
    });

    it('keeps the newest 400 delivered windows by end, newest last', async () => {
      await store.init();
      const total = 405;
      // A fixed permutation (7 is coprime with 405), so insertion order differs from end order.
      for (let n = 0; n < total; n += 1) {
        const day = (n * 7) % total;
        await store.completeDelivery(delivered(day * 24, day * 24 + 24));
      }
      const state = await store.readState();
      expect(state.delivered).toHaveLength(400);
      expect(state.delivered[0]?.key).toBe(windowKey(5 * 24, 6 * 24));
      expect(state.delivered.at(-1)?.key).toBe(windowKey(404 * 24, 405 * 24));
      const ends = state.delivered.map((d) => Date.parse(d.end));
      expect(ends).toEqual([...ends].sort((a, b) => a - b));
    });

    it('state survives reopening the store (a restart)', async () => {
      await store.init();
      await store.completeDelivery(delivered(0, 24));
      await store.completeDelivery(delivered(24, 48));
      await store.recordFailure(failure(48, 72, 'SendGrid answered 500'));
      await store.beginDelivery(intent(48, 72, 2));
      const before = await store.readState();
      await store.close();

      const reopened = await second();
      expect(await reopened.readState()).toEqual(before);
      expect(before.cursor).toBe(at(48));
      expect(before.consecutiveFailures).toBe(1);
    });

    it('a pending intent survives a crash between beginDelivery and completeDelivery', async () => {
      await store.init();
      await store.beginDelivery(intent(0, 24));
      // No close: the process died mid-send.
      const restarted = await second();
      expect((await restarted.readState()).pendingDelivery).toEqual(intent(0, 24));

      await restarted.completeDelivery(delivered(0, 24));
      const state = await restarted.readState();
      expect(state.pendingDelivery).toBeNull();
      expect(state.cursor).toBe(at(24));
    });

    it('20 concurrent completeDelivery calls from two instances all land', async () => {
      await store.init();
      const other = await second();
      const windows = Array.from({ length: 20 }, (_, i) => delivered(0, i + 1));
      await Promise.all(windows.map((w, i) => (i % 2 === 0 ? store : other).completeDelivery(w)));

      const state = await store.readState();
      expect(state.delivered.map((d) => d.key).sort()).toEqual(windows.map((w) => w.key).sort());
      // Every window starts at 0, so whatever the order, the cursor ends at the furthest end.
      expect(state.cursor).toBe(at(20));
      expect(await other.readState()).toEqual(state);
    });

    it('concurrent failures and intents from two instances lose no update', async () => {
      await store.init();
      const other = await second();
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 10; i += 1) {
        const target = i % 2 === 0 ? store : other;
        writes.push(target.recordFailure(failure(0, 24, `failure ${i}`)));
        writes.push(target.beginDelivery(intent(0, 24, i + 1)));
      }
      await Promise.all(writes);
      const state = await store.readState();
      expect(state.consecutiveFailures).toBe(10);
      expect(state.lastFailure?.message).toMatch(/^failure \d$/);
      expect(state.pendingDelivery?.key).toBe(windowKey(0, 24));
    });

    it('a lock can be taken, released, and taken again', async () => {
      await store.init();
      const first = await store.tryLock('run-1');
      expect(first).not.toBeNull();
      await first?.release();
      await first?.release(); // twice is harmless
      const again = await store.tryLock('run-2');
      expect(again).not.toBeNull();
      await again?.release();
    });

    if (options.noLockExclusivity) console.info(`[${name}] lock exclusivity tests skipped: ${options.noLockExclusivity}`);

    it.skipIf(options.noLockExclusivity !== undefined)('only one instance at a time holds the run lock', async () => {
      await store.init();
      const other = await second();
      const held = await store.tryLock('worker');
      expect(held).not.toBeNull();
      expect(await other.tryLock('cli run')).toBeNull();
      expect(await store.tryLock('same instance, second run')).toBeNull();

      await held?.release();
      const taken = await other.tryLock('cli run');
      expect(taken).not.toBeNull();
      expect(await store.tryLock('worker')).toBeNull();
      await taken?.release();
    });

    it.skipIf(options.noLockExclusivity !== undefined)('closing a store releases the lock it holds', async () => {
      await store.init();
      const other = await second();
      expect(await store.tryLock('worker')).not.toBeNull();
      expect(await other.tryLock('cli run')).toBeNull();
      await store.close();
      const taken = await other.tryLock('cli run');
      expect(taken).not.toBeNull();
      await taken?.release();
    });

    it('init is idempotent and keeps existing state', async () => {
      await store.init();
      const version = await store.schemaVersion();
      await store.completeDelivery(delivered(0, 24));
      await store.init();
      await store.init();
      expect(await store.schemaVersion()).toBe(version);
      expect((await store.readState()).delivered).toEqual([delivered(0, 24)]);
    });

    it('init is safe when two instances call it at once', async () => {
      const other = await fixture.reopen();
      await Promise.all([store.init(), other.init(), store.init(), other.init()]);
      expect(await other.schemaVersion()).toBe(await store.schemaVersion());
      await other.completeDelivery(delivered(0, 24));
      expect((await store.readState()).cursor).toBe(at(24));
    });
  });
}
