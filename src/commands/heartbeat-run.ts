/**
 * `runReport` with the heartbeat around it, as `run` and `worker` both use it (system cron users rely on
 * `run`'s pings): `/start` once the run holds the lock, then the plain ping on success (nothing due
 * included) or `/fail` on failure. A run that found the lock taken pings nothing (the other one does).
 */
import type { Heartbeat } from '../adapters/notify/heartbeat.js';
import { type RunDeps, type RunOptions, type RunOutcome, runReport } from '../run-report.js';

export async function runWithHeartbeat(deps: RunDeps, options: RunOptions, heartbeat: Heartbeat | null): Promise<RunOutcome> {
  if (!heartbeat) return runReport(deps, options);
  const outcome = await runReport(deps, { ...options, onStart: () => heartbeat.ping('start', 'run started') });
  await pingOutcome(heartbeat, outcome);
  return outcome;
}

/** The ping that ends a run: `/fail` for a failed one (its first failed window named), else success. */
export async function pingOutcome(heartbeat: Heartbeat | null, outcome: RunOutcome): Promise<void> {
  if (!heartbeat || outcome.status === 'locked') return;
  const failed = outcome.windows.find((w) => w.status === 'failed' || w.evidenceError);
  await heartbeat.ping(
    outcome.status === 'failed' ? 'fail' : 'success',
    failed
      ? `window ${failed.key} failed: ${failed.error ?? failed.evidenceError ?? ''}`
      : `${outcome.status}: ${outcome.windows.length} window(s)`,
  );
}
