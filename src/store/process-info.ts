/**
 * A ProcessInfo from the facts of the running process, which main.ts hands in (its pid, the host name and
 * Node's `kill`), so that nothing here reads the global `process` itself.
 */
import { errorCode } from '../adapters/fs/error-code.js';
import type { ProcessInfo } from '../ports.js';

export function createProcessInfo(facts: {
  pid: number;
  hostname: string;
  /** Node's `kill(pid, signal)`: signal 0 only checks that the process exists and may be signalled. */
  kill: (pid: number, signal: 0) => unknown;
}): ProcessInfo {
  return {
    pid: facts.pid,
    hostname: facts.hostname,
    isProcessAlive(pid) {
      try {
        facts.kill(pid, 0);
        return true;
      } catch (error) {
        // ESRCH: no such process; EPERM: it runs, as another user.
        return errorCode(error) === 'EPERM';
      }
    },
  };
}
