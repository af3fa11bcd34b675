/**
 * The command line: picks the command, runs it, and turns what it throws into an exit code and a message
 * (bad usage or configuration: 2; anything else: 1, with every secret redacted).
 */
import { collectSecrets, secretVariants } from '../config/load-config.js';
import { ConfigError, describeError } from '../errors.js';
import { createRedactor } from '../logger.js';
import { VERSION } from '../version.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type Command, type CommandIo, type ExitCode } from './io.js';

const USAGE = `lastpass-audit-digest ${VERSION}

Usage:
  lastpass-audit-digest worker                       run on REPORT_SCHEDULE until stopped (SIGTERM/SIGINT)
  lastpass-audit-digest run [--from ISO] [--to ISO] [--dry-run] [--force]
                                                     report what is due now (or the given window)
  lastpass-audit-digest demo                         the whole pipeline offline against a simulator
  lastpass-audit-digest check                        validate config and reach LastPass and SendGrid
  lastpass-audit-digest backfill --from ISO --to ISO [--send] [--force]
                                                     digests for a past range, one per day (dry run unless --send)
  lastpass-audit-digest migrate                      create or upgrade the store's schema (also done at start-up)
  lastpass-audit-digest verify [--from DAY] [--to DAY]
                                                     check the evidence archive (hashes, chain, signatures, days)
  lastpass-audit-digest export --from DAY --to DAY --out FILE.tar.gz
                                                     the evidence of those days for an auditor

Configuration comes from environment variables (and ./.env); see README.md.
Exit codes: 0 success, 1 the run failed, 2 bad usage or configuration.`;

/** Each command is loaded when it runs: the worker does not carry the simulator, `verify` not the LastPass client. */
const COMMANDS: ReadonlyMap<string, () => Promise<Command>> = new Map([
  ['run', async () => (await import('./run.js')).runCommand],
  ['worker', async () => (await import('./worker.js')).workerCommand],
  ['demo', async () => (await import('./demo.js')).demoCommand],
  ['check', async () => (await import('./check.js')).checkCommand],
  ['backfill', async () => (await import('./backfill.js')).backfillCommand],
  ['migrate', async () => (await import('./migrate.js')).migrateCommand],
  ['verify', async () => (await import('./verify.js')).verifyCommand],
  ['export', async () => (await import('./export.js')).exportCommand],
]);

function isParseArgsError(error: unknown): error is TypeError {
  return error instanceof TypeError && 'code' in error && String((error as { code: unknown }).code).startsWith('ERR_PARSE_ARGS');
}

export async function runCli(argv: readonly string[], io: CommandIo): Promise<ExitCode> {
  const [name, ...args] = argv;
  const load = name === undefined ? undefined : COMMANDS.get(name);
  try {
    if (load) return await (await load())(args, io);
    switch (name) {
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(`${USAGE}\n`);
        return name === undefined ? EXIT_USAGE : EXIT_OK;
      case '--version':
      case 'version':
        io.stdout.write(`${VERSION}\n`);
        return EXIT_OK;
      default:
        io.stderr.write(`Unknown command "${name}".\n\n${USAGE}\n`);
        return EXIT_USAGE;
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr.write(`${error.message}\n`);
      return EXIT_USAGE;
    }
    if (isParseArgsError(error)) {
      io.stderr.write(`${error.message}\n\n${USAGE}\n`);
      return EXIT_USAGE;
    }
    const redact = createRedactor(secretVariants(collectSecrets(io.env)));
    io.stderr.write(`${redact(`Error: ${describeError(error)}`)}\n`);
    return EXIT_FAILED;
  }
}
