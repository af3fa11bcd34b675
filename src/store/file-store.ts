/**
 * The store as files under DATA_DIR:
 * - `state.json`: the run state, `{ version, ...RunState }`, replaced atomically (temp file in
 *   the same directory, fsync, rename, fsync of the directory). A file that cannot be read back is an
 *   error, never an empty state.
 * - `history.json`: the per-user history for the detections, `{ version, appliedWindows, days, users }`,
 *   replaced the same way, and only by a completeDelivery that carries history (it can be a few MB, so the
 *   other state changes never rewrite it). See completeDelivery for how it stays atomic with state.json.
 * - `state.lock`: a short-lived write lock (O_EXCL) around every read-modify-write, so two processes
 *   (or two store instances) never lose each other's updates; stale after `staleWriteLockMs`.
 * - `run.lock`: the "one run at a time" lock, `{ pid, hostname, owner, acquiredAt, token }`, taken over
 *   when its owner is dead on this host or it is older than `staleLockMs`.
 * - `<lock>.break`: exists for milliseconds while one process removes a stale lock (see breakStaleLock).
 * Locks are judged by host: a different host's pid cannot be checked, so only age frees its lock (in a
 * container whose hostname changes on restart, that means `staleLockMs`).
 */
import { randomUUID } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../adapters/fs/atomic-file.js';
import { describeError, StorageError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import {
  compareDelivered,
  DELIVERED_HISTORY_LIMIT,
  emptyHistory,
  emptyRunState,
  HISTORY_APPLIED_WINDOWS_LIMIT,
  isHistoryDay,
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
  type HistorySnapshot,
  type RunState,
} from '../core/run-state.js';
import type { LockHandle, Store } from '../ports.js';

/** The format of state.json this build writes (and the newest it reads). */
export const FILE_STORE_FORMAT_VERSION = 1;

export const STATE_FILE = 'state.json';
export const HISTORY_FILE = 'history.json';
export const TAIL_FILE = 'tail.json';
/** The format of history.json this build writes (and the newest it reads). */
export const HISTORY_FORMAT_VERSION = 1;
export const STATE_LOCK_FILE = 'state.lock';
export const RUN_LOCK_FILE = 'run.lock';

const DEFAULT_STALE_RUN_LOCK_MS = 6 * 60 * 60 * 1000;
const DEFAULT_STALE_WRITE_LOCK_MS = 30_000;
const DEFAULT_WRITE_LOCK_TIMEOUT_MS = 60_000;
/** A `<lock>.break` file lives for milliseconds; one this old was left by a process that died breaking. */
const BREAKER_STALE_MS = 10_000;

export interface FileStoreOptions {
  dir: string;
  now?: () => Date;
  /** A run.lock older than this is taken over whoever holds it (default 6 h). */
  staleLockMs?: number;
  /** A state.lock older than this is broken (default 30 s). */
  staleWriteLockMs?: number;
  /** Give up (StorageError) after sleeping this long in total waiting for state.lock (default 60 s). */
  writeLockTimeoutMs?: number;
  hostname?: string;
  pid?: number;
  /** Default: `process.kill(pid, 0)`; ESRCH means dead, EPERM means alive (someone else's). */
  isProcessAlive?: (pid: number) => boolean;
  sleep?: (ms: number) => Promise<void>;
  logger?: Logger;
  /**
   * Fault injection for the crash tests (the CLI passes LAD_CRASH_AT's): called at named points of the
   * writes: `store.write_lock.held`, `store.<state|history>.tmp_written` (temp file synced, not renamed),
   * `store.<state|history>.renamed` (renamed, directory not synced), `store.<state|history>.written`,
   * `store.intent.written` (beginDelivery done), `store.delivery.written` (completeDelivery done).
   */
  checkpoint?: ((name: string) => void) | undefined;
}

/** What a lock file holds. `token` tells our own locks from a previous process that had the same pid. */
interface LockContent {
  pid: number;
  hostname: string;
  owner: string;
  acquiredAt: string;
  token: string | null;
}

interface SeenLock {
  raw: string;
  content: LockContent | null;
  mtimeMs: number;
}

interface HeldLock {
  file: string;
  raw: string;
  content: LockContent;
}

type LockAttempt = { held: HeldLock; holder?: undefined } | { held?: undefined; holder: LockContent | null };

/**
 * Tokens of the locks held in this process. A lock file with our pid and host whose token is not here was
 * left by an earlier process that had the same pid (pid 1 in a container, say): its owner is gone.
 */
const heldTokens = new Set<string>();

export function createFileStore(options: FileStoreOptions): Store {
  const dir = options.dir;
  const now = options.now ?? (() => new Date());
  const staleRunLockMs = options.staleLockMs ?? DEFAULT_STALE_RUN_LOCK_MS;
  const staleWriteLockMs = options.staleWriteLockMs ?? DEFAULT_STALE_WRITE_LOCK_MS;
  const writeLockTimeoutMs = options.writeLockTimeoutMs ?? DEFAULT_WRITE_LOCK_TIMEOUT_MS;
  const host = options.hostname ?? osHostname();
  const pid = options.pid ?? process.pid;
  const isProcessAlive = options.isProcessAlive ?? defaultIsProcessAlive;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const logger = options.logger ?? silentLogger;
  const checkpoint = options.checkpoint ?? (() => undefined);

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
    await replaceFile(STATE_FILE, `${JSON.stringify({ version: FILE_STORE_FORMAT_VERSION, ...state }, null, 2)}\n`, lock);
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
    // Compact: with 100k users this is a few MB.
    const body = `${JSON.stringify({ version: HISTORY_FORMAT_VERSION, appliedWindows: file.appliedWindows, ...file.history })}\n`;
    await replaceFile(HISTORY_FILE, body, lock);
  }

  /** Atomically replaces `<dir>/<name>` (adapters/fs/atomic-file.ts), unless our write lock was lost meanwhile. */
  async function replaceFile(name: string, body: string, lock: HeldLock): Promise<void> {
    const target = join(dir, name);
    const what = name === HISTORY_FILE ? 'history' : 'state';
    await writeFileAtomic(target, body, {
      mode: 0o600,
      beforeRename: async () => {
        // Our write lock may have been broken as stale while we were stuck; never overwrite a newer write.
        if (!(await stillHolds(lock))) {
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

  // ---- lock files -------------------------------------------------------------------------------

  function staleness(seen: SeenLock, staleMs: number): string | null {
    const at = now().getTime();
    const content = seen.content;
    if (content === null) {
      // Being written right now (O_EXCL create, then write), or garbage: only its age can tell.
      return at - seen.mtimeMs > staleMs ? `unreadable and older than ${staleMs} ms` : null;
    }
    if (content.hostname === host) {
      if (content.pid === pid) {
        if (content.token === null || !heldTokens.has(content.token)) return 'left by an earlier process with the same pid';
      } else if (!isProcessAlive(content.pid)) {
        return `its process ${content.pid} is no longer running`;
      }
    }
    const acquired = Date.parse(content.acquiredAt);
    const age = at - (Number.isFinite(acquired) ? acquired : seen.mtimeMs);
    return age > staleMs ? `older than ${staleMs} ms` : null;
  }

  /**
   * Removes a stale lock so that the caller can retry the O_EXCL create. Breakers are serialised by a
   * second O_EXCL file (`<lock>.break`, held for a few milliseconds): the one holding it looks at the lock
   * again and removes it only if it is still stale, so a fresh lock created by a faster racer is never
   * touched, and of several processes racing to take over a dead lock exactly one wins. (The one window
   * left: the stale owner, if still alive, releasing and someone re-creating the lock between that
   * second look and the unlink, a few microseconds after the owner outlived `staleMs`.)
   */
  async function breakStaleLock(file: string, staleMs: number): Promise<'broken' | 'busy' | 'live'> {
    const breakerPath = `${file}.break`;
    const breaker: LockContent = { pid, hostname: host, owner: 'lock-breaker', acquiredAt: now().toISOString(), token: randomUUID() };
    const breakerRaw = `${JSON.stringify(breaker)}\n`;
    const token = breaker.token as string;
    heldTokens.add(token);
    try {
      if (!(await createExclusive(breakerPath, breakerRaw))) {
        const other = await inspectLock(breakerPath);
        if (other === null) return 'broken'; // it just finished: look again
        if (staleness(other, BREAKER_STALE_MS) === null) return 'busy'; // someone else is taking over
        await unlinkIfUnchanged(breakerPath, other.raw); // a breaker that died mid-way
        return 'broken';
      }
      try {
        const seen = await inspectLock(file);
        if (seen === null) return 'broken';
        const reason = staleness(seen, staleMs);
        if (reason === null) return 'live';
        await unlinkIfUnchanged(file, seen.raw);
        logger.warn('store.lock_taken_over', {
          file,
          reason,
          previousOwner: seen.content?.owner ?? null,
          previousPid: seen.content?.pid ?? null,
          previousHost: seen.content?.hostname ?? null,
        });
        return 'broken';
      } finally {
        await unlinkIfUnchanged(breakerPath, breakerRaw);
      }
    } finally {
      heldTokens.delete(token);
    }
  }

  async function attemptLock(file: string, owner: string, staleMs: number): Promise<LockAttempt> {
    let holder: LockContent | null = null;
    for (let round = 0; round < 5; round += 1) {
      const content: LockContent = { pid, hostname: host, owner, acquiredAt: now().toISOString(), token: randomUUID() };
      const raw = `${JSON.stringify(content)}\n`;
      const token = content.token as string;
      heldTokens.add(token); // before the file exists: a sibling instance must never see it as abandoned
      if (await createExclusive(file, raw)) return { held: { file, raw, content } };
      heldTokens.delete(token);
      const seen = await inspectLock(file);
      if (seen === null) continue;
      holder = seen.content;
      if (staleness(seen, staleMs) === null) return { holder };
      if ((await breakStaleLock(file, staleMs)) !== 'broken') return { holder };
    }
    return { holder };
  }

  async function stillHolds(lock: HeldLock): Promise<boolean> {
    try {
      return (await readFile(lock.file, 'utf8')) === lock.raw;
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return false;
      throw fsError('read', lock.file, error);
    }
  }

  /** Removes the lock file only if it still holds our content. */
  async function releaseLockFile(lock: HeldLock): Promise<void> {
    try {
      if (!(await unlinkIfUnchanged(lock.file, lock.raw))) logger.warn('store.lock_lost', { file: lock.file, owner: lock.content.owner });
    } finally {
      if (lock.content.token !== null) heldTokens.delete(lock.content.token);
    }
  }

  async function withWriteLock<T>(task: (lock: HeldLock) => Promise<T>): Promise<T> {
    await ensureDir();
    let waited = 0;
    for (;;) {
      const attempt = await attemptLock(writeLockPath, 'state-write', staleWriteLockMs);
      if (attempt.held) {
        const lock = attempt.held;
        try {
          checkpoint('store.write_lock.held');
          return await task(lock);
        } finally {
          await releaseLockFile(lock);
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
          if (tail !== undefined) await replaceFile(TAIL_FILE, `${JSON.stringify({ version: 1, ...tail })}\n`, lock);
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
      try {
        const t = JSON.parse(raw) as Partial<DeliveryTail>;
        if (
          typeof t.windowKey !== 'string' ||
          typeof t.from !== 'string' ||
          typeof t.to !== 'string' ||
          typeof t.fingerprints !== 'object' ||
          t.fingerprints === null
        ) {
          throw new Error('missing fields');
        }
        return { windowKey: t.windowKey, from: t.from, to: t.to, fingerprints: t.fingerprints };
      } catch {
        // The tail only serves late-arrival detection: a damaged one is dropped, never fatal.
        logger.warn('store.tail_unreadable', { file: join(dir, TAIL_FILE) });
        return null;
      }
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
      const attempt = await attemptLock(runLockPath, owner, staleRunLockMs);
      if (!attempt.held) return null;
      const lock = attempt.held;
      let released = false;
      const handle: LockHandle = {
        async release() {
          if (released) return;
          released = true;
          runLocks.delete(handle);
          await releaseLockFile(lock);
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

function boundDelivered(list: DeliveredWindow[]): DeliveredWindow[] {
  const sorted = [...list].sort(compareDelivered);
  return sorted.length > DELIVERED_HISTORY_LIMIT ? sorted.slice(sorted.length - DELIVERED_HISTORY_LIMIT) : sorted;
}

async function createExclusive(file: string, raw: string): Promise<boolean> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'wx', 0o644);
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw fsError('create', file, error);
  }
  try {
    await handle.writeFile(raw, 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(file).catch(() => undefined);
    throw fsError('write', file, error);
  }
  await handle.close();
  return true;
}

/** Removes a file only if it still holds `raw` (a lock we looked at, or our own). */
async function unlinkIfUnchanged(file: string, raw: string): Promise<boolean> {
  try {
    if ((await readFile(file, 'utf8')) !== raw) return false;
    await unlink(file);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw fsError('remove', file, error);
  }
}

async function inspectLock(file: string): Promise<SeenLock | null> {
  try {
    const [raw, info] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    return { raw, content: parseLockContent(raw), mtimeMs: info.mtimeMs };
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw fsError('read', file, error);
  }
}

function parseLockContent(raw: string): LockContent | null {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isRecord(value)) return null;
  const { pid, hostname, owner, acquiredAt, token } = value;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || typeof hostname !== 'string' || typeof acquiredAt !== 'string') {
    return null;
  }
  return {
    pid,
    hostname,
    acquiredAt,
    owner: typeof owner === 'string' ? owner : '',
    token: typeof token === 'string' ? token : null,
  };
}

function defaultIsProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

function fsError(action: string, path: string, error: unknown): StorageError {
  const code = errorCode(error);
  const hint =
    code === 'EACCES' || code === 'EPERM'
      ? ': check that the process may read and write DATA_DIR'
      : code === 'ENOSPC'
        ? ': the disk is full'
        : code === 'EROFS'
          ? ': the file system is read-only; point DATA_DIR at a writable directory or set DATABASE_URL'
          : '';
  return new StorageError(`Could not ${action} ${path} (${describeError(error)})${hint}`);
}

// ---- decoding state.json ------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class Invalid extends Error {}

function at(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

/**
 * Parses a versioned JSON file of this store and checks its format version; every failure is a
 * StorageError that names the file and says what to do (`fix`). Returns the top-level record.
 */
function decodeVersioned(
  raw: string,
  file: string,
  what: 'state' | 'history',
  maxVersion: number,
  fix: string,
): Record<string, unknown> & { version: number } {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    const how = raw.trim() === '' ? 'is empty' : `is not valid JSON (${describeError(error)})`;
    throw new StorageError(`The ${what} file ${file} ${how}; it may have been cut short by a crash or edited by hand. ${fix}`);
  }
  if (!isRecord(value) || typeof value.version !== 'number' || !Number.isInteger(value.version)) {
    throw new StorageError(`The ${what} file ${file} has no format version: it is not a lastpass-audit-digest ${what} file. ${fix}`);
  }
  if (value.version > maxVersion) {
    throw new StorageError(
      `The ${what} file ${file} has format version ${value.version}, written by a newer lastpass-audit-digest (this one reads up to ${maxVersion}): upgrade this installation`,
    );
  }
  return value as Record<string, unknown> & { version: number };
}

function decodeStateFile(raw: string, file: string): { formatVersion: number; state: RunState } {
  const fix = `Run state is never reset automatically: restore ${file} from a backup, or move it aside (for example to ${file}.bad) to start from an empty state, after which the next run covers the default window again`;
  const value = decodeVersioned(raw, file, 'state', FILE_STORE_FORMAT_VERSION, fix);
  try {
    const state = decodeRunState(value);
    return { formatVersion: value.version, state: { ...state, delivered: boundDelivered(state.delivered) } };
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    throw new StorageError(`The state file ${file} is malformed (${error.message}). ${fix}`);
  }
}

function field(record: Record<string, unknown>, name: string, path: string): unknown {
  if (!(name in record)) throw new Invalid(`${at(path, name)} is missing`);
  return record[name];
}

function str(record: Record<string, unknown>, name: string, path: string): string {
  const v = field(record, name, path);
  if (typeof v !== 'string') throw new Invalid(`${at(path, name)} is not a string`);
  return v;
}

function strOrNull(record: Record<string, unknown>, name: string, path: string): string | null {
  const v = field(record, name, path);
  if (v !== null && typeof v !== 'string') throw new Invalid(`${at(path, name)} is not a string or null`);
  return v;
}

function count(record: Record<string, unknown>, name: string, path: string): number {
  const v = field(record, name, path);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Invalid(`${at(path, name)} is not a count`);
  return v;
}

function obj(value: unknown, path: string): Record<string, unknown> {
  if (!isRecord(value)) throw new Invalid(`${path === '' ? 'the top level' : path} is not an object`);
  return value;
}

// ---- decoding history.json ----------------------------------------------------------------------

interface HistoryFile {
  /** Window keys whose history is merged in, oldest first; the newest HISTORY_APPLIED_WINDOWS_LIMIT. */
  appliedWindows: string[];
  history: HistorySnapshot;
}

function decodeHistoryFile(raw: string, file: string): HistoryFile {
  const fix = `Move it aside (for example to ${file}.bad) to start the per-user history afresh: the detections that compare with earlier days stay quiet until it builds up again`;
  const value = decodeVersioned(raw, file, 'history', HISTORY_FORMAT_VERSION, fix);
  try {
    return decodeHistory(value);
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    throw new StorageError(`The history file ${file} is malformed (${error.message}). ${fix}`);
  }
}

function decodeHistory(h: Record<string, unknown>): HistoryFile {
  const applied = field(h, 'appliedWindows', '');
  if (!Array.isArray(applied) || !applied.every((k) => typeof k === 'string')) throw new Invalid('appliedWindows is not a list of keys');
  const days = field(h, 'days', '');
  if (!Array.isArray(days) || !days.every(isHistoryDay)) throw new Invalid('days is not a list of YYYY-MM-DD days');
  const usersRaw = obj(field(h, 'users', ''), 'users');
  // JSON.parse made every user an own property (even "__proto__"); Object.fromEntries keeps it that way.
  const users = Object.entries(usersRaw).map(([user, value]) => {
    const path = `users[${JSON.stringify(user)}]`;
    const u = obj(value, path);
    const ips = obj(field(u, 'ips', path), `${path}.ips`);
    for (const [ip, last] of Object.entries(ips))
      if (!isHistoryDay(last)) throw new Invalid(`${path}.ips[${JSON.stringify(ip)}] is not a day`);
    const vault = obj(field(u, 'vaultChanges', path), `${path}.vaultChanges`);
    for (const day of Object.keys(vault)) {
      if (!isHistoryDay(day)) throw new Invalid(`${path}.vaultChanges has a key that is not a day`);
      count(vault, day, `${path}.vaultChanges`);
    }
    return [user, { ips: ips as Record<string, string>, vaultChanges: vault as Record<string, number> }] as const;
  });
  return {
    appliedWindows: applied as string[],
    history: { users: Object.fromEntries(users), days: [...(days as string[])].sort() },
  };
}

function decodeRunState(value: unknown): RunState {
  const s = obj(value, '');
  const deliveredRaw = field(s, 'delivered', '');
  if (!Array.isArray(deliveredRaw)) throw new Invalid('delivered is not a list');
  const pending = field(s, 'pendingDelivery', '');
  const failure = field(s, 'lastFailure', '');
  return {
    cursor: strOrNull(s, 'cursor', ''),
    delivered: deliveredRaw.map((d: unknown, i) => decodeDelivered(d, `delivered[${i}]`)),
    pendingDelivery: pending === null ? null : decodeIntent(pending, 'pendingDelivery'),
    consecutiveFailures: count(s, 'consecutiveFailures', ''),
    lastFailure: failure === null ? null : decodeFailure(failure, 'lastFailure'),
    lastSuccessAt: strOrNull(s, 'lastSuccessAt', ''),
  };
}

function decodeDelivered(value: unknown, path: string): DeliveredWindow {
  const d = obj(value, path);
  const summary = obj(field(d, 'summary', path), `${path}.summary`);
  const byCategoryRaw = obj(field(summary, 'byCategory', `${path}.summary`), `${path}.summary.byCategory`);
  const byCategory: Record<string, number> = {};
  for (const name of Object.keys(byCategoryRaw)) byCategory[name] = count(byCategoryRaw, name, `${path}.summary.byCategory`);
  return {
    key: str(d, 'key', path),
    start: str(d, 'start', path),
    end: str(d, 'end', path),
    deliveredAt: str(d, 'deliveredAt', path),
    messageId: strOrNull(d, 'messageId', path),
    marker: str(d, 'marker', path),
    summary: {
      eventsReviewed: count(summary, 'eventsReviewed', `${path}.summary`),
      high: count(summary, 'high', `${path}.summary`),
      medium: count(summary, 'medium', `${path}.summary`),
      low: count(summary, 'low', `${path}.summary`),
      info: count(summary, 'info', `${path}.summary`),
      byCategory,
    },
  };
}

function decodeIntent(value: unknown, path: string): DeliveryIntent {
  const i = obj(value, path);
  return {
    key: str(i, 'key', path),
    start: str(i, 'start', path),
    end: str(i, 'end', path),
    marker: str(i, 'marker', path),
    startedAt: str(i, 'startedAt', path),
    attempt: count(i, 'attempt', path),
  };
}

function decodeFailure(value: unknown, path: string): FailureRecord {
  const f = obj(value, path);
  return {
    key: str(f, 'key', path),
    start: str(f, 'start', path),
    end: str(f, 'end', path),
    at: str(f, 'at', path),
    message: str(f, 'message', path),
  };
}
