/**
 * `run [--from ISO] [--to ISO] [--dry-run] [--force]`: one report now. Without --from/--to it covers what
 * is due; --dry-run writes to the outbox and changes no state; --force re-sends a delivered window.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.js';
import { createHeartbeat } from '../adapters/notify/heartbeat.js';
import { ConfigError, describeError } from '../errors.js';
import type { RunOutcome } from '../run-report.js';
import { failRun } from '../run/failure-notice.js';
import { parseInstant } from './args.js';
import { pingOutcome, runWithHeartbeat } from './heartbeat-run.js';
import type { CommandIo, ExitCode } from './io.js';
import { reportOutcome } from './report-outcome.js';
import { createCommandLogger, createRunDeps, openStore, printer } from './wiring.js';

export async function runCommand(args: string[], io: CommandIo): Promise<ExitCode> {
  const { values } = parseArgs({
    args,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const dryRun = values['dry-run'] ?? false;
  const from = parseInstant(values.from, '--from');
  const to = parseInstant(values.to, '--to');
  if (from && to && from >= to) throw new ConfigError(['--from must be before --to.']);
  const { config, warnings } = loadConfig(io.env, { dryRun });
  const logger = createCommandLogger(io, config.logLevel, config.secrets);
  for (const w of warnings) logger.warn('config.warning', { warning: w });
  const store = openStore(io, config, logger);
  // The heartbeat is for real runs (system cron users rely on it); a dry run pings nothing.
  const heartbeat =
    config.worker.heartbeatUrl && !dryRun ? createHeartbeat({ url: config.worker.heartbeatUrl, logger, secrets: config.secrets }) : null;
  const options = { ...(from ? { from } : {}), ...(to ? { to } : {}), dryRun, force: values.force ?? false };
  try {
    const deps = createRunDeps(io, config, logger, store, dryRun);
    try {
      // A store that cannot even be set up is a failed run like any other: FAILED notice, /fail, exit 1.
      const ready = await store.init().then(
        () => null,
        (error: unknown) => error,
      );
      let outcome: RunOutcome;
      if (ready === null) {
        outcome = await runWithHeartbeat(deps, options, heartbeat);
      } else {
        outcome = { status: 'failed', windows: [await failRun(deps, options, ready)], skipped: null };
        await pingOutcome(heartbeat, outcome);
      }
      const code = reportOutcome(outcome, printer(io.stdout));
      for (const w of outcome.windows) {
        if (w.noticeError === undefined) continue;
        io.stderr.write(
          `lastpass-audit-digest: window ${w.key} FAILED and the FAILED notice could not be sent either (${w.noticeError}); ${heartbeat ? 'a /fail ping was sent to HEARTBEAT_URL (heartbeat.* log lines say whether it arrived)' : 'no HEARTBEAT_URL is set to alert anyone'}: look at this machine now.\n`,
        );
      }
      return code;
    } finally {
      await deps.evidence?.close().catch((error: unknown) => logger.error('evidence.close_failed', { error: describeError(error) }));
    }
  } finally {
    await store.close().catch((error: unknown) => logger.error('store.close_failed', { error: describeError(error) }));
  }
}
