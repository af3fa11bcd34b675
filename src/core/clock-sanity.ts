/**
 * Clock sanity: the local clock against the `Date` header of an upstream's response (LastPass before every
 * run is planned, SendGrid in `check` and on each send). Pure: the instants come in as values.
 *
 * The tolerance is 5 minutes: NTP keeps real clocks within a second, and a `Date` header has second
 * resolution plus the request's round trip; 5 minutes is far above both and far below anything that
 * moves a window by a meaningful amount. A larger skew fails the run before anything is planned from the
 * wrong clock; within it, a window never ends after the upstream's own time.
 */
import { formatDuration, formatUtc } from './display-time.js';

export const CLOCK_TOLERANCE_MS = 5 * 60_000;

/** One answered request: when it was sent and answered (local clock), and the upstream's Date header. */
export interface ClockSample {
  sentAt: number;
  receivedAt: number;
  serverDate: number | null;
}

export type ClockVerdict =
  /** No Date header to compare with: the local clock is used as it is. */
  | { kind: 'unverified' }
  | { kind: 'ok'; skewMs: number; upstreamNow: number }
  | { kind: 'skewed'; skewMs: number; upstreamNow: number; message: string };

/**
 * Judges the newest sample that carries a Date header. `skewMs` is local minus upstream (positive: this
 * machine is ahead); `upstreamNow` is the upstream's time now, as far as it can be told (its Date, plus
 * what passed locally since), never later than it.
 */
export function judgeClock(samples: readonly ClockSample[], localNow: number, upstream: 'LastPass' | 'SendGrid'): ClockVerdict {
  const sample = [...samples].reverse().find((s) => s.serverDate !== null);
  if (!sample || sample.serverDate === null) return { kind: 'unverified' };
  // The header was written between send and answer, truncated to its second.
  const midpoint = (sample.sentAt + sample.receivedAt) / 2;
  const skewMs = Math.round(midpoint - (sample.serverDate + 500));
  const upstreamNow = sample.serverDate + Math.max(0, localNow - sample.receivedAt);
  if (Math.abs(skewMs) <= CLOCK_TOLERANCE_MS) return { kind: 'ok', skewMs, upstreamNow };
  const way = skewMs > 0 ? 'ahead of' : 'behind';
  return {
    kind: 'skewed',
    skewMs,
    upstreamNow,
    message: `This machine's clock is ${formatDuration(Math.abs(skewMs))} ${way} ${upstream}'s (its Date header said ${formatUtc(sample.serverDate)} when this machine said ${formatUtc(Math.round(midpoint))}), more than the 5 minutes tolerated: nothing was planned from it. Fix the system clock (NTP) and run again; the window stays due.`,
  };
}
