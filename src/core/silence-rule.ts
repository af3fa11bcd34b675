/**
 * Silence is not quiet. A window in which LastPass returned far fewer events than the account's own
 * history says is normal is not attested as a quiet day: it gets the amber verdict "Unusually few events".
 *
 * The rule: the baseline is the last 7 delivered windows that end before this one starts (and not after
 * now: a window "delivered" for time that had not happened yet says nothing), whose length is within half
 * to twice this window's, and that reviewed at least one event (a zero window is the symptom, never the
 * norm). With at least 3 of them, "the usual" is their median scaled to this window's length, and fewer
 * than 5 % of it is unusual (a real day varies by tens of percent, weekends by more; an upstream that
 * answers for the wrong account, zone or range drops by far more). With fewer than 3 (the first days),
 * zero events over 24 hours or more is unusual on its own: a LastPass tenant with users never has a day
 * without a single event. Pure.
 */
import { countOf, formatCount, formatDuration } from './display-time.js';
import type { ReportWindow } from './types.js';

export const SILENCE_SHARE = 0.05;
export const SILENCE_BASELINE_WINDOWS = 7;
export const SILENCE_MIN_BASELINE = 3;

/** An earlier delivered window, as the rule sees it. ISO instants. */
export interface BaselineWindow {
  start: string;
  end: string;
  eventsReviewed: number;
}

export interface Silence {
  reviewed: number;
  /** The usual number of events for a window of this length; null when there is no baseline yet. */
  usual: number | null;
  /** The verdict line. */
  headline: string;
  /** What to check. */
  detail: string;
}

const DAY_MS = 86_400_000;

export function unusuallyFew(input: {
  eventsReviewed: number;
  window: ReportWindow;
  prior: readonly BaselineWindow[];
  now: Date;
}): Silence | null {
  const { eventsReviewed: n, window } = input;
  const length = window.end.getTime() - window.start.getTime();
  if (length <= 0) return null;
  const baseline = input.prior
    .map((p) => ({ start: Date.parse(p.start), end: Date.parse(p.end), events: p.eventsReviewed }))
    .filter((p) => {
      const len = p.end - p.start;
      return p.events > 0 && p.end <= window.start.getTime() && p.end <= input.now.getTime() && len >= length / 2 && len <= length * 2;
    })
    .sort((a, b) => a.end - b.end)
    .slice(-SILENCE_BASELINE_WINDOWS);
  const check =
    'Check that LastPass answers for this account (run "lastpass-audit-digest check"), that LASTPASS_TIMEZONE is the zone LastPass speaks, that LASTPASS_ACCOUNT_NUMBER is the right account, and that REPORT_IGNORE_USERS does not hide more than intended. Until then, do not read this digest as a quiet day.';
  if (baseline.length >= SILENCE_MIN_BASELINE) {
    const scaled = baseline.map((p) => (p.events * length) / (p.end - p.start)).sort((a, b) => a - b);
    const mid = scaled.length >> 1;
    const usual = Math.round(scaled.length % 2 ? scaled[mid]! : (scaled[mid - 1]! + scaled[mid]!) / 2);
    if (usual > 0 && n < SILENCE_SHARE * usual) {
      return {
        reviewed: n,
        usual,
        headline: `Unusually few events: ${formatCount(n)} reviewed, the usual is ${formatCount(usual)}`,
        detail: `LastPass returned ${countOf(n, 'event')} for this window of ${formatDuration(length)}, fewer than 5 % of the usual ${formatCount(usual)} (the median of the last ${baseline.length} delivered windows, scaled to this length). ${check}`,
      };
    }
    return null;
  }
  if (n === 0 && length >= DAY_MS) {
    return {
      reviewed: 0,
      usual: null,
      headline: 'Unusually few events: 0 reviewed, and there is no history yet',
      detail: `LastPass returned no event at all for ${formatDuration(length)}; a LastPass tenant with users never has a day without one (not even a sign-in). ${check}`,
    };
  }
  return null;
}
