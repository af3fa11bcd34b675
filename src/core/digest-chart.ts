/** The digest's chart (events per clock hour) and trends (per category against earlier delivered days). Pure. */
import type { AnalysisResult } from './analysis.js';
import type { ChartBar, DigestModel, TrendRow } from './digest-model-types.js';
import { countOf, formatCount, formatLocalMinute } from './display-time.js';
import type { ReportWindow } from './types.js';

/** A day's per-category counts from an earlier delivered window, for trends (and the silence rule). */
export interface PriorDay {
  end: string;
  byCategory: Record<string, number>;
  start?: string;
  eventsReviewed?: number;
}

const CHART_HEIGHT = 60;

/** Chart hours are clock hours: the hour (UTC, so whole-hour zones line up) containing the window start. */
export const hourOrigin = (start: number): number => Math.floor(start / 3_600_000) * 3_600_000;

export function buildChart(analysis: AnalysisResult, window: ReportWindow, timeZone: string): DigestModel['chart'] {
  const { total, failures } = analysis.hourly;
  // At most 48 bars: longer windows (catch-up) are grouped into equal buckets of whole hours.
  const size = Math.max(1, Math.ceil(total.length / 48));
  const buckets: { total: number; failures: number; start: number }[] = [];
  for (let i = 0; i < total.length; i += size) {
    let t = 0;
    let f = 0;
    for (let j = i; j < Math.min(total.length, i + size); j++) {
      t += total[j]!;
      f += failures[j]!;
    }
    buckets.push({ total: t, failures: f, start: hourOrigin(window.start.getTime()) + i * 3_600_000 });
  }
  const max = Math.max(0, ...buckets.map((b) => b.total));
  const bars: ChartBar[] = buckets.map((b) => {
    const totalPx = max === 0 ? 0 : Math.max(b.total > 0 ? 1 : 0, Math.round((b.total / max) * CHART_HEIGHT));
    // Failures are a sliver of all events: give any hour with failures at least 3 px of red so it shows.
    const failurePx = b.total === 0 ? 0 : Math.min(totalPx, Math.max(b.failures > 0 ? 3 : 0, Math.round((b.failures / b.total) * totalPx)));
    const from = formatLocalMinute(b.start, timeZone).slice(11);
    const to = formatLocalMinute(b.start + size * 3_600_000, timeZone).slice(11);
    return {
      label: from.slice(0, 2),
      total: b.total,
      failures: b.failures,
      totalPx,
      failurePx,
      restPx: CHART_HEIGHT - totalPx,
      title: `${from}–${to}: ${countOf(b.total, 'event')}, ${countOf(b.failures, 'failed sign-in')}`,
    };
  });
  return {
    bars,
    heightPx: CHART_HEIGHT,
    max,
    maxText: formatCount(max),
    caption: `Events per ${size === 1 ? 'hour' : `${size} hours`}, ${timeZone}; failed sign-ins in red`,
  };
}

/** Per category: this window, the previous delivered window, and the median of the last 7. */
export function buildTrends(analysis: AnalysisResult, window: ReportWindow, prior: readonly PriorDay[]): DigestModel['trends'] {
  const earlier = prior
    .filter((p) => Date.parse(p.end) <= window.start.getTime())
    .sort((a, b) => Date.parse(a.end) - Date.parse(b.end))
    .slice(-7);
  const today: Record<string, number> = {};
  for (const [category, c] of analysis.byCategory) today[category] = c.high + c.medium + c.low;
  if (earlier.length < 3) {
    return {
      building: true,
      note: `Trends need 3 earlier delivered days; ${earlier.length === 0 ? 'none yet' : `${earlier.length} so far`}. The baseline is still building.`,
      rows: [],
    };
  }
  const categories = new Set([...Object.keys(today), ...earlier.flatMap((p) => Object.keys(p.byCategory))]);
  const rows: TrendRow[] = [];
  for (const category of categories) {
    const series = earlier.map((p) => p.byCategory[category] ?? 0);
    const sorted = [...series].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    const t = today[category] ?? 0;
    if (t === 0 && series.every((v) => v === 0)) continue;
    rows.push({
      category,
      today: t,
      yesterday: formatCount(series.at(-1) ?? 0),
      median: formatCount(median),
      standsOut: t >= 3 && t >= 2 * Math.max(1, median),
    });
  }
  rows.sort((a, b) => Number(b.standsOut) - Number(a.standsOut) || b.today - a.today || a.category.localeCompare(b.category));
  return {
    building: false,
    note: `Security-relevant events (low and above) per category; median of the last ${earlier.length} delivered days.`,
    rows,
  };
}
