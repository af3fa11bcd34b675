/**
 * The command line: picks the command, answers `--help` without running it, runs it, and turns what it
 * throws into an exit code and a message (bad usage or configuration: 2; anything else: 1, every secret
 * redacted).
 */
import { collectSecrets, secretVariants } from '../config/load-config.js';
import { ConfigError, describeError } from '../errors.js';
import { createRedactor } from '../logger.js';
import { VERSION } from '../version.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type Command, type CommandIo, type ExitCode } from './io.js';
import { COMMAND_NAMES, commandUsage, overviewUsage, type CommandName } from './usage.js';

/** Each command is loaded when it runs: the worker does not carry the simulator, `verify` not the LastPass client. */
const COMMANDS: Readonly<Record<CommandName, () => Promise<Command>>> = {
  run: async () => (await import('./run.js')).runCommand,
  worker: async () => (await import('./worker.js')).workerCommand,
  demo: async () => (await import('./demo.js')).demoCommand,
  check: async () => (await import('./check.js')).checkCommand,
  backfill: async () => (await import('./backfill.js')).backfillCommand,
  migrate: async () => (await import('./migrate.js')).migrateCommand,
  verify: async () => (await import('./verify.js')).verifyCommand,
  export: async () => (await import('./export.js')).exportCommand,
  history: async () => (await import('./history.js')).historyCommand,
  show: async () => (await import('./show.js')).showCommand,
};

function commandNamed(name: string | undefined): CommandName | null {
  return name !== undefined && (COMMAND_NAMES as readonly string[]).includes(name) ? (name as CommandName) : null;
}

/** `--help` or `-h` anywhere among the options (before a `--`): the command's usage, and nothing is done. */
function asksForHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

function isParseArgsError(error: unknown): error is TypeError {
  return error instanceof TypeError && 'code' in error && String((error as { code: unknown }).code).startsWith('ERR_PARSE_ARGS');
}

export async function runCli(argv: readonly string[], io: CommandIo): Promise<ExitCode> {
  const [name, ...args] = argv;
  const command = commandNamed(name);
  try {
    if (command) {
      if (asksForHelp(args)) {
        io.stdout.write(`${commandUsage(command, io.cliName)}\n`);
        return EXIT_OK;
      }
      return await (await COMMANDS[command]())(args, io);
    }
    switch (name) {
      case undefined:
      case 'help':
      case '--help':
      case '-h': {
        const about = commandNamed(args[0]);
        io.stdout.write(`${about ? commandUsage(about, io.cliName) : overviewUsage(io.cliName)}\n`);
        return name === undefined ? EXIT_USAGE : EXIT_OK;
      }
      case '--version':
      case 'version':
        io.stdout.write(`${VERSION}\n`);
        return EXIT_OK;
      default:
        io.stderr.write(`Unknown command "${name}".\n\n${overviewUsage(io.cliName)}\n`);
        return EXIT_USAGE;
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr.write(`${error.message}\n`);
      return EXIT_USAGE;
    }
    if (isParseArgsError(error)) {
      io.stderr.write(`${error.message}\n\n${command ? commandUsage(command, io.cliName) : overviewUsage(io.cliName)}\n`);
      return EXIT_USAGE;
    }
    const redact = createRedactor(secretVariants(collectSecrets(io.env)));
    io.stderr.write(`${redact(`Error: ${describeError(error)}`)}\n`);
    return EXIT_FAILED;
  }
}
