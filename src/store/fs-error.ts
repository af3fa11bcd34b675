import { errorCode } from '../adapters/fs/error-code.js';
import { describeError, StorageError } from '../errors.js';

/** A failed file operation of the store, as a StorageError that names the path and, when it can, the fix. */
export function fsError(action: string, path: string, error: unknown): StorageError {
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
