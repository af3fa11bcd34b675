/**
 * The one atomic file writer (the file store's state, history and tail files, the file evidence backend's
 * chain files, the outbox): a temp file in the same directory, every byte written, fsync, rename over the
 * target, fsync of the directory. A reader sees the old file or the new one, never a part; after a crash
 * only a `<name>.<uuid>.tmp` can be left behind, and never in the target's place.
 */
import { randomUUID } from 'node:crypto';
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errorCode } from './error-code.js';

export interface AtomicWriteOptions {
  /** Mode of a new file (default 0o666, less the umask). */
  mode?: number;
  /** Every byte is written and synced, nothing renamed yet. Throw to abandon the write (the temp file is removed). */
  beforeRename?: () => void | Promise<void>;
  /** Renamed into place, the directory not synced yet. */
  afterRename?: () => void;
  /**
   * Turns a failure into what the caller throws: `step` is `write` (the temp file or the rename; the target
   * is untouched) or `sync` (renamed, but the directory could not be synced). Default: the error as it came.
   */
  mapError?: (error: unknown, step: 'write' | 'sync') => unknown;
}

/** Atomically replaces `path` with `data` (a string is written as UTF-8). */
export function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  return writePartsAtomic(path, [data], options);
}

/** Like writeFileAtomic, for content produced in parts (strings are written as UTF-8), never held whole. */
export async function writePartsAtomic(
  path: string,
  parts: Iterable<string | Uint8Array>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const mapError = options.mapError ?? ((error: unknown) => error);
  const tmp = `${path}.${randomUUID()}.tmp`;
  try {
    const handle = await open(tmp, 'wx', options.mode ?? 0o666);
    try {
      // writeFile on a handle writes all of each part at the current position (a bare write may be short).
      for (const part of parts) if (part.length > 0) await handle.writeFile(part);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await options.beforeRename?.();
    await rename(tmp, path);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw mapError(error, 'write');
  }
  options.afterRename?.();
  try {
    await syncDirectory(dirname(path));
  } catch (error) {
    throw mapError(error, 'sync');
  }
}

/** Makes a rename in `dir` durable. Platforms that cannot fsync a directory (Windows, some network file systems) are let be. */
export async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    const code = errorCode(error);
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF' && code !== 'ENOTSUP') throw error;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
