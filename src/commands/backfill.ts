/**
 * `backfill --from --to [--send] [--force]`: digests for a past range, one per day, oldest first. Dry run
 * (to the outbox) unless --send; already delivered days are skipped unless --force. A progress bar on a
 * terminal; one line per day otherwise.
 */
import { parseArgs } from 'node:util';
import { loadAccounts, pickAccount } from '../accounts/load-accounts.js';
import { forAccount } from '../accounts/local-runner.js';
import { loadConfig } from '../config/load-config.js';
import { planBackfill } from '../core/backfill-plan.js';
import { ConfigError } from '../errors.js';
import { runReport, type WindowResult } from '../run-report.js';
import { parseInstant } from './args.js';
import { EXIT_FAILED, EXIT_OK, type CommandIo, type ExitCode } from './io.js';
import { createProgressBar } from './progress-bar.js';
import { createCommandLogger, createRunDeps, openStore, printer } from './wiring.js';

function describeDay(r: WindowResult | undefined): string {
  if (r?.status === 'already-delivered') return 'skipped (already delivered; --force re-sends)';
  if (r?.status === 'failed') return `FAILED: ${r.error ?? ''}`;
  if (r?.status === 'dry-run') return `dry run: ${r.destination ?? ''}`;
  return `sent${r?.messageId ? ` (message id ${r.messageId})` : ''}`;
}

export async function backfillCommand(args: string[], io: CommandIo): Promise<ExitCode> {
  const { values } = parseArgs({
    args,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      send: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      account: { type: 'string' },
    },
    strict: true,
  });
  const plan = planBackfill(parseInstant(values.from, '--from'), parseInstant(values.to, '--to'), io.now());
  if (!plan.ok) throw new ConfigError([plan.problem]);
  const send = values.send ?? false;
  const loaded = loadConfig(io.env, { dryRun: !send });
  const { warnings } = loaded;
  // With ACCOUNTS_FILE: one account at a time (its number, secret, store and recipients), --account names it.
  const account = pickAccount(loadAccounts(loaded.config, io.env, io.cwd), values.account, 'backfill');
  const { config } = account;
  // On a terminal the bar owns stderr while it shows: log lines (and result lines, when stdout is the
  // terminal too) clear it, print, and redraw it below.
  const bar = io.stderr.isTTY ? createProgressBar(io.stderr) : null;
  const logger = createCommandLogger(io, config.logLevel, config.secrets, bar ? bar.wrap(io.stderr) : io.stderr);
  for (const w of warnings) logger.warn('config.warning', { warning: w });
  const print = printer(bar && io.stdout.isTTY ? bar.wrap(io.stdout) : io.stdout);
  const store = openStore(io, config, logger);
  const { windows } = plan;
  let failed = 0;
  try {
    await store.init();
    // An account of ACCOUNTS_FILE: its mail says `[id]` and LastPass errors name its own fields, as in `run`.
    const deps = forAccount(createRunDeps(io, config, logger, store, !send), account);
    try {
      for (const [i, w] of windows.entries()) {
        const label = `${w.start.toISOString().slice(0, 16)} → ${w.end.toISOString().slice(0, 16)}`;
        bar?.update(i, windows.length, label);
        const outcome = await runReport(deps, { from: w.start, to: w.end, dryRun: !send, force: values.force ?? false });
        if (outcome.status === 'locked') {
          bar?.stop();
          print('Another run holds the lock; backfill stopped.');
          return EXIT_FAILED;
        }
        const r = outcome.windows[0];
        if (r?.status === 'failed') failed++;
        bar?.update(i + 1, windows.length, label);
        print(`${label}  ${describeDay(r)}`);
      }
    } finally {
      bar?.stop();
      await deps.evidence?.close();
    }
  } finally {
    await store.close();
  }
  print(
    `${windows.length} day(s): ${windows.length - failed} done, ${failed} failed${send ? '' : ' (dry run: nothing was sent; add --send to deliver)'}.`,
  );
  return failed > 0 ? EXIT_FAILED : EXIT_OK;
}
