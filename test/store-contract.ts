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
  HISTORY_APPLIED_WINDOWS_LIMIT,
  HISTORY_MAX_IPS_PER_USER,
  type DeliveredWindow,
  type DeliveryIntent,
  type FailureRecord,
  type HistoryContribution,
} from '../src/core/run-state.js';
import type { Store } from '../src/ports.js';

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
    summary: {
      eventsReviewed: 100 + endH,
      high: 1,
      medium: 2,
      low: 3,
      info: 4,
      byCategory: { 'admin-change': 2, login: 5 },
      // The digest's own verdict is kept with the delivery (a replica's roll-up reads it back).
      verdict: { level: 'attention', text: '2 findings (1 high) · 1 high-severity event', findings: 2 },
    },
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

/** The day `n` days after 2025-05-01, as YYYY-MM-DD. */
function day(n: number): string {
  return new Date(T0 + n * 24 * HOUR).toISOString().slice(0, 10);
}

function contribution(windowKeyValue: string, dayValue: string, users: HistoryContribution['users']): HistoryContribution {
  return { windowKey: windowKeyValue, day: dayValue, users };
}

/** Delivers the n-th daily window (a distinct window key per n) with a contribution for `dayValue`. */
async function deliverDay(store: Store, n: number, dayValue: string, users: HistoryContribution['users']): Promise<void> {
  const w = delivered(n * 24, n * 24 + 24);
  await store.completeDelivery(w, contribution(w.key, dayValue, users));
}

