/**
 * The store as files under DATA_DIR:
 * - `state.json`: the run state, `{ version, ...RunState }`, replaced atomically (adapters/fs/atomic-file.ts:
 *   temp file in the same directory, fsync, rename, fsync of the directory). A file that cannot be read
 *   back is an error, never an empty state. Encoded and decoded by state-codec.ts.
 * - `history.json`: the per-user history for the detections, `{ version, appliedWindows, days, users }`,
 *   replaced the same way, and only by a completeDelivery that carries history (it can be a few MB, so the
 *   other state changes never rewrite it). See completeDelivery for how it stays atomic with state.json.
 * - `tail.json`: the tail fingerprints of the newest delivered window, replaced the same way.
 * - `state.lock`: a short-lived write lock (lock-file.ts) around every read-modify-write, so two processes
 *   (or two store instances) never lose each other's updates; stale after `staleWriteLockMs`.
 * - `run.lock`: the "one run at a time" lock (lock-file.ts), taken over when its owner is dead on this
 *   host or it is older than `staleLockMs`.
 */
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../adapters/fs/atomic-file.js';
import { errorCode } from '../adapters/fs/error-code.js';
import { StorageError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import {
  boundDelivered,
  emptyHistory,
  emptyRunState,
  HISTORY_APPLIED_WINDOWS_LIMIT,
  canonicalInstant,
  mergeHistory,
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
import type { Clock, LockHandle, ProcessInfo, Sleep, Store } from '../ports.js';
import { fsError } from './fs-error.js';
import { createLockFiles, type HeldLock } from './lock-file.js';
import {
  decodeHistoryFile,
  decodeStateFile,
  decodeTailFile,
  encodeHistoryFile,
  encodeStateFile,
  encodeTailFile,
  FILE_STORE_FORMAT_VERSION,
  type HistoryFile,
} from './state-codec.js';

export { FILE_STORE_FORMAT_VERSION, HISTORY_FORMAT_VERSION } from './state-codec.js';

export const STATE_FILE = 'state.json';
export const HISTORY_FILE = 'history.json';
export const TAIL_FILE = 'tail.json';
export const STATE_LOCK_FILE = 'state.lock';
export const RUN_LOCK_FILE = 'run.lock';

const DEFAULT_STALE_RUN_LOCK_MS = 6 * 60 * 60 * 1000;
const DEFAULT_STALE_WRITE_LOCK_MS = 30_000;
const DEFAULT_WRITE_LOCK_TIMEOUT_MS = 60_000;

export interface FileStoreOptions {
  dir: string;
  /** Whose locks this store takes, and whether another process on this host still runs (main.ts hands in the real one). */
  processInfo: ProcessInfo;
  now: Clock;
  /** A run.lock older than this is taken over whoever holds it (default 6 h). */
  staleLockMs?: number;
  /** A state.lock older than this is broken (default 30 s). */
  staleWriteLockMs?: number;
  /** Give up (StorageError) after sleeping this long in total waiting for state.lock (default 60 s). */
  writeLockTimeoutMs?: number;
  sleep?: Sleep;
  logger?: Logger;
  /**
   * Fault injection for the crash tests (the CLI passes LAD_CRASH_AT's): called at named points of the
   * writes: `store.write_lock.held`, `store.<state|history>.tmp_written` (temp file synced, not renamed),
   * `store.<state|history>.renamed` (renamed, directory not synced), `store.<state|history>.written`,
   * `store.intent.written` (beginDelivery done), `store.delivery.written` (completeDelivery done).
   */
  checkpoint?: ((name: string) => void) | undefined;
}

export function createFileStore(options: FileStoreOptions): Store {
  const dir = options.dir;
  const now = options.now;
  const staleRunLockMs = options.staleLockMs ?? DEFAULT_STALE_RUN_LOCK_MS;
  const staleWriteLockMs = options.staleWriteLockMs ?? DEFAULT_STALE_WRITE_LOCK_MS;
  const writeLockTimeoutMs = options.writeLockTimeoutMs ?? DEFAULT_WRITE_LOCK_TIMEOUT_MS;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const logger = options.logger ?? silentLogger;
  const checkpoint = options.checkpoint ?? (() => undefined);
  const locks = createLockFiles({ processInfo: options.processInfo, now, logger });

  const statePath = join(dir, STATE_FILE);
  const historyPath = join(dir, HISTORY_FILE);
  const writeLockPath = join(dir, STATE_LOCK_FILE);
  const runLockPath = join(dir, RUN_LOCK_FILE);
  const runLocks = new Set<LockHandle>();

  // ---- state file -------------------------------------------------------------------------------

  async function readStateFile(): Promise<{ formatVersion: number; state: RunState }> {
    let raw: string;
    try {
      raw = await readFile(statePath, 'utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return { formatVersion: FILE_STORE_FORMAT_VERSION, state: emptyRunState() };
      throw fsError('read', statePath, error);
    }
    return decodeStateFile(raw, statePath);
  }

  async function writeStateFile(state: RunState, lock: HeldLock): Promise<void> {
    await replaceFile(STATE_FILE, encodeStateFile(state), lock);
  }

  async function readHistoryFile(): Promise<HistoryFile> {
    let raw: string;
    try {
      raw = await readFile(historyPath, 'utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return { appliedWindows: [], history: emptyHistory() };
      throw fsError('read', historyPath, error);
    }
    return decodeHistoryFile(raw, historyPath);
  }

  async function writeHistoryFile(file: HistoryFile, lock: HeldLock): Promise<void> {
    await replaceFile(HISTORY_FILE, encodeHistoryFile(file), lock);
  }

  /** Atomically replaces `<dir>/<name>` (adapters/fs/atomic-file.ts), unless our write lock was lost meanwhile. */
  async function replaceFile(name: string, body: string, lock: HeldLock): Promise<void> {
    const target = join(dir, name);
    const what = name === HISTORY_FILE ? 'history' : 'state';
    await writeFileAtomic(target, body, {
      mode: 0o600,
      beforeRename: async () => {
        // Our write lock may have been broken as stale while we were stuck; never overwrite a newer write.
        if (!(await locks.holds(lock))) {
          throw new StorageError(
            `Lost the write lock ${writeLockPath} (held longer than ${staleWriteLockMs} ms); the update was not written: retry`,
          );
        }
        checkpoint(`store.${what}.tmp_written`);
      },
      afterRename: () => checkpoint(`store.${what}.renamed`),
      mapError: (error, step) =>
        error instanceof StorageError ? error : step === 'write' ? fsError('write', target, error) : fsError('sync', dir, error),
    });
    checkpoint(`store.${what}.written`);
  }

  async function withWriteLock<T>(task: (lock: HeldLock) => Promise<T>): Promise<T> {
    await ensureDir();
    let waited = 0;
    for (;;) {
      const attempt = await locks.acquire(writeLockPath, 'state-write', staleWriteLockMs);
      if (attempt.held) {
        const lock = attempt.held;
        try {
          checkpoint('store.write_lock.held');
          return await task(lock);
        } finally {
          await locks.release(lock);
        }
      }
      if (waited >= writeLockTimeoutMs) {
        const who = attempt.holder
          ? `pid ${attempt.holder.pid} on ${attempt.holder.hostname} since ${attempt.holder.acquiredAt}`
          : 'an unknown process';
        throw new StorageError(
          `Gave up after waiting ${waited} ms for the write lock ${writeLockPath}, held by ${who}. If no other lastpass-audit-digest process uses ${dir}, delete ${writeLockPath} and retry`,
        );
      }
      const delay = 2 + Math.floor(Math.random() * 10);
      await sleep(delay);
      waited += delay;
    }
  }

  // ---- serialised read-modify-write -------------------------------------------------------------

  let chain: Promise<void> = Promise.resolve();
  function serialise<T>(task: () => Promise<T>): Promise<T> {
    const run = chain.then(task, task);
    chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  function mutate(change: (state: RunState) => RunState): Promise<void> {
    return serialise(() =>
      withWriteLock(async (lock) => {
        const { state } = await readStateFile();
        await writeStateFile(change(state), lock);
      }),
    );
  }

  async function ensureDir(): Promise<void> {
    try {
      await mkdir(dir, { recursive: true });
    } catch (error) {
      throw fsError('create the data directory', dir, error);
    }
  }

  return {
    kind: 'files',
    description: `files in ${dir}`,

    async init() {
      await ensureDir();
      await readStateFile(); // a corrupt state file fails `check` and start-up, loudly
      await readHistoryFile(); // and so does a corrupt history file
      // Temp files left by a crash mid-write: nobody writes one without the write lock, so holding it they
      // are all leftovers. They are ignored anyway; this only tidies up.
      await serialise(() =>
        withWriteLock(async () => {
          let names: string[];
          try {
            names = await readdir(dir);
          } catch (error) {
            throw fsError('list', dir, error);
          }
          for (const name of names) {
            if (
              (name.startsWith(`${STATE_FILE}.`) || name.startsWith(`${HISTORY_FILE}.`) || name.startsWith(`${TAIL_FILE}.`)) &&
              name.endsWith('.tmp')
            ) {
              await unlink(join(dir, name)).catch(() => undefined);
              logger.info('store.temp_file_removed', { file: join(dir, name) });
            }
          }
        }),
      );
    },

    async schemaVersion() {
      return (await readStateFile()).formatVersion;
    },

    async readState() {
      return (await readStateFile()).state;
    },

    async beginDelivery(intent: DeliveryIntent) {
      const pending = normaliseIntent(intent);
      await mutate((state) => ({ ...state, pendingDelivery: pending }));
      checkpoint('store.intent.written');
    },

    /**
     * Two files, one atomic step. Under the write lock: history.json is replaced first (with the window key
     * added to its `appliedWindows`), then state.json. history.json alone decides whether a window's history
     * was applied. So a crash (or a lost write lock) between the two renames leaves the history applied and
     * the delivery unrecorded: the pending intent is still there, the run is retried, and the retried
     * completeDelivery finds the key in `appliedWindows` and only writes state.json, so nothing is counted
     * twice. The reverse order could record the delivery and lose its history for good. The only effect of
     * the crash is history for a window whose delivery is not recorded yet, which is true history anyway
     * (the events happened). Readers never take the lock: each file is replaced by rename, so a reader sees
     * either version of each, and readHistory may run one step ahead of readState, never behind.
     */
    async completeDelivery(input: DeliveredWindow, history?: HistoryContribution, tail?: DeliveryTail) {
      const delivered = normaliseDelivered(input);
      const contribution = history === undefined ? null : normaliseContribution(history);
      await serialise(() =>
        withWriteLock(async (lock) => {
          const { state } = await readStateFile(); // first: a corrupt state.json stops us before history is touched
          // The tail, like the history, is written before the delivery record: a crash in between leaves
          // the window pending, and its repair writes the same tail again.
          if (tail !== undefined) await replaceFile(TAIL_FILE, encodeTailFile(tail), lock);
          if (contribution !== null) {
            const current = await readHistoryFile();
            if (!current.appliedWindows.includes(contribution.windowKey)) {
              await writeHistoryFile(
                {
                  appliedWindows: [...current.appliedWindows, contribution.windowKey].slice(-HISTORY_APPLIED_WINDOWS_LIMIT),
                  history: mergeHistory(current.history, contribution),
                },
                lock,
              );
            }
          }
          await writeStateFile(
            {
              cursor: nextCursor(state.cursor, delivered),
              delivered: boundDelivered([...state.delivered.filter((d) => d.key !== delivered.key), delivered]),
              pendingDelivery: state.pendingDelivery?.key === delivered.key ? null : state.pendingDelivery,
              consecutiveFailures: 0,
              lastFailure: state.lastFailure,
              lastSuccessAt: now().toISOString(),
            },
            lock,
          );
        }),
      );
      checkpoint('store.delivery.written');
    },

    async repairCursor(expected: string | null, cursor: string | null) {
      const repaired = cursor === null ? null : canonicalInstant(cursor);
      if (cursor !== null && repaired === null)
        throw new StorageError(`Refusing to store cursor ${JSON.stringify(cursor)}: it is not an ISO-8601 instant`);
      let done = false;
      await mutate((state) => {
        if (state.cursor !== expected) return state;
        done = true;
        return { ...state, cursor: repaired };
      });
      return done;
    },

    async abandonDelivery(key: string) {
      await mutate((state) => (state.pendingDelivery?.key === key ? { ...state, pendingDelivery: null } : state));
    },

    async readHistory() {
      return (await readHistoryFile()).history;
    },

    async readTail() {
      let raw: string;
      try {
        raw = await readFile(join(dir, TAIL_FILE), 'utf8');
      } catch (error) {
        if (errorCode(error) === 'ENOENT') return null;
        throw fsError('read', join(dir, TAIL_FILE), error);
      }
      const tail = decodeTailFile(raw);
      // The tail only serves late-arrival detection: a damaged one is dropped, never fatal.
      if (tail === null) logger.warn('store.tail_unreadable', { file: join(dir, TAIL_FILE) });
      return tail;
    },

    async recordFailure(input: FailureRecord) {
      const failure = normaliseFailure(input);
      await mutate((state) => ({
        ...state,
        consecutiveFailures: state.consecutiveFailures + 1,
        lastFailure: failure,
      }));
    },

    async tryLock(owner: string) {
      await ensureDir();
      const attempt = await locks.acquire(runLockPath, owner, staleRunLockMs);
      if (!attempt.held) return null;
      const lock = attempt.held;
      let released = false;
      const handle: LockHandle = {
        async release() {
          if (released) return;
          released = true;
          runLocks.delete(handle);
          await locks.release(lock);
        },
      };
      runLocks.add(handle);
      return handle;
    },

    async close() {
      for (const handle of [...runLocks]) await handle.release();
      await chain;
    },
  };
}
