/**
 * The paging rule for LastPass `reporting` responses, as a pure decision over one page's rows. It does not
 * trust the order LastPass documents (newest first): a published mock lists the older event first, so the
 * order of each response is read from its own rows.
 *
 * A response that is not cut (fewer rows than the page limit and no `next`) completes its range. A cut one
 * (full, or carrying `next`) is a selection of the range's events whose boundary second may be incomplete;
 * with its in-range rows spanning the seconds [a, b]:
 * - rows newest first: LastPass selected the newest, so [from, a] is the incomplete side: keep (a, to] and
 *   ask [from, a] again;
 * - rows oldest first: it selected the oldest: keep [from, b) and ask [b, to] again;
 * - mixed (shuffled, or any order that is neither): which end was cut cannot be told, but either way every
 *   event strictly between a and b was selected: keep (a, b) and ask both [from, a] and [b, to];
 * - all in one second s: that second may be cut: ask [s, s] on its own, and the rest of the range on both
 *   sides of it; a cut page of a one-second range cannot be split and is incomplete.
 * Every second's events are therefore kept from exactly one response (no boundary duplicates, genuine
 * repeats all kept), whatever the order, and each range asked again is strictly smaller than the one before.
 *
 * Loud, never quiet: a cut page that adds no event (it only moves the boundary), a cut page with nothing
 * in the asked range, and a Time that is not a LastPass wall time all throw IncompleteDataError. Rows
 * outside the asked range are dropped here and counted per direction; what that means for the window is
 * decided by the caller (core/range-check.ts).
 */
import { IncompleteDataError } from '../errors.js';
import type { RawEvent, WallRange } from './types.js';
import { wallMinusOneSecond, wallPlusOneSecond } from './wall-time.js';

/** How a response's in-range rows are ordered. */
export type PageOrder = 'empty' | 'single-second' | 'newest-first' | 'oldest-first' | 'mixed';

/** The rows of a page that are passed on: Time within these bounds. */
export interface KeepBounds {
  from: string;
  fromInclusive: boolean;
  to: string;
  toInclusive: boolean;
}

/** What one good page means: which of its rows to pass on, and which ranges are still to be asked. */
export interface PageDecision {
  /** Rows in the response. */
  rows: number;
  /** Rows inside the asked range. */
  inRange: number;
  /** Rows passed on (the `keep` bounds). */
  kept: number;
  /** Rows outside the asked range: older than `from`, newer than `to` (dropped). */
  before: number;
  after: number;
  order: PageOrder;
  /** Full, or `next` set: the response is a selection of the range's events. */
  cut: boolean;
  keep: KeepBounds;
  /** The ranges still to be asked, in the order to ask them (none when this page completes its range). */
  remaining: WallRange[];
}

/** Does a row of this Time belong to the rows the decision keeps? */
export function isKept(decision: PageDecision, time: string): boolean {
  const k = decision.keep;
  return (k.fromInclusive ? time >= k.from : time > k.from) && (k.toInclusive ? time <= k.to : time < k.to);
}

const WALL = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

/**
 * Decides one good page of `range` (its rows in response order, `next` as the response gave it). Throws
 * IncompleteDataError when the range cannot be completed from this page.
 */