export function describeStoreContract(name: string, makeStore: () => Promise<StoreFixture>, options: StoreContractOptions = {}): void {
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

    it('keeps a "maybe sent" record on the pending intent across a restart (issue #13), and drops it when replaced without one', async () => {
      await store.init();
      const maybeSent = { at: '2025-03-10T07:00:31+00:00', reason: 'SendGrid did not answer in time after the message was sent.' };
      await store.beginDelivery({ ...intent(0, 24), maybeSent });
      const restarted = await second();
      expect((await restarted.readState()).pendingDelivery).toEqual({
        ...intent(0, 24),
        maybeSent: { at: '2025-03-10T07:00:31.000Z', reason: maybeSent.reason },
      });
      await restarted.beginDelivery(intent(0, 24, 2));
      expect((await restarted.readState()).pendingDelivery).toEqual(intent(0, 24, 2));
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

    it("keeps each delivered window's evidence bundle (label, content SHA-256) across restarts; a re-delivery replaces it", async () => {
      await store.init();
      const evidence = { bundle: '2025-05-01/20250501T000000Z-aaaa1111', contentSha256: 'a'.repeat(64) };
      await store.completeDelivery(delivered(0, 24, { evidence }));
      await store.completeDelivery(delivered(24, 48)); // no evidence (none configured, or it failed before sealing)
      await store.close();
      const reopened = await second();
      const [first, plain] = (await reopened.readState()).delivered;
      expect(first?.evidence).toEqual(evidence);
      expect(plain).not.toHaveProperty('evidence');
      const forced = { bundle: '2025-05-01/20250502T000000Z-bbbb2222', contentSha256: 'b'.repeat(64) };
      await reopened.completeDelivery(delivered(0, 24, { evidence: forced }));
      expect((await reopened.readState()).delivered.find((d) => d.key === windowKey(0, 24))?.evidence).toEqual(forced);
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

    it('repairCursor sets the cursor only while it is still the value read (compare and set)', async () => {
      await store.init();
      await store.completeDelivery(delivered(0, 24));
      expect(await store.repairCursor(at(48), at(12))).toBe(false);
      expect((await store.readState()).cursor).toBe(at(24));
      expect(await store.repairCursor(at(24), at(12))).toBe(true);
      expect((await store.readState()).cursor).toBe(at(12));
      expect(await store.repairCursor(at(12), null)).toBe(true);
      expect((await store.readState()).cursor).toBeNull();
      await expect(store.repairCursor(null, 'banana')).rejects.toThrow(/not an ISO-8601 instant/);
      // The delivered windows stay as they were.
      expect((await store.readState()).delivered).toEqual([delivered(0, 24)]);
    });

    it("abandonDelivery clears the pending intent only when it is that key's", async () => {
      await store.init();
      await store.abandonDelivery(windowKey(0, 24)); // nothing pending: harmless
      expect((await store.readState()).pendingDelivery).toBeNull();

      await store.completeDelivery(delivered(0, 24));
      await store.recordFailure(failure(24, 48, 'SendGrid answered 400'));
      await store.beginDelivery(intent(24, 48, 2));
      await store.abandonDelivery(windowKey(0, 24));
      const untouched = await store.readState();
      expect(untouched.pendingDelivery).toEqual(intent(24, 48, 2));

      await store.abandonDelivery(windowKey(24, 48));
      expect(await store.readState()).toEqual({ ...untouched, pendingDelivery: null });

      const restarted = await second();
      expect((await restarted.readState()).pendingDelivery).toBeNull();
    });

    it('keeps the tail of the newest delivered window, replaced by the next one with a tail, across restarts', async () => {
      await store.init();
      expect(await store.readTail()).toBeNull();
      const tail1 = {
        windowKey: windowKey(0, 24),
        from: '2025-03-09 01:45:00',
        to: '2025-03-09 01:59:59',
        fingerprints: { abc: 2, def: 1 },
      };
      await store.completeDelivery(delivered(0, 24), undefined, tail1);
      expect(await store.readTail()).toEqual(tail1);
      await store.completeDelivery(delivered(24, 48)); // no tail given: the previous one stays
      expect(await store.readTail()).toEqual(tail1);
      const tail2 = { windowKey: windowKey(48, 72), from: '2025-03-11 01:45:00', to: '2025-03-11 01:59:59', fingerprints: { ghi: 1 } };
      await store.completeDelivery(delivered(48, 72), undefined, tail2);
      const restarted = await second();
      expect(await restarted.readTail()).toEqual(tail2);
    });

    it('starts with an empty history', async () => {
      await store.init();
      expect(await store.readHistory()).toEqual({ users: {}, days: [] });
    });

    it('merges history: IP last day is the max, vault counts add up across windows of a day, once per window key', async () => {
      await store.init();
      await deliverDay(store, 0, day(0), {
        alice: { ips: ['198.51.100.1', '198.51.100.2', '198.51.100.1'], vaultChanges: 3 },
        bob: { ips: [], vaultChanges: 0 }, // nothing to add: not stored
        carol: { ips: [], vaultChanges: 4 },
      });
      await deliverDay(store, 1, day(1), { alice: { ips: ['198.51.100.1'], vaultChanges: 2 } });
      // A second, different window of the same day adds to that day's count.
      await store.completeDelivery(
        delivered(30, 36),
        contribution('split-window', day(1), { alice: { ips: ['203.0.113.7'], vaultChanges: 5 } }),
      );
      // A late window for an earlier day never moves an IP's last day backwards.
      await store.completeDelivery(
        delivered(-24, 0),
        contribution('late-window', day(-1), { alice: { ips: ['198.51.100.1'], vaultChanges: 1 } }),
      );

      const expected = {
        users: {
          alice: {
            ips: { '198.51.100.1': day(1), '198.51.100.2': day(0), '203.0.113.7': day(1) },
            vaultChanges: { [day(-1)]: 1, [day(0)]: 3, [day(1)]: 7 },
          },
          carol: { ips: {}, vaultChanges: { [day(0)]: 4 } },
        },
        days: [day(-1), day(0), day(1)],
      };
      expect(await store.readHistory()).toEqual(expected);

      // --force re-sends of the same window keys: recorded again, history not counted twice.
      await deliverDay(store, 1, day(1), { alice: { ips: ['198.51.100.9'], vaultChanges: 2 } });
      await store.completeDelivery(delivered(30, 36), contribution('split-window', day(1), { alice: { ips: [], vaultChanges: 5 } }));
      expect(await store.readHistory()).toEqual(expected);
      expect((await store.readState()).delivered.map((d) => d.key)).toContain(windowKey(24, 48));
    });

    it('completeDelivery without history leaves the history alone', async () => {
      await store.init();
      await deliverDay(store, 0, day(0), { alice: { ips: ['198.51.100.1'], vaultChanges: 3 } });
      const before = await store.readHistory();
      await store.completeDelivery(delivered(24, 48));
      await store.completeDelivery(delivered(0, 24)); // the same key again, without history
      expect(await store.readHistory()).toEqual(before);
      expect((await store.readState()).cursor).toBe(at(48));
    });

    it('history and the delivery record land together, and history survives a restart', async () => {
      await store.init();
      await store.beginDelivery(intent(0, 24));
      await deliverDay(store, 0, day(0), { alice: { ips: ['198.51.100.1'], vaultChanges: 3 } });
      await deliverDay(store, 1, day(1), { bob: { ips: ['2001:db8::1'], vaultChanges: 0 } });
      const state = await store.readState();
      expect(state.pendingDelivery).toBeNull();
      expect(state.cursor).toBe(at(48));
      const before = await store.readHistory();
      await store.close();

      const reopened = await second();
      expect(await reopened.readHistory()).toEqual(before);
      expect(before).toEqual({
        users: {
          alice: { ips: { '198.51.100.1': day(0) }, vaultChanges: { [day(0)]: 3 } },
          bob: { ips: { '2001:db8::1': day(1) }, vaultChanges: {} },
        },
        days: [day(0), day(1)],
      });
      // After the restart, the applied keys are still known.
      await deliverDay(reopened, 0, day(0), { alice: { ips: [], vaultChanges: 3 } });
      expect(await reopened.readHistory()).toEqual(before);
    });

    it('retention: days older than 60 days before the newest go, with their IPs, counts and emptied users', async () => {
      await store.init();
      await deliverDay(store, 0, day(0), {
        old: { ips: ['192.0.2.1'], vaultChanges: 9 },
        mixed: { ips: ['192.0.2.2', '192.0.2.3'], vaultChanges: 1 },
      });
      await deliverDay(store, 1, day(1), { mixed: { ips: ['192.0.2.3'], vaultChanges: 2 }, edge: { ips: ['192.0.2.4'], vaultChanges: 0 } });
      await deliverDay(store, 61, day(61), { fresh: { ips: ['192.0.2.9'], vaultChanges: 1 } });

      // day(61) is the newest: day(1) is exactly 60 days before it and stays; day(0) is older and goes.
      expect(await store.readHistory()).toEqual({
        users: {
          mixed: { ips: { '192.0.2.3': day(1) }, vaultChanges: { [day(1)]: 2 } },
          edge: { ips: { '192.0.2.4': day(1) }, vaultChanges: {} },
          fresh: { ips: { '192.0.2.9': day(61) }, vaultChanges: { [day(61)]: 1 } },
        },
        days: [day(1), day(61)],
      });

      // A late window for a day already outside the retention adds nothing.
      await store.completeDelivery(delivered(-24, 0), contribution('too-old', day(-1), { late: { ips: ['192.0.2.5'], vaultChanges: 4 } }));
      expect(Object.keys((await store.readHistory()).users).sort()).toEqual(['edge', 'fresh', 'mixed']);
      expect((await store.readHistory()).days).toEqual([day(1), day(61)]);
    });

    it(`keeps at most ${HISTORY_MAX_IPS_PER_USER} IPs per user, the most recently seen`, async () => {
      await store.init();
      const older = Array.from({ length: 30 }, (_, i) => `10.0.1.${i}`);
      const newer = Array.from({ length: 30 }, (_, i) => `10.0.2.${i}`);
      await deliverDay(store, 0, day(0), { dave: { ips: older, vaultChanges: 0 } });
      await deliverDay(store, 1, day(1), { dave: { ips: newer, vaultChanges: 0 } });
      let ips = (await store.readHistory()).users.dave?.ips ?? {};
      expect(Object.keys(ips)).toHaveLength(HISTORY_MAX_IPS_PER_USER);
      for (const ip of newer) expect(ips[ip]).toBe(day(1));
      // Ties (the same last day) keep the first IPs in code-unit order.
      expect(
        Object.keys(ips)
          .filter((ip) => ips[ip] === day(0))
          .sort(),
      ).toEqual([...older].sort().slice(0, 20));

      // Seeing an old IP again makes it recent; and one contribution with more than the bound is capped too.
      const burst = Array.from({ length: 60 }, (_, i) => `10.0.3.${String(i).padStart(2, '0')}`);
      await deliverDay(store, 2, day(2), {
        dave: { ips: [...burst.slice(0, 49), older[29] as string], vaultChanges: 0 },
        erin: { ips: burst, vaultChanges: 0 },
      });
      const history = await store.readHistory();
      ips = history.users.dave?.ips ?? {};
      expect(Object.keys(ips).sort()).toEqual([...burst.slice(0, 49), older[29] as string].sort());
      expect(Object.keys(history.users.erin?.ips ?? {}).sort()).toEqual(burst.slice(0, 50));
    });

    it(`remembers the newest ${HISTORY_APPLIED_WINDOWS_LIMIT} applied window keys`, async () => {
      await store.init();
      for (let n = 0; n <= HISTORY_APPLIED_WINDOWS_LIMIT; n += 1) {
        await store.completeDelivery(delivered(0, 1), contribution(`key-${n}`, day(0), { frank: { ips: [], vaultChanges: 1 } }));
      }
      const count = async () => (await store.readHistory()).users.frank?.vaultChanges[day(0)];
      expect(await count()).toBe(HISTORY_APPLIED_WINDOWS_LIMIT + 1);
      // key-1 is the oldest of the newest 400: still known, so a re-delivery adds nothing.
      await store.completeDelivery(delivered(0, 1), contribution('key-1', day(0), { frank: { ips: [], vaultChanges: 1 } }));
      await store.completeDelivery(
        delivered(0, 1),
        contribution(`key-${HISTORY_APPLIED_WINDOWS_LIMIT}`, day(0), { frank: { ips: [], vaultChanges: 1 } }),
      );
      expect(await count()).toBe(HISTORY_APPLIED_WINDOWS_LIMIT + 1);
    });

    it('concurrent deliveries with history from two instances all count', async () => {
      await store.init();
      const other = await second();
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 === 0 ? store : other).completeDelivery(
            delivered(0, i + 1),
            contribution(windowKey(0, i + 1), day(0), { gina: { ips: [`198.51.100.${i}`], vaultChanges: 1 } }),
          ),
        ),
      );
      const history = await other.readHistory();
      expect(history.users.gina?.vaultChanges).toEqual({ [day(0)]: 10 });
      expect(Object.keys(history.users.gina?.ips ?? {})).toHaveLength(10);
      expect((await store.readState()).delivered).toHaveLength(10);
    });

    it('a contribution of 20,000 users lands whole', async () => {
      await store.init();
      const users: HistoryContribution['users'] = {};
      for (let i = 0; i < 20_000; i += 1) {
        users[`user${String(i).padStart(5, '0')}@example.com`] = {
          ips: [`10.${i % 256}.${Math.floor(i / 256) % 256}.1`, '203.0.113.1'],
          vaultChanges: i % 3,
        };
      }
      await deliverDay(store, 0, day(0), users);
      await deliverDay(store, 1, day(1), users);
      const history = await store.readHistory();
      const entries = Object.entries(history.users);
      expect(entries).toHaveLength(20_000);
      expect(entries.reduce((n, [, u]) => n + Object.keys(u.ips).length, 0)).toBe(40_000);
      expect(entries.reduce((n, [, u]) => n + Object.values(u.vaultChanges).reduce((a, b) => a + b, 0), 0)).toBe(2 * 19_999);
      expect(history.users['user00005@example.com']).toEqual({
        ips: { '10.5.0.1': day(1), '203.0.113.1': day(1) },
        vaultChanges: { [day(0)]: 2, [day(1)]: 2 },
      });
      expect(history.days).toEqual([day(0), day(1)]);
    });

    it('rejects a contribution whose day is not YYYY-MM-DD, changing nothing', async () => {
      await store.init();
      await expect(store.completeDelivery(delivered(0, 24), contribution('bad', '2025-02-30', {}))).rejects.toThrow(/YYYY-MM-DD/);
      await expect(
        store.completeDelivery(delivered(0, 24), contribution('bad', day(0), { x: { ips: [], vaultChanges: -1 } })),
      ).rejects.toThrow(/not a count/);
      expect(await store.readState()).toEqual(emptyRunState());
      expect(await store.readHistory()).toEqual({ users: {}, days: [] });
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
