/**
 * `run [--from ISO] [--to ISO] [--dry-run] [--force]`: one report now. Without --from/--to it covers what
 * is due; --dry-run writes to the outbox and changes no state; --force re-sends a delivered window.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.js';
import { ConfigError } from '../errors.js';
import { createHeartbeat } from '../adapters/notify/heartbeat.js';
import { parseInstant } from './args.js';
import { runWithHeartbeat } from './heartbeat-run.js';
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
  try {
    await store.init();
    const deps = createRunDeps(io, config, logger, store, dryRun);
    try {
      // The heartbeat is for real runs (system cron users rely on it); a dry run pings nothing.
      const heartbeat =
        config.worker.heartbeatUrl && !dryRun
          ? createHeartbeat({ url: config.worker.heartbeatUrl, logger, secrets: config.secrets })
          : null;
      const outcome = await runWithHeartbeat(
        deps,
        {
          ...(from ? { from } : {}),
          ...(to ? { to } : {}),
          dryRun,
          force: values.force ?? false,
        },
        heartbeat,
      );
      return reportOutcome(outcome, printer(io.stdout));
    } finally {
      await deps.evidence?.close();
    }
  } finally {
    await store.close();
  }
}
