import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageError } from '../src/errors.js';
import { createStore } from '../src/store/create-store.js';
import { createFileStore, FILE_STORE_FORMAT_VERSION, type FileStoreOptions } from '../src/store/file-store.js';
import { GARBAGE_LOCK_MS } from '../src/store/lock-file.js';
import type { DeliveredWindow } from '../src/core/run-state.js';
import { CONTRACT_NOW, describeStoreContract } from './store-contract.js';
import type { ProcessInfo, Store } from '../src/ports.js';
import { thisProcess } from './support/process-info.js';
import { recordingLogger } from './support/recording-logger.js';

describeStoreContract('files', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lpad-file-store-'));
  const made: Store[] = [];
  const open = async () => {
    const store = createFileStore({ dir, now: () => CONTRACT_NOW, processInfo: thisProcess() });
    made.push(store);
    return store;
  };
  return {
    store: await open(),
    reopen: open,
    cleanup: async () => {
      for (const store of made) await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

const NOW = new Date('2025-06-01T12:00:00.000Z');
const HOST = 'digest-host';

function window(n: number): DeliveredWindow {
  const start = new Date(Date.UTC(2025, 4, 1 + n)).toISOString();
  const end = new Date(Date.UTC(2025, 4, 2 + n)).toISOString();
  return {
    key: `${start}/${end}`,
    start,
    end,
    deliveredAt: end,
    messageId: null,
    marker: `m-${n}`,
    summary: { eventsReviewed: 10, high: 0, medium: 0, low: 0, info: 0, byCategory: {} },
  };
}

describe('file store specifics', () => {
  let dir: string;
  const stores: Store[] = [];

  /** This process under the host name HOST, with `overrides`. */
  const proc = (overrides: Partial<ProcessInfo> = {}): ProcessInfo => thisProcess({ hostname: HOST, ...overrides });

  function make(extra: Partial<FileStoreOptions> = {}): Store {
    const store = createFileStore({ dir, now: () => NOW, processInfo: proc(), ...extra });
    stores.push(store);
    return store;
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lpad-file-store-'));
  });
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes state.json with a format version and no temp file behind', async () => {
    const store = make();
    await store.init();
    await store.completeDelivery(window(0));
    const file = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as Record<string, unknown>;
    expect(file.version).toBe(FILE_STORE_FORMAT_VERSION);
    expect(file.cursor).toBe(window(0).end);
    expect(await store.schemaVersion()).toBe(FILE_STORE_FORMAT_VERSION);
    expect((await readdir(dir)).sort()).toEqual(['state.json']);
  });

  it('a truncated state.json is a StorageError naming the file and the fix, never an empty state', async () => {
    const store = make();
    await store.init();
    await store.completeDelivery(window(0));
    const path = join(dir, 'state.json');
    const full = await readFile(path, 'utf8');
    const truncated = full.slice(0, Math.floor(full.length / 2));
    await writeFile(path, truncated);

    const error = await store.readState().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).message).toContain(path);
    expect((error as StorageError).message).toMatch(/move it aside/);
    await expect(store.init()).rejects.toBeInstanceOf(StorageError);
    // A write must not replace it with a fresh state either.
    await expect(store.completeDelivery(window(1))).rejects.toBeInstanceOf(StorageError);
    await expect(
      store.recordFailure({ key: 'k', start: NOW.toISOString(), end: NOW.toISOString(), at: NOW.toISOString(), message: 'x' }),
    ).rejects.toBeInstanceOf(StorageError);
    expect(await readFile(path, 'utf8')).toBe(truncated);
  });

  it('an empty state.json is a StorageError too', async () => {
    await writeFile(join(dir, 'state.json'), '');
    await expect(make().readState()).rejects.toThrow(/state\.json is empty/);
  });

  it('a state.json of the wrong shape is a StorageError that says what is wrong', async () => {
    await writeFile(
      join(dir, 'state.json'),
      JSON.stringify({
        version: 1,
        cursor: 5,
        delivered: [],
        pendingDelivery: null,
        consecutiveFailures: 0,
        lastFailure: null,
        lastSuccessAt: null,
      }),
    );
    await expect(make().readState()).rejects.toThrow(/malformed \(cursor is not a string or null\)/);
  });

  it('a state.json from a newer format version asks for an upgrade', async () => {
    await writeFile(join(dir, 'state.json'), JSON.stringify({ version: 99 }));
    await expect(make().readState()).rejects.toThrow(/newer lastpass-audit-digest.*upgrade/);
  });

  it('ignores a temp file left by a crash mid-write, and init tidies it away', async () => {
    const store = make();
    await store.completeDelivery(window(0));
    const leftover = join(dir, 'state.json.4242.0b6c1f.tmp');
    await writeFile(leftover, '{"version":1,"cursor":"2099-');

    expect((await store.readState()).cursor).toBe(window(0).end);
    await store.completeDelivery(window(1));
    expect((await store.readState()).cursor).toBe(window(1).end);

    await store.init();
    expect(await readdir(dir)).not.toContain('state.json.4242.0b6c1f.tmp');
  });

  describe('history.json', () => {
    const historyPath = () => join(dir, 'history.json');
    const statePath = () => join(dir, 'state.json');
    const contribution = (w: DeliveredWindow, vaultChanges: number) => ({
      windowKey: w.key,
      day: w.start.slice(0, 10),
      users: { alice: { ips: ['198.51.100.1'], vaultChanges } },
    });

    it('is its own file, written only by a completeDelivery that carries history', async () => {
      const store = make();
      await store.init();
      await store.completeDelivery(window(0));
      expect((await readdir(dir)).sort()).toEqual(['state.json']);

      await store.completeDelivery(window(1), contribution(window(1), 3));
      expect((await readdir(dir)).sort()).toEqual(['history.json', 'state.json']);
      const written = await readFile(historyPath(), 'utf8');
      expect(JSON.parse(written)).toMatchObject({ version: 1, appliedWindows: [window(1).key], days: ['2025-05-02'] });
      expect(await readFile(statePath(), 'utf8')).not.toContain('alice');

      await store.beginDelivery({
        key: 'k',
        start: NOW.toISOString(),
        end: NOW.toISOString(),
        marker: 'm',
        startedAt: NOW.toISOString(),
        attempt: 1,
      });
      await store.recordFailure({ key: 'k', start: NOW.toISOString(), end: NOW.toISOString(), at: NOW.toISOString(), message: 'x' });
      await store.abandonDelivery('k');
      await store.completeDelivery(window(2));
      expect(await readFile(historyPath(), 'utf8')).toBe(written);
    });

    it('a crash between the history write and the state write: the retry records the delivery without counting twice', async () => {
      const store = make();
      await store.init();
      await store.beginDelivery({
        key: window(0).key,
        start: window(0).start,
        end: window(0).end,
        marker: 'm-0',
        startedAt: NOW.toISOString(),
        attempt: 1,
      });
      const stateBefore = await readFile(statePath(), 'utf8');
      await store.completeDelivery(window(0), contribution(window(0), 3));
      // The process "died" after history.json was renamed into place but before state.json was.
      await writeFile(statePath(), stateBefore);

      const restarted = make();
      await restarted.init();
      const state = await restarted.readState();
      expect(state.pendingDelivery?.key).toBe(window(0).key);
      expect(state.delivered).toEqual([]);
      expect((await restarted.readHistory()).users.alice?.vaultChanges).toEqual({ '2025-05-01': 3 });

      await restarted.completeDelivery(window(0), contribution(window(0), 3));
      expect((await restarted.readState()).pendingDelivery).toBeNull();
      expect((await restarted.readState()).cursor).toBe(window(0).end);
      expect((await restarted.readHistory()).users.alice?.vaultChanges).toEqual({ '2025-05-01': 3 });
    });

    it('keeps at most 400 applied window keys in the file', async () => {
      const store = make();
      for (let n = 0; n < 402; n += 1) {
        await store.completeDelivery(window(0), { windowKey: `key-${n}`, day: '2025-05-01', users: {} });
      }
      const file = JSON.parse(await readFile(historyPath(), 'utf8')) as { appliedWindows: string[] };
      expect(file.appliedWindows).toHaveLength(400);
      expect(file.appliedWindows[0]).toBe('key-2');
      expect(file.appliedWindows.at(-1)).toBe('key-401');
    });

    it('a corrupt history.json is a StorageError naming the file, and is never overwritten', async () => {
      const store = make();
      await store.completeDelivery(window(0), contribution(window(0), 3));
      const truncated = (await readFile(historyPath(), 'utf8')).slice(0, 20);
      await writeFile(historyPath(), truncated);

      await expect(store.readHistory()).rejects.toThrow(/history\.json is not valid JSON.*move it aside/i);
      await expect(store.init()).rejects.toBeInstanceOf(StorageError);
      await expect(store.completeDelivery(window(1), contribution(window(1), 1))).rejects.toBeInstanceOf(StorageError);
      expect(await readFile(historyPath(), 'utf8')).toBe(truncated);
      expect((await store.readState()).delivered).toHaveLength(1); // the run state is unaffected
      await store.completeDelivery(window(1)); // and deliveries without history still work
    });

    it('a history.json of the wrong shape, or from a newer version, says so', async () => {
      await writeFile(historyPath(), JSON.stringify({ version: 1, appliedWindows: [], days: ['2025-13-01'], users: {} }));
      await expect(make().readHistory()).rejects.toThrow(/malformed \(days is not a list of YYYY-MM-DD days\)/);
      await writeFile(
        historyPath(),
        JSON.stringify({ version: 1, appliedWindows: [], days: [], users: { a: { ips: {}, vaultChanges: { '2025-05-01': -1 } } } }),
      );
      await expect(make().readHistory()).rejects.toThrow(/malformed/);
      await writeFile(historyPath(), JSON.stringify({ version: 7 }));
      await expect(make().readHistory()).rejects.toThrow(/newer lastpass-audit-digest.*upgrade/);
    });

    it('a user named "__proto__" is an ordinary user', async () => {
      const store = make();
      const users = JSON.parse('{"__proto__": {"ips": ["198.51.100.1"], "vaultChanges": 2}}') as Record<
        string,
        { ips: string[]; vaultChanges: number }
      >;
      await store.completeDelivery(window(0), { windowKey: window(0).key, day: '2025-05-01', users });
      const history = await make().readHistory();
      expect(Object.keys(history.users)).toEqual(['__proto__']);
      expect(Object.getPrototypeOf(history.users)).toBe(Object.prototype);
    });

    it('init tidies away a history temp file left by a crash', async () => {
      const store = make();
      await writeFile(join(dir, 'history.json.4242.0b6c1f.tmp'), '{"version":1,');
      await store.init();
      expect(await readdir(dir)).not.toContain('history.json.4242.0b6c1f.tmp');
    });
  });

  describe('run lock', () => {
    const lockPath = () => join(dir, 'run.lock');
    const writeLock = (content: Record<string, unknown>) => writeFile(lockPath(), `${JSON.stringify(content)}\n`);

    it('writes pid, hostname, owner and acquiredAt, and release removes it', async () => {
      const store = make({ processInfo: proc({ pid: 4242 }) });
      const lock = await store.tryLock('worker');
      expect(JSON.parse(await readFile(lockPath(), 'utf8'))).toMatchObject({
        pid: 4242,
        hostname: HOST,
        owner: 'worker',
        acquiredAt: NOW.toISOString(),
      });
      await lock?.release();
      await expect(stat(lockPath())).rejects.toThrow(/ENOENT/);
    });

    it('takes over the lock of a dead process on the same host', async () => {
      await writeLock({ pid: 999_001, hostname: HOST, owner: 'crashed run', acquiredAt: NOW.toISOString() });
      const store = make({ processInfo: proc({ isProcessAlive: (pid) => pid !== 999_001 }) });
      const lock = await store.tryLock('worker');
      expect(lock).not.toBeNull();
      expect(JSON.parse(await readFile(lockPath(), 'utf8'))).toMatchObject({ owner: 'worker', pid: process.pid });
      await lock?.release();
      expect((await readdir(dir)).filter((n) => n.startsWith('run.lock'))).toEqual([]);
    });

    it('does not take over the lock of a live process', async () => {
      const content = { pid: 999_002, hostname: HOST, owner: 'other run', acquiredAt: NOW.toISOString() };
      await writeLock(content);
      const store = make({ processInfo: proc({ isProcessAlive: () => true }) });
      expect(await store.tryLock('worker')).toBeNull();
      expect(JSON.parse(await readFile(lockPath(), 'utf8'))).toEqual(content);
    });

    it('with the real liveness check (kill(pid, 0)), our own live parent is not taken over', async () => {
      const real = thisProcess();
      await writeLock({ pid: process.ppid, hostname: real.hostname, owner: 'parent', acquiredAt: NOW.toISOString() });
      const store = createFileStore({ dir, now: () => NOW, processInfo: real });
      stores.push(store);
      expect(await store.tryLock('worker')).toBeNull();
    });

    it('does not judge the pid of another host, but takes over a lock older than staleLockMs', async () => {
      const old = new Date(NOW.getTime() - 2 * 60 * 60 * 1000).toISOString();
      await writeLock({ pid: 1, hostname: 'other-host', owner: 'elsewhere', acquiredAt: old });
      expect(
        await make({ processInfo: proc({ isProcessAlive: () => false }), staleLockMs: 3 * 60 * 60 * 1000 }).tryLock('worker'),
      ).toBeNull();
      const lock = await make({ processInfo: proc({ isProcessAlive: () => false }), staleLockMs: 60 * 60 * 1000 }).tryLock('worker');
      expect(lock).not.toBeNull();
      await lock?.release();
    });

    it('takes over a lock left by an earlier process that had our pid (containers reuse pids)', async () => {
      await writeLock({ pid: 1, hostname: HOST, owner: 'before restart', acquiredAt: NOW.toISOString(), token: 'old' });
      const lock = await make({ processInfo: proc({ pid: 1, isProcessAlive: () => true }) }).tryLock('worker');
      expect(lock).not.toBeNull();
      await lock?.release();
    });

    it('a half-written lock file (its owner is still writing it) is respected until stale', async () => {
      await writeFile(lockPath(), '');
      expect(await make({ now: () => new Date() }).tryLock('worker')).toBeNull();
    });

    it('a garbage run.lock is respected for 2 minutes by its mtime, then taken over with a warning (not after 6 h)', async () => {
      const logger = recordingLogger();
      for (const garbage of ['', '{"pid": 12', 'not json at all', '{"pid":0,"hostname":"x","acquiredAt":"y"}']) {
        await writeFile(lockPath(), garbage);
        const young = new Date(NOW.getTime() - 60 * 1000);
        await utimes(lockPath(), young, young);
        expect(await make({ logger }).tryLock('worker')).toBeNull();
        expect(await readFile(lockPath(), 'utf8')).toBe(garbage);
        const old = new Date(NOW.getTime() - GARBAGE_LOCK_MS - 1_000);
        await utimes(lockPath(), old, old);
        const lock = await make({ logger }).tryLock('worker');
        expect(lock).not.toBeNull();
        expect(JSON.parse(await readFile(lockPath(), 'utf8'))).toMatchObject({ owner: 'worker' });
        await lock?.release();
      }
      expect(logger.records().filter((r) => r.msg === 'store.lock_taken_over')).toEqual(
        Array.from({ length: 4 }, () =>
          expect.objectContaining({ level: 'warn', reason: 'its content is unreadable and it is older than 120000 ms' }),
        ),
      );
    });

    it('a live owner with a wrong acquiredAt in the future is still taken over once its file is older than staleLockMs', async () => {
      await writeLock({ pid: 1, hostname: 'other-host', owner: 'elsewhere', acquiredAt: '2099-01-01T00:00:00.000Z' });
      const old = new Date(NOW.getTime() - 2 * 60 * 60 * 1000);
      await utimes(lockPath(), old, old);
      expect(await make({ processInfo: proc({ isProcessAlive: () => true }), staleLockMs: 3 * 60 * 60 * 1000 }).tryLock('w')).toBeNull();
      const lock = await make({ processInfo: proc({ isProcessAlive: () => true }), staleLockMs: 60 * 60 * 1000 }).tryLock('w');
      expect(lock).not.toBeNull();
      await lock?.release();
    });

    it('release leaves alone a lock that someone else has taken over meanwhile', async () => {
      const store = make();
      const lock = await store.tryLock('worker');
      const theirs = `${JSON.stringify({ pid: 999_003, hostname: HOST, owner: 'taker', acquiredAt: NOW.toISOString() })}\n`;
      await writeFile(lockPath(), theirs);
      await lock?.release();
      expect(await readFile(lockPath(), 'utf8')).toBe(theirs);
    });

    it('createStore hands its logger to the file store: a lock taken over is logged', async () => {
      await writeLock({ pid: 999_009, hostname: HOST, owner: 'crashed run', acquiredAt: NOW.toISOString() });
      const logger = recordingLogger();
      const store = createStore({
        dataDir: dir,
        databaseUrl: null,
        logger,
        processInfo: proc({ isProcessAlive: (pid) => pid !== 999_009 }),
        now: () => NOW,
      });
      stores.push(store);
      expect(await store.tryLock('worker')).not.toBeNull();
      expect(logger.records()).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          msg: 'store.lock_taken_over',
          previousPid: 999_009,
          reason: 'its process 999009 is no longer running',
        }),
      );
    });

    it('two stores racing to take over the same dead lock: exactly one wins', async () => {
      await writeLock({ pid: 999_004, hostname: HOST, owner: 'crashed', acquiredAt: NOW.toISOString() });
      const dead = (pid: number) => pid !== 999_004;
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => make({ processInfo: proc({ isProcessAlive: dead }) }).tryLock(`racer-${i}`)),
      );
      expect(results.filter((r) => r !== null)).toHaveLength(1);
      expect((await readdir(dir)).filter((n) => n.startsWith('run.lock'))).toEqual(['run.lock']);
    });
  });

  describe('write lock', () => {
    const lockPath = () => join(dir, 'state.lock');

    it('waits for a live writer and gives up with a StorageError naming the lock (no real sleeping)', async () => {
      await writeFile(lockPath(), JSON.stringify({ pid: 999_005, hostname: HOST, owner: 'state-write', acquiredAt: NOW.toISOString() }));
      let slept = 0;
      const store = make({
        processInfo: proc({ isProcessAlive: () => true }),
        writeLockTimeoutMs: 1_000,
        sleep: async (ms) => {
          slept += ms;
        },
      });
      await expect(store.completeDelivery(window(0))).rejects.toThrow(/state\.lock, held by pid 999005 on digest-host.*delete/);
      expect(slept).toBeGreaterThanOrEqual(1_000);
      await expect(stat(join(dir, 'state.json'))).rejects.toThrow(/ENOENT/);
    });

    it('proceeds as soon as the other writer lets go', async () => {
      await writeFile(lockPath(), JSON.stringify({ pid: 999_006, hostname: HOST, owner: 'state-write', acquiredAt: NOW.toISOString() }));
      let waits = 0;
      const store = make({
        processInfo: proc({ isProcessAlive: () => true }),
        sleep: async () => {
          waits += 1;
          if (waits === 3) await rm(lockPath());
        },
      });
      await store.completeDelivery(window(0));
      expect(waits).toBe(3);
      expect((await store.readState()).delivered).toHaveLength(1);
    });

    it('breaks a write lock older than staleWriteLockMs, and one whose process is gone', async () => {
      const old = new Date(NOW.getTime() - 31_000).toISOString();
      await writeFile(lockPath(), JSON.stringify({ pid: 999_007, hostname: 'other-host', owner: 'state-write', acquiredAt: old }));
      const store = make({ processInfo: proc({ isProcessAlive: () => true }) });
      await store.completeDelivery(window(0));

      await writeFile(lockPath(), JSON.stringify({ pid: 999_008, hostname: HOST, owner: 'state-write', acquiredAt: NOW.toISOString() }));
      await make({ processInfo: proc({ isProcessAlive: (pid) => pid !== 999_008 }) }).completeDelivery(window(1));
      expect((await store.readState()).delivered).toHaveLength(2);
      await expect(stat(lockPath())).rejects.toThrow(/ENOENT/);
    });
  });
});
