/**
 * What to ask LastPass for one window: the wall-clock range of the window itself, the re-query of the
 * previous window's tail (late arrivals), and where this window's own tail starts. Pure.
 *
 * Late arrivals: an event can reach LastPass minutes after it happened, after its window was reported.
 * So the last minutes of each delivered window are fingerprinted, and the next window asks for that tail
 * again and analyses only what was not there (src/core/window-intake.ts). Each late event counts once: the
 * tail is replaced when the next window is delivered.
 */
import { formatCount } from './display-time.js';
import type { DeliveryTail } from './run-state.js';
import type { ReportWindow, WallRange } from './types.js';
import { wallBoundary, wallMinusOneSecond } from './wall-time.js';
import { windowKey } from './window-plan.js';

/** How long a tail of each window is asked for again at the next run, to catch late arrivals. */
export const DEFAULT_LATE_OVERLAP_MINUTES = 15;

/** The wall-clock range to ask LastPass for, or null when the window holds no wall time of its own. */
export function requestRange(window: ReportWindow, lastpassTimeZone: string): WallRange | null {
  const from = wallBoundary(window.start.getTime(), lastpassTimeZone);
  const to = wallMinusOneSecond(wallBoundary(window.end.getTime(), lastpassTimeZone));
  return from <= to ? { from, to } : null;
}

export interface FetchPlan {
  /** The window's own range (null: nothing to ask). */
  requested: WallRange | null;
  /** The previous window's tail, asked again for late arrivals (null: none to ask). */
  previousTail: DeliveryTail | null;
  /** Rows at or after this LastPass time are this window's tail (null: no tail is kept). */
  tailFrom: string | null;
  /** The range this window's tail covers, as the store keeps it with the delivery (null: none). */
  tailRange: WallRange | null;
}

/** The late-arrival overlap in ms (REPORT_LATE_OVERLAP_MINUTES; 0 turns the re-query off). */
export function lateOverlapMs(minutes: number | undefined): number {
  return (minutes ?? DEFAULT_LATE_OVERLAP_MINUTES) * 60_000;
}

/**
 * `storedTail` is the tail the store holds (the newest delivered window's): it is re-queried only when it
 * is the tail of the window that ends where this one starts.
 */
export function planWindowFetch(input: {
  window: ReportWindow;
  lastpassTimeZone: string;
  overlapMs: number;
  storedTail: DeliveryTail | null;
}): FetchPlan {
  const { window, lastpassTimeZone, overlapMs, storedTail } = input;
  const requested = requestRange(window, lastpassTimeZone);
  const startKey = windowKey({ start: window.start, end: window.start }).split('_')[0];
  const previousTail = overlapMs > 0 && storedTail?.windowKey.endsWith(`_${startKey}`) ? storedTail : null;
  const tailFrom =
    requested && overlapMs > 0 ? maxWall(requested.from, wallBoundary(window.end.getTime() - overlapMs, lastpassTimeZone)) : null;
  const tailRange = requested && tailFrom !== null && tailFrom <= requested.to ? { from: tailFrom, to: requested.to } : null;
  return { requested, previousTail, tailFrom, tailRange };
}

/** The digest's notice about late arrivals of the previous window's tail (null when there were none). */
export function lateArrivalNotice(lateArrivals: number, overlapMs: number, previousTail: DeliveryTail): string | null {
  if (lateArrivals === 0) return null;
  const one = lateArrivals === 1;
  return `${formatCount(lateArrivals)} event${one ? '' : 's'} of the previous window's last ${Math.round(overlapMs / 60_000)} minutes (${previousTail.from} … ${previousTail.to}, LastPass time) reached LastPass after that digest was sent: ${one ? 'it is' : 'they are'} included in this digest's counts and findings.`;
}

const maxWall = (a: string, b: string): string => (a > b ? a : b);
