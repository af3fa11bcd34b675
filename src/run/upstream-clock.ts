/**
 * Before a run is planned: two requests to LastPass, one after the other (for the current second, so they
 * carry next to no events), whose `Date` headers are compared with the local clock (core/clock-sanity.ts).
 * A skew over the tolerance fails the run before anything is planned from the wrong clock; within it, the
 * run is planned to end no later than LastPass's own time. The requests' send instants also serve the zone
 * self-check: their own `Reporting` rows come back in later responses, and it takes two to tell an offset.
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
  /** The probes' answered requests ([] when they failed). */
  probes: RequestTiming[];
}

export async function readUpstreamClock(deps: Pick<RunDeps, 'lastpass' | 'now' | 'logger' | 'config'>): Promise<UpstreamClock> {
  const local = deps.now();
  const second = formatWall(local.getTime(), deps.config.lastpass.timeZone);
  try {
    // One attempt each: a LastPass that cannot be reached now fails the window's own fetch, with its retries
    // and evidence.
    const probes: RequestTiming[] = [];
    for (let i = 0; i < 2; i++) probes.push((await deps.lastpass.probe({ from: second, to: second }, undefined, { once: true })).timing);
    const now = deps.now();
    const verdict = judgeClock(probes, now.getTime(), 'LastPass');
    if (verdict.kind === 'unverified') {
      deps.logger.warn('clock.unverified', { upstream: 'lastpass', reason: 'no Date header' });
      return { planNow: now, verdict, probes };
    }
    if (verdict.kind === 'skewed') {
      deps.logger.error('clock.skewed', { upstream: 'lastpass', skewMs: verdict.skewMs });
      return { planNow: new Date(verdict.upstreamNow), verdict, probes };
    }
    deps.logger.debug('clock.checked', { upstream: 'lastpass', skewMs: verdict.skewMs });
    return { planNow: new Date(Math.min(now.getTime(), verdict.upstreamNow)), verdict, probes };
  } catch (error) {
    deps.logger.warn('clock.check_failed', { upstream: 'lastpass', error: describeError(error) });
    return { planNow: local, verdict: { kind: 'error', error }, probes: [] };
  }
}
