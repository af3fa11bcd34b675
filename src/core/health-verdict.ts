/**
 * What `/healthz` answers (adapters/health-server.ts): healthy (200) or not (503), and why. Unhealthy when
 * the last run failed (consecutive failures > 0), or when the delivered coverage is stale: its end (the
 * cursor) lies before the second most recent scheduled time by more than the grace, i.e. two scheduled runs
 * in a row brought no delivered window (on a daily schedule: coverage older than about two days). Before the
 * first delivery there is no coverage to judge: healthy until a run fails. Pure.
 */

/** Slack for a scheduled run that is still fetching or sending, or started a little late. */
export const HEALTH_GRACE_MS = 60 * 60_000;

export interface HealthInput {
  consecutiveFailures: number;
  /** End of the delivered coverage (ISO), null before the first delivery. */
  cursor: string | null;
  /** The second most recent scheduled time at or before now (null when the schedule has none in reach). */
  secondLastScheduled: Date | null;
  graceMs?: number;
}

export interface HealthVerdict {
  healthy: boolean;
  status: 'ok' | 'failing' | 'stale';
  /** Why it is not healthy, in one sentence; null when healthy. */
  reason: string | null;
}

export function healthVerdict(input: HealthInput): HealthVerdict {
  if (input.consecutiveFailures > 0) {
    return {
      healthy: false,
      status: 'failing',
      reason: `the last run failed (${input.consecutiveFailures} in a row): see the FAILED notice or the logs`,
    };
  }
  const grace = input.graceMs ?? HEALTH_GRACE_MS;
  if (input.cursor !== null && input.secondLastScheduled !== null) {
    const cursor = Date.parse(input.cursor);
    const due = input.secondLastScheduled.getTime() - grace;
    if (Number.isFinite(cursor) && cursor < due) {
      return {
        healthy: false,
        status: 'stale',
        reason: `coverage ends ${input.cursor}, before the scheduled run of ${input.secondLastScheduled.toISOString()}: two scheduled runs delivered nothing`,
      };
    }
  }
  return { healthy: true, status: 'ok', reason: null };
}
