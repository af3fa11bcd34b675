/**
 * Lock files (the file store's run.lock and state.lock): created with O_EXCL, holding
 * `{ pid, hostname, owner, acquiredAt, token }`, and taken over when stale: its owner is dead on this host,
 * or it is older than the caller's `staleMs`.
 * - `<lock>.break`: exists for milliseconds while one process removes a stale lock (see breakStale).
 * Locks are judged by host: a different host's pid cannot be checked, so only age frees its lock (in a
 * container whose hostname changes on restart, that means `staleMs`).
 * Bounds of a take-over: a lock whose pid is dead on this host (or left by an earlier process with our pid)
 * at once; a lock file whose content is unreadable (empty, truncated, not our JSON: a crash mid-write, a disk
 * that filled up, a hand edit) once its mtime is older than GARBAGE_LOCK_MS (2 minutes: writing a lock takes
 * milliseconds, so one still unreadable after 2 minutes is never going to name its owner), or `staleMs` when
 * that is shorter; any other lock after `staleMs`. A live owner on this host is never displaced before then.
 */
import { randomUUID } from 'node:crypto';
import { type FileHandle, open, readFile, stat, unlink } from 'node:fs/promises';
import { errorCode } from '../adapters/fs/error-code.js';
import type { Logger } from '../logger.js';
import type { Clock, ProcessInfo } from '../ports.js';
import { fsError } from './fs-error.js';

/** What a lock file holds. `token` tells our own locks from a previous process that had the same pid. */
export interface LockContent {
  pid: number;
  hostname: string;
  owner: string;
  acquiredAt: string;
  token: string | null;
}

/** A lock we created: `raw` is the exact content of the file, so that we only ever remove our own. */
export interface HeldLock {
  file: string;
  raw: string;
  content: LockContent;
}

/** Either we hold the lock, or `holder` does (null when its file could not be read). */
export type LockAttempt = { held: HeldLock; holder?: undefined } | { held?: undefined; holder: LockContent | null };

export interface LockFiles {
  /** One try at `file` for `owner` (no waiting); a stale lock is taken over (logged `store.lock_taken_over`). */
  acquire(file: string, owner: string, staleMs: number): Promise<LockAttempt>;
  /** Whether the file still holds our lock (nobody broke it as stale meanwhile). */
  holds(lock: HeldLock): Promise<boolean>;
  /** Removes the lock file if it is still ours; logs `store.lock_lost` when it is not. */
  release(lock: HeldLock): Promise<void>;
}

export interface LockFilesOptions {
  /** Whose locks these are, and how to tell whether another process on this host still runs. */
  processInfo: ProcessInfo;
  now: Clock;
  logger: Logger;
}

interface SeenLock {
  raw: string;
  content: LockContent | null;
  mtimeMs: number;
}

/** An unreadable lock file older than this (by mtime) is garbage, whatever `staleMs` is (see the top). */
export const GARBAGE_LOCK_MS = 2 * 60 * 1000;

/** A `<lock>.break` file lives for milliseconds; one this old was left by a process that died breaking. */
const BREAKER_STALE_MS = 10_000;

/**
 * Tokens of the locks this process holds. A lock file with our pid and host whose token is not here was
 * left by an earlier process that had the same pid (pid 1 in a container, say): its owner is gone.
 */
const heldTokens = new Set<string>();

export function createLockFiles(options: LockFilesOptions): LockFiles {
  const { now, logger } = options;
  const { pid, hostname: host } = options.processInfo;
  const isProcessAlive = (other: number) => options.processInfo.isProcessAlive(other);

  function staleness(seen: SeenLock, staleMs: number): string | null {
    const at = now().getTime();
    const content = seen.content;
    if (content === null) {
      // Being written right now (O_EXCL create, then write), or garbage: only its age can tell, and a lock
      // is written in milliseconds, so minutes of unreadable content mean garbage.
      const bound = Math.min(staleMs, GARBAGE_LOCK_MS);
      return at - seen.mtimeMs > bound ? `its content is unreadable and it is older than ${bound} ms` : null;
    }
    if (content.hostname === host) {
      if (content.pid === pid) {
        if (content.token === null || !heldTokens.has(content.token)) return 'left by an earlier process with the same pid';
      } else if (!isProcessAlive(content.pid)) {
        return `its process ${content.pid} is no longer running`;
      }
    }
    // By the older of its stated time and its mtime: a wrong or future `acquiredAt` never keeps a lock alive.
    const acquired = Date.parse(content.acquiredAt);
    const age = at - Math.min(Number.isFinite(acquired) ? acquired : seen.mtimeMs, seen.mtimeMs);
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
  async function breakStale(file: string, staleMs: number): Promise<'broken' | 'busy' | 'live'> {
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

  return {
    async acquire(file, owner, staleMs) {
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
        if ((await breakStale(file, staleMs)) !== 'broken') return { holder };
      }
      return { holder };
    },

    async holds(lock) {
      try {
        return (await readFile(lock.file, 'utf8')) === lock.raw;
      } catch (error) {
        if (errorCode(error) === 'ENOENT') return false;
        throw fsError('read', lock.file, error);
      }
    },

    async release(lock) {
      try {
        if (!(await unlinkIfUnchanged(lock.file, lock.raw))) logger.warn('store.lock_lost', { file: lock.file, owner: lock.content.owner });
      } finally {
        if (lock.content.token !== null) heldTokens.delete(lock.content.token);
      }
    },
  };
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
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const { pid, hostname, owner, acquiredAt, token } = value as Record<string, unknown>;
  // pid 0 or negative would ask kill() about a process group: such a file is garbage, not an owner.
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0 || typeof hostname !== 'string' || typeof acquiredAt !== 'string') {
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
