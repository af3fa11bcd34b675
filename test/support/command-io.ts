/**
 * The command line in process: a CommandIo whose writers are captured, whose signals the test raises, and
 * whose clock, cwd and TTY-ness the test chooses. Everything else is real (the commands, their adapters,
 * the real process info of this test process).
 */
import { runCli } from '../../src/commands/dispatch.js';
import type { CommandIo, StopSignal, Writer } from '../../src/commands/io.js';
import { realProcessInfo } from '../../src/main.js';
import type { CliResult } from './cli.js';

export interface CapturedWriter extends Writer {
  text(): string;
}

export function capturedWriter(isTTY = false, onWrite?: (text: string) => void): CapturedWriter {
  let out = '';
  return {
    isTTY,
    write: (text) => {
      out += text;
      onWrite?.(text);
    },
    text: () => out,
  };
}

export interface TestIo extends CommandIo {
  stdout: CapturedWriter;
  stderr: CapturedWriter;
  /** Delivers `signal` to the handlers the command installed; false when none listens. */
  raise(signal: StopSignal): boolean;
  listeners(signal: StopSignal): number;
}

export function createTestIo(options: {
  env: Record<string, string>;
  cwd: string;
  now?: () => Date;
  stdoutTTY?: boolean;
  stderrTTY?: boolean;
  cliName?: string;
  /** Sees every stderr write as it happens. */
  onStderr?: (text: string) => void;
}): TestIo {
  const handlers = new Map<StopSignal, Set<() => void>>();
  return {
    env: { ...options.env },
    stdout: capturedWriter(options.stdoutTTY ?? false),
    stderr: capturedWriter(options.stderrTTY ?? false, options.onStderr),
    now: options.now ?? (() => new Date()),
    onSignal(signal, handler) {
      const set = handlers.get(signal) ?? new Set();
      handlers.set(signal, set);
      const once = () => {
        set.delete(once);
        handler();
      };
      set.add(once);
      return () => void set.delete(once);
    },
    raise(signal) {
      const set = [...(handlers.get(signal) ?? [])];
      for (const h of set) h();
      return set.length > 0;
    },
    listeners: (signal) => handlers.get(signal)?.size ?? 0,
    processInfo: realProcessInfo,
    cwd: options.cwd,
    cliName: options.cliName ?? 'lastpass-audit-digest',
  };
}

/** `runCli(args)` in process, shaped like the spawned CLI's result. */
export async function runInProcess(args: string[], env: Record<string, string>, cwd: string): Promise<CliResult & { io: TestIo }> {
  const io = createTestIo({ env, cwd });
  const code = await runCli(args, io);
  return { code, stdout: io.stdout.text(), stderr: io.stderr.text(), io };
}