export function decidePage(rows: readonly RawEvent[], next: string | null, range: WallRange, pageLimit: number): PageDecision {
  const { from, to } = range;
  const total = rows.length;
  let oldest: string | null = null;
  let newest: string | null = null;
  let inRange = 0;
  let before = 0;
  let after = 0;
  let rising = false;
  let falling = false;
  // Rows come grouped by second: decide once per run of equal Time values.
  let last: string | null = null;
  let lastIn: string | null = null;
  let where = 0; // -1 before, 0 inside, 1 after
  for (let i = 0; i < total; i++) {
    const t = rows[i]!.Time;
    if (t !== last) {
      last = t;
      if (!WALL.test(t)) {
        throw new IncompleteDataError(
          `LastPass sent an event whose Time "${t.slice(0, 40)}" is not a wall time (YYYY-MM-DD HH:MM:SS) for ${from} … ${to}: the response cannot be read unambiguously, so no events from it are used.`,
        );
      }
      where = t < from ? -1 : t > to ? 1 : 0;
      if (where === 0) {
        if (oldest === null || t < oldest) oldest = t;
        if (newest === null || t > newest) newest = t;
        if (lastIn !== null) {
          if (t > lastIn) rising = true;
          else if (t < lastIn) falling = true;
        }
        lastIn = t;
      }
    }
    if (where === 0) inRange++;
    else if (where < 0) before++;
    else after++;
  }
  const cut = total >= pageLimit || next !== null;
  const order: PageOrder =
    oldest === null
      ? 'empty'
      : oldest === newest
        ? 'single-second'
        : rising && falling
          ? 'mixed'
          : rising
            ? 'oldest-first'
            : 'newest-first';
  const base = { rows: total, inRange, before, after, order, cut };
  const all: KeepBounds = { from, fromInclusive: true, to, toInclusive: true };
  if (!cut) return { ...base, kept: inRange, keep: all, remaining: [] };
  if (oldest === null || newest === null) {
    // A cut page with nothing of the asked range in it: what lies in the range was never seen.
    throw new IncompleteDataError(
      total > 0
        ? `LastPass returned ${total} events for ${from} … ${to}, none of them inside that range, and said more were available: the range cannot be fetched completely.`
        : `LastPass returned no events for ${from} … ${to} and said more were available: the range cannot be fetched completely.`,
    );
  }
  const a = oldest;
  const b = newest;
  if (order === 'single-second') {
    if (from === to) {
      throw new IncompleteDataError(
        `LastPass returned ${total >= pageLimit ? 'a full page' : 'a cut page'} of ${inRange} events all at ${a}: more events share that one second than one response carries, so the window cannot be fetched completely.`,
      );
    }
    // That second on its own, then the rest of the range on either side of it.
    const remaining: WallRange[] = [{ from: a, to: a }];
    if (a > from) remaining.push({ from, to: wallMinusOneSecond(a) });
    if (a < to) remaining.push({ from: wallPlusOneSecond(a), to });
    return { ...base, kept: 0, keep: { from: a, fromInclusive: false, to: a, toInclusive: false }, remaining };
  }
  let keep: KeepBounds;
  let remaining: WallRange[];
  if (order === 'newest-first') {
    keep = { from: a, fromInclusive: false, to, toInclusive: true };
    remaining = [{ from, to: a }];
  } else if (order === 'oldest-first') {
    keep = { from, fromInclusive: true, to: b, toInclusive: false };
    remaining = [{ from: b, to }];
  } else {
    keep = { from: a, fromInclusive: false, to: b, toInclusive: false };
    remaining = [
      { from: b, to },
      { from, to: a },
    ];
  }
  let kept = 0;
  last = null;
  let keepLast = false;
  for (let i = 0; i < total; i++) {
    const t = rows[i]!.Time;
    if (t !== last) {
      last = t;
      keepLast = (keep.fromInclusive ? t >= keep.from : t > keep.from) && (keep.toInclusive ? t <= keep.to : t < keep.to);
    }
    if (keepLast) kept++;
  }
  if (kept === 0) {
    throw new IncompleteDataError(
      `LastPass answered ${from} … ${to} with a cut page (${order}, ${total} events) that adds no event: it only moves the boundary (to ${order === 'oldest-first' ? b : a}), so paging would not end; the window is not complete.`,
    );
  }
  return { ...base, kept, keep, remaining };
}

/**
 * The most requests a range may take: 3 × ⌈events / (pageLimit / 20)⌉ + 10, with `events` the events
 * kept so far. LastPass carries 10,000 events a page; a stand-in paging at a twentieth of that (500, the
 * smallest seen) with every page split on both sides (mixed order) needs about 2 requests per 500 events.
 * More requests than that are not explained by the events: a runaway, failed loudly rather than followed.
 */
export function maxRequestsFor(events: number, pageLimit: number): number {
  const page = Math.max(1, Math.floor(pageLimit / 20));
  return 3 * Math.ceil(events / page) + 10;
}
