/**
 * Before a run is planned: one request to LastPass (for the current second, so it carries next to no
 * events) whose `Date` header is compared with the local clock (core/clock-sanity.ts). A skew over the
 * tolerance fails the run before anything is planned from the wrong clock; within it, the run is planned
 * to end no later than LastPass's own time. The request's send instant also serves the zone self-check
 * (its own `Reporting` row comes back in later responses).
 */
import { judgeClock, type ClockVerdict } from '../core/clock-sanity.js';
import { formatWall } from '../core/wall-time.js';
import { describeError } from '../errors.js';
import type { RequestTiming } from '../ports.js';
import type { RunDeps } from './run-types.js';

export interface UpstreamClock {
  /** The "now" to plan from: the local clock, never later than LastPass's. */
  planNow: Date;
  verdict: ClockVerdict | { kind: 'error'; error: unknown };
  /** The probe's answered request (null when it failed). */
  probe: RequestTiming | null;
}

export async function readUpstreamClock(deps: Pick<RunDeps, 'lastpass' | 'now' | 'logger' | 'config'>): Promise<UpstreamClock> {
  const local = deps.now();
  const second = formatWall(local.getTime(), deps.config.lastpass.timeZone);
  try {
    // One attempt: a LastPass that cannot be reached now fails the window's own fetch, with its retries and evidence.
    const probe = await deps.lastpass.probe({ from: second, to: second }, undefined, { once: true });
    const now = deps.now();
    const verdict = judgeClock(probe.timings, now.getTime(), 'LastPass');
    if (verdict.kind === 'unverified') {
      deps.logger.warn('clock.unverified', { upstream: 'lastpass', reason: 'no Date header' });
      return { planNow: now, verdict, probe: probe.timing };
    }
    if (verdict.kind === 'skewed') {
      deps.logger.error('clock.skewed', { upstream: 'lastpass', skewMs: verdict.skewMs });
      return { planNow: new Date(verdict.upstreamNow), verdict, probe: probe.timing };
    }
    deps.logger.debug('clock.checked', { upstream: 'lastpass', skewMs: verdict.skewMs });
    return { planNow: new Date(Math.min(now.getTime(), verdict.upstreamNow)), verdict, probe: probe.timing };
  } catch (error) {
    deps.logger.warn('clock.check_failed', { upstream: 'lastpass', error: describeError(error) });
    return { planNow: local, verdict: { kind: 'error', error }, probe: null };
  }
}
