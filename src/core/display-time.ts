/** Times as the digest shows them: in REPORT_TIMEZONE, with the zone named. */
import { formatWall } from './wall-time.js';

/** "2025-03-09 17:05" (minutes) in the zone. */
export function formatLocalMinute(at: number, timeZone: string): string {
  return formatWall(at, timeZone).slice(0, 16);
}

/** "2025-03-09 17:05:31" in the zone. */
export function formatLocalSecond(at: number, timeZone: string): string {
  return formatWall(at, timeZone);
}

/**
 * formatLocalSecond for many instants: the local minute is computed once per UTC minute (zones' offsets
 * are whole minutes; where one is not, every second is formatted on its own).
 */
export function createLocalSecondFormatter(timeZone: string): (at: number) => string {
  let minute = Number.NaN;
  let prefix: string | null = null;
  return (at) => {
    const m = Math.floor(at / 60_000);
    if (m !== minute) {
      minute = m;
      const start = formatWall(m * 60_000, timeZone);
      prefix = start.endsWith(':00') ? start.slice(0, 17) : null;
    }
    if (prefix === null) return formatWall(at, timeZone);
    const s = Math.floor((at - minute * 60_000) / 1000);
    return `${prefix}${s < 10 ? '0' : ''}${s}`;
  };
}

/** "2025-03-09T07:00:00Z" */
export function formatUtc(at: number): string {
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** formatUtc for many instants: the date, hour and minute are formatted once per minute. */
export function createUtcSecondFormatter(): (at: number) => string {
  let minute = Number.NaN;
  let prefix: string | null = null;
  return (instant) => {
    // As Date reads it: whole milliseconds, toward zero.
    const at = Math.trunc(instant);
    const m = Math.floor(at / 60_000);
    if (m !== minute) {
      minute = m;
      const iso = new Date(m * 60_000).toISOString();
      // "2025-03-09T07:00:" (years outside 0000–9999 have another shape: formatted whole).
      prefix = iso.length === 24 ? iso.slice(0, 17) : null;
    }
    if (prefix === null) return formatUtc(instant);
    const s = Math.floor((at - minute * 60_000) / 1000);
    return `${prefix}${s < 10 ? '0' : ''}${s}Z`;
  };
}

/** "24 hours", "3 days 2 hours", "45 minutes" */
export function formatDuration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  const parts: string[] = [];
  if (days) parts.push(`${days} day${days === 1 ? '' : 's'}`);
  if (hours) parts.push(`${hours} hour${hours === 1 ? '' : 's'}`);
  if (mins && days === 0) parts.push(`${mins} minute${mins === 1 ? '' : 's'}`);
  if (parts.length === 0) return days === 0 && hours === 0 ? '0 minutes' : parts.join(' ');
  // Whole days read better as hours up to 48 h ("24 hours", "36 hours").
  if (minutes % 60 === 0 && minutes <= 48 * 60) return `${minutes / 60} hours`;
  return parts.join(' ');
}

const integer = new Intl.NumberFormat('en-US');
export const formatCount = (n: number): string => integer.format(n);

/** "1 event", "2 events", "1,204 events"; `countOf(n, 'entry', 'entries')` for irregular plurals. */
export function countOf(n: number, singular: string, plural = `${singular}s`): string {
  return `${formatCount(n)} ${n === 1 ? singular : plural}`;
}
