/**
 * The paging rule for LastPass `reporting` responses, as a pure decision over one page's rows.
 *
 * LastPass returns the newest events of [from, to] first, at most a page limit of them. When a response is
 * full (or carries `next`), the events of its *oldest* second may be cut, so only the events strictly newer
 * than that second are kept and the next request asks again with `to` set to it. Every second's events
 * therefore come from exactly one response: the boundary duplicates that `next` would produce cannot occur,
 * and genuine repeats (two identical failed logins in one second) are all kept. A full page that is a
 * single second cannot be split further and is reported as incomplete rather than guessed at.
 */
import { IncompleteDataError } from '../errors.js';
import type { RawEvent, WallRange } from './types.js';

/** What one good page means: which of its rows to pass on, and where the next request ends. */
export interface PageDecision {
  /** Rows in the response. */
  rows: number;
  /** Rows to pass on: those with `keepFrom` < Time (≤ when `keepFromInclusive`) and Time ≤ `keepTo`. */
  kept: number;
  /** Rows outside the asked range (dropped). */
  dropped: number;
  keepFrom: string;
  keepFromInclusive: boolean;
  keepTo: string;
  /** The `to` of the next request, or null when this response completes the range. */
  nextTo: string | null;
}

/** Does a row of this Time belong to the rows the decision keeps? */
export function isKept(decision: PageDecision, time: string): boolean {
  return (decision.keepFromInclusive ? time >= decision.keepFrom : time > decision.keepFrom) && time <= decision.keepTo;
}

/**
 * Decides one good page of `range` (its rows in response order, `next` as the response gave it). Throws
 * IncompleteDataError when the range cannot be completed from here.
 */
export function decidePage(rows: readonly RawEvent[], next: string | null, range: WallRange, pageLimit: number): PageDecision {
  const { from, to } = range;
  const total = rows.length;
  let oldest: string | null = null;
  let inRange = 0;
  let atOldest = 0;
  // Rows come grouped by second: decide once per run of equal Time values.
  let last: string | null = null;
  let lastIn = false;
  let lastAtOldest = false;
  for (let i = 0; i < total; i++) {
    const t = rows[i]!.Time;
    if (t !== last) {
      last = t;
      lastIn = !(t < from || t > to);
      if (lastIn && (oldest === null || t < oldest)) {
        oldest = t;
        atOldest = 0;
      }
      lastAtOldest = lastIn && t === oldest;
    }
    if (lastIn) {
      inRange++;
      if (lastAtOldest) atOldest++;
    }
  }
  const dropped = total - inRange;
  const whole = { rows: total, kept: inRange, dropped, keepFrom: from, keepFromInclusive: true, keepTo: to, nextTo: null };
  const cut = total >= pageLimit || next !== null;
  if (cut && oldest === null && total > 0) {
    // A cut page with nothing of the asked range in it: what lies in the range was never seen.
    throw new IncompleteDataError(
      `LastPass returned ${total} events for ${from} … ${to}, none of them inside that range, and said more were available: the range cannot be fetched completely.`,
    );
  }
  if (!cut || oldest === null) return whole;
  if (oldest === to) {
    // Every kept row is in the one second `to`.
    if (total >= pageLimit) {
      throw new IncompleteDataError(
        `LastPass returned a full page of ${total} events all at ${to}: more events share that one second than one response can carry, so the window cannot be fetched completely.`,
      );
    }
    // Not full, `next` set but nothing older in range: this response is the whole rest of the range.
    return whole;
  }
  return { rows: total, kept: inRange - atOldest, dropped, keepFrom: oldest, keepFromInclusive: false, keepTo: to, nextTo: oldest };
}
