/**
 * `run [--from ISO] [--to ISO] [--dry-run] [--force] [--account ID]`: one report now. Without --from/--to
 * it covers what is due; --dry-run writes to the outbox and changes no state; --force re-sends a delivered
 * window. With several accounts (ACCOUNTS_FILE) and no --account it runs every account, one after the
 * other, each isolated, and then sends the roll-up to ROLLUP_TO.
 */
import { parseArgs } from 'node:util';
import { createLocalAccountRunner } from '../accounts/local-runner.js';
import { loadAccounts, pickAccount } from '../accounts/load-accounts.js';
import { sendRollup } from '../accounts/send-rollup.js';
import { loadConfig } from '../config/load-config.js';
import { ConfigError } from '../errors.js';
import type { RunOutcome } from '../run-report.js';
import { parseInstant } from './args.js';
import { EXIT_FAILED, EXIT_OK, type CommandIo, type ExitCode } from './io.js';
import { reportOutcome } from './report-outcome.js';
import { createCommandLogger, printer } from './wiring.js';

export async function runCommand(args: string[], io: CommandIo): Promise<ExitCode> {
  const { values } = parseArgs({
    args,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      account: { type: 'string' },
    },
    strict: true,
  });
  const dryRun = values['dry-run'] ?? false;
  const from = parseInstant(values.from, '--from');
  const to = parseInstant(values.to, '--to');
  if (from && to && from >= to) throw new ConfigError(['--from must be before --to.']);
  const { config, warnings } = loadConfig(io.env, { dryRun });
  const accounts = loadAccounts(config, io.env, io.cwd);
  const chosen = values.account === undefined ? accounts : [pickAccount(accounts, values.account, 'run')];
  const logger = createCommandLogger(io, config.logLevel, accounts[0]!.config.secrets);
  for (const w of warnings) logger.warn('config.warning', { warning: w });
  const options = { ...(from ? { from } : {}), ...(to ? { to } : {}), dryRun, force: values.force ?? false };
  const runner = createLocalAccountRunner({ io, accounts: chosen, dryRun });
  const print = printer(io.stdout);
  let code: ExitCode = EXIT_OK;
  try {
    const records = await runner.runAll(options);
    for (const record of records) {
      if (chosen.length > 1) print(`account ${record.id}:`);
      if (record.error) print(`FAILED   account ${record.id} could not be set up: ${record.error}`);
      if (reportOutcome(record.outcome, print) !== EXIT_OK || record.error) code = EXIT_FAILED;
      warnUnsentNotices(io, record.outcome, config.worker.heartbeatUrl !== null);
    }
    // The roll-up follows a run over several accounts (a single account's digest says it all).
    if (chosen.length > 1 && config.rollupTo?.length) {
      const rolled = await sendRollup({ io, config: { ...config, secrets: accounts[0]!.config.secrets }, logger, records, dryRun });
      print(rolled.ok ? `roll-up  sent to ROLLUP_TO: ${rolled.subject}` : `FAILED   roll-up: ${rolled.error}`);
      if (!rolled.ok) code = EXIT_FAILED;
    }
  } finally {
    await runner.close();
  }
  return code;
}

function warnUnsentNotices(io: CommandIo, outcome: RunOutcome, heartbeat: boolean): void {
  for (const w of outcome.windows) {
    if (w.noticeError === undefined) continue;
    io.stderr.write(
      `lastpass-audit-digest: window ${w.key} FAILED and the FAILED notice could not be sent either (${w.noticeError}); ${heartbeat ? 'a /fail ping was sent to HEARTBEAT_URL (heartbeat.* log lines say whether it arrived)' : 'no HEARTBEAT_URL is set to alert anyone'}: look at this machine now.\n`,
    );
  }
}
