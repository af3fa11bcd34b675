/** The windows of a `backfill`, and what makes a range unusable: pure (the time comes in as `now`). */
import type { ReportWindow } from './types.js';

const DAY_MS = 86_400_000;

export type BackfillPlan = { ok: true; windows: ReportWindow[] } | { ok: false; problem: string };

/** Day-sized windows from `from` to `to`, oldest first (the last one shorter when the range is not whole days). */
export function planBackfill(from: Date | undefined, to: Date | undefined, now: Date): BackfillPlan {
  if (!from || !to)
    return { ok: false, problem: 'backfill needs both --from and --to (ISO dates or times, e.g. --from 2025-03-01 --to 2025-03-08).' };
  if (from >= to) return { ok: false, problem: '--from must be before --to.' };
  if (to.getTime() > now.getTime()) return { ok: false, problem: '--to lies in the future: backfill covers past days only.' };
  const windows: ReportWindow[] = [];
  for (let s = from.getTime(); s < to.getTime(); s += DAY_MS) {
    windows.push({ start: new Date(s), end: new Date(Math.min(to.getTime(), s + DAY_MS)) });
  }
  return { ok: true, windows };
}
