/**
 * The process boundary, and the only module that touches `process`: argv, the environment (and ./.env),
 * signals, the real stdout and stderr, the pid and the liveness check of other processes, LAD_CRASH_AT
 * fault injection, and the exit code. Everything else gets these injected (src/commands/io.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, isAbsolute, relative, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import type { Env } from './config/load-config.js';
import { runCli } from './commands/dispatch.js';
import type { CommandIo, Writer } from './commands/io.js';
import { shellWord } from './commands/shell-word.js';
import type { ProcessInfo } from './ports.js';
import { createProcessInfo } from './store/process-info.js';

/** Real environment variables (Replit Secrets) win over `<cwd>/.env`. */
export function readEnv(cwd: string, processEnv: Env): Env {
  const path = resolve(cwd, '.env');
  const fromFile = existsSync(path) ? (parseEnv(readFileSync(path, 'utf8')) as Record<string, string>) : {};
  return { ...fromFile, ...processEnv };
}

export const realProcessInfo: ProcessInfo = createProcessInfo({
  pid: process.pid,
  hostname: hostname(),
  kill: (pid, signal) => process.kill(pid, signal),
});

/**
 * Fault injection for the crash tests: LAD_CRASH_AT=<step>[#n] kills this process with SIGKILL the n-th
 * time (default first) a run or the store reaches that step. Never set in production.
 */
function crashCheckpoint(spec: string | undefined): ((name: string) => void) | undefined {
  if (!spec) return undefined;
  const [step, nth] = spec.split('#');
  let seen = 0;
  return (name) => {
    if (name === step && ++seen === Number(nth ?? '1')) process.kill(process.pid, 'SIGKILL');
  };
}

/**
 * How hints name this CLI: through the package's bin (an installed package, npx) it is
 * "npx lastpass-audit-digest"; run as a file in a clone, "node <path of cli.js>" (relative when below cwd).
 */
export function cliNameFor(script: string | undefined, cwd: string): string {
  if (!script || basename(script) !== 'cli.js' || script.split(/[\\/]/).includes('node_modules')) return 'npx lastpass-audit-digest';
  const rel = relative(cwd, script);
  const path = rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : script;
  return `node ${shellWord(path)}`;
}

function writerFor(stream: NodeJS.WriteStream): Writer {
  return { write: (text) => void stream.write(text), isTTY: stream.isTTY === true };
}

export function createProcessIo(): CommandIo {
  const cwd = process.cwd();
  const env = readEnv(cwd, process.env);
  const checkpoint = crashCheckpoint(env.LAD_CRASH_AT);
  return {
    env,
    stdout: writerFor(process.stdout),
    stderr: writerFor(process.stderr),
    now: () => new Date(),
    onSignal(signal, handler) {
      process.once(signal, handler);
      return () => void process.off(signal, handler);
    },
    processInfo: realProcessInfo,
    cwd,
    cliName: cliNameFor(process.argv[1], cwd),
    ...(checkpoint ? { checkpoint } : {}),
  };
}

/** Runs the command line and exits with its code (keep-alive sockets of the HTTP clients must not hold a finished command open). */
export async function main(): Promise<never> {
  const code = await runCli(process.argv.slice(2), createProcessIo());
  process.exit(code);
}
