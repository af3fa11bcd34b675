/**
 * Which windows are due. Windows are contiguous and derived from state (the end of the last delivered
 * window), never from the time a trigger fired.
 */
import type { ReportWindow } from './types.js';

export const DAY_MS = 86_400_000;

export interface WindowPlan {
  windows: ReportWindow[];
  /** A span that will not be reviewed because the worker was down longer than the catch-up cap. */
  skipped: ReportWindow | null;
}

/**
 * From `cursor` (or 24 h before `now` on the first run) to `now`: one window when at most about a day is
 * due, else one window per day, oldest first (the last one absorbs the remainder, so windows stay
 * contiguous and end exactly at `now`). At most `maxCatchupDays` windows: anything older is `skipped`.
 */
/** Less than this since the last delivered window is "nothing due": a digest of a few seconds helps nobody. */
export const MIN_WINDOW_MS = 60_000;

export function planDueWindows(input: { cursor: Date | null; now: Date; maxCatchupDays: number }): WindowPlan {
  const end = input.now.getTime();
  const start = input.cursor ? input.cursor.getTime() : end - DAY_MS;
  if (end - start < MIN_WINDOW_MS) return { windows: [], skipped: null };
  const count = Math.max(1, Math.round((end - start) / DAY_MS));
  const kept = Math.min(count, Math.max(1, input.maxCatchupDays));
  const firstStart = kept === count ? start : end - kept * DAY_MS;
  const windows: ReportWindow[] = [];
  for (let i = 0; i < kept; i++) {
    const s = firstStart + i * DAY_MS;
    const e = i === kept - 1 ? end : s + DAY_MS;
    windows.push({ start: new Date(s), end: new Date(e) });
  }
  const skipped = firstStart > start ? { start: new Date(start), end: new Date(firstStart) } : null;
  return { windows, skipped };
}

/** A stable identifier of a window: its UTC bounds, compact. */
export function windowKey(window: ReportWindow): string {
  const compact = (d: Date) =>
    d
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z')
      .replace(/[-:]/g, '');
  return `${compact(window.start)}_${compact(window.end)}`;
}

export function sameWindow(a: ReportWindow, b: ReportWindow): boolean {
  return a.start.getTime() === b.start.getTime() && a.end.getTime() === b.end.getTime();
}
