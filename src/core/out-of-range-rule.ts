/**
 * What rows outside the asked range mean for a window. LastPass selects rows by their wall time, so a
 * healthy answer has none; rows outside mean LastPass answered for another time range than was asked
 * (LASTPASS_TIMEZONE is not the zone the account speaks, a clock is wrong, or the upstream is broken), and
 * the rows that were asked for may be missing. They are never silently dropped:
 * - any such row is a caution in the digest (shown at the top; the digest cannot be the green quiet one);
 * - the window FAILS when they are a large share of what came back: at least 5 % of the rows returned and
 *   at least 10 rows, or every row returned. A one-hour shift of a day's answer is about 4 % of it (a
 *   notice, loud enough); two hours or more, or an answer for another day altogether, is a failure. The
 *   floor of 10 keeps a stray row or two in a small window a notice rather than a window that stays due.
 * Pure.
 */
import type { Caution } from './digest-model.js';
import { countOf, formatCount } from './display-time.js';
import type { WallRange } from './types.js';

export interface OutOfRangeCounts {
  /** Rows in all responses for the window (in range or not). */
  rowsReturned: number;
  outOfRangeBefore: number;
  outOfRangeAfter: number;
}

export const OUT_OF_RANGE_FAIL_SHARE = 0.05;
export const OUT_OF_RANGE_FAIL_MIN_ROWS = 10;

export type OutOfRangeVerdict = { kind: 'none' } | { kind: 'caution'; caution: Caution } | { kind: 'fail'; message: string };

export function judgeOutOfRange(counts: OutOfRangeCounts, requested: WallRange, lastpassTimeZone: string): OutOfRangeVerdict {
  const { rowsReturned, outOfRangeBefore: before, outOfRangeAfter: after } = counts;
  const out = before + after;
  if (out === 0) return { kind: 'none' };
  const share = rowsReturned > 0 ? out / rowsReturned : 1;
  const directions = `${formatCount(before)} older than ${requested.from}, ${formatCount(after)} newer than ${requested.to}`;
  const percent = `${Math.round(share * 1000) / 10} %`;
  if (out >= rowsReturned || (share >= OUT_OF_RANGE_FAIL_SHARE && out >= OUT_OF_RANGE_FAIL_MIN_ROWS)) {
    return {
      kind: 'fail',
      message: `LastPass answered for another time range: check LASTPASS_TIMEZONE and the clock. Of ${countOf(rowsReturned, 'row')} it returned for ${requested.from} … ${requested.to} (LastPass time, ${lastpassTimeZone}), ${formatCount(out)} (${percent}) lay outside that range (${directions}), so the events of this window may not be the ones that came back.`,
    };
  }
  return {
    kind: 'caution',
    caution: {
      headline: `LastPass returned ${countOf(out, 'row')} outside the asked range`,
      detail: `LastPass returned ${countOf(out, 'row')} outside the asked range (${directions}; ${percent} of what came back): ${out === 1 ? 'it is' : 'they are'} not in this digest's counts. A few can be a LastPass quirk; many mean LASTPASS_TIMEZONE or a clock is wrong (run "lastpass-audit-digest check").`,
    },
  };
}
