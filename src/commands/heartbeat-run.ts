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
  if (outcome.status !== 'locked') {
    const failed = outcome.windows.find((w) => w.status === 'failed');
    await heartbeat.ping(
      outcome.status === 'failed' ? 'fail' : 'success',
      failed ? `window ${failed.key} failed: ${failed.error ?? ''}` : `${outcome.status}: ${outcome.windows.length} window(s)`,
    );
  }
  return outcome;
}
