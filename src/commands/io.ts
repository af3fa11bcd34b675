/**
 * What a command gets from the process it runs in. Only src/main.ts builds the real one (argv, env and
 * .env, the real stdout/stderr, signals, pid); tests hand in a captured one and call the commands directly.
 */
import type { Env } from '../config/load-config.js';
import type { Clock, ProcessInfo } from '../ports.js';

/** 0 success · 1 the run failed (upstream, delivery, storage, evidence) · 2 bad usage or configuration. */
export type ExitCode = 0 | 1 | 2;
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export interface Writer {
  write(text: string): void;
  /** A terminal (progress bars are drawn only there). */
  readonly isTTY: boolean;
}

export type StopSignal = 'SIGTERM' | 'SIGINT';

export interface CommandIo {
  /** The environment (real variables over `.env`). */
  env: Env;
  stdout: Writer;
  /** Log lines (JSON) and error messages. */
  stderr: Writer;
  now: Clock;
  /** Calls `handler` once when the process receives `signal`; returns a function that removes it. */
  onSignal(signal: StopSignal, handler: () => void): () => void;
  processInfo: ProcessInfo;
  /** The directory relative paths (DATA_DIR, --out) are resolved against. */
  cwd: string;
  /** How to name this CLI in printed hints: "npx lastpass-audit-digest", or "node dist/cli.js" in a clone. */
  cliName: string;
  /** Fault injection for the crash tests (LAD_CRASH_AT): called at each named step of a run and of the store's writes. */
  checkpoint?: (name: string) => void;
}

export type Command = (args: string[], io: CommandIo) => Promise<ExitCode>;
