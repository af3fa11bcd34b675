/**
 * Wall-clock time in an IANA zone <-> instants, explicit about DST.
 *
 * LastPass speaks zone-less wall-clock strings (`YYYY-MM-DD HH:MM:SS`) in the zone of the admin account
 * (LASTPASS_TIMEZONE). Two wall times need a rule:
 * - **Skipped** (spring forward, e.g. 02:30 on the US spring day): it never happened on a real clock; we map
 *   it with the offset in force *before* the gap (02:30 EST-as-if = 03:30 EDT), like Temporal's
 *   "compatible" disambiguation. Such a row can only come from a clock that did not jump; keeping it is
 *   better than dropping it.
 * - **Repeated** (fall back, 01:00-01:59 happens twice): the string does not say which pass it was. We pick
 *   the **earlier** instant (the DST offset, first pass), as Temporal's "compatible" does. The choice only
 *   affects the time we display (by at most the size of the shift); which window an event belongs to is
 *   decided by its wall string (see `wallBoundary`), so no event is lost or counted twice either way.
 */

const WALL_RE = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
const HOUR_MS = 3_600_000;

export interface WallFields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** Parses `YYYY-MM-DD HH:MM:SS` strictly; null for anything else (including impossible dates). */
export function parseWall(text: string): WallFields | null {
  const m = WALL_RE.exec(text);
  if (!m) return null;
  const f: WallFields = {
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: Number(m[4]),
    minute: Number(m[5]),
    second: Number(m[6]),
  };
  if (f.month < 1 || f.month > 12 || f.day < 1 || f.hour > 23 || f.minute > 59 || f.second > 59) return null;
  const probe = new Date(Date.UTC(f.year, f.month - 1, f.day));
  if (probe.getUTCDate() !== f.day) return null;
  return f;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `timeZone` is an IANA zone this runtime knows. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

function fieldsAt(at: number, timeZone: string): WallFields {
  const parts = formatterFor(timeZone).formatToParts(new Date(at));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return {
    year: get('year'),
    month: get('month'),
    day: get('day'),
    hour: get('hour'),
    minute: get('minute'),
    second: get('second'),
  };
}

function utcOfFields(f: WallFields): number {
  return Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second);
}

/** The zone's offset from UTC at an instant, in milliseconds (positive east of Greenwich). */
export function offsetAt(at: number, timeZone: string): number {
  const whole = Math.floor(at / 1000) * 1000;
  return utcOfFields(fieldsAt(whole, timeZone)) - whole;
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

export function formatFields(f: WallFields): string {
  return `${f.year}-${pad2(f.month)}-${pad2(f.day)} ${pad2(f.hour)}:${pad2(f.minute)}:${pad2(f.second)}`;
}

/** The wall-clock string of an instant in a zone (seconds truncated). */
export function formatWall(at: number, timeZone: string): string {
  return formatFields(fieldsAt(Math.floor(at / 1000) * 1000, timeZone));
}

export type WallResolution = 'exact' | 'repeated' | 'skipped';

/**
 * The instant of a wall-clock time in a zone, with the rules in this file's header.
 * Returns null when the text is not a valid `YYYY-MM-DD HH:MM:SS`.
 */
export function resolveWall(text: string, timeZone: string): { at: number; resolution: WallResolution } | null {
  const f = parseWall(text);
  if (!f) return null;
  return resolveFields(f, timeZone);
}

function resolveFields(f: WallFields, timeZone: string): { at: number; resolution: WallResolution } {
  const local = utcOfFields(f);
  // Offsets a little before and after cover any transition near this wall time (shifts are < 12 h).
  const before = offsetAt(local - 12 * HOUR_MS, timeZone);
  const after = offsetAt(local + 12 * HOUR_MS, timeZone);
  const candidates = before === after ? [local - before] : [local - before, local - after];
  const valid = candidates.filter((t) => t + offsetAt(t, timeZone) === local);
  if (valid.length === 0) return { at: local - before, resolution: 'skipped' };
  const unique = [...new Set(valid)].sort((a, b) => a - b);
  return { at: unique[0]!, resolution: unique.length > 1 ? 'repeated' : 'exact' };
}

/**
 * A fast converter for many wall strings of one zone: the offset of a local hour is cached when the
 * zone's offset is the same 14 hours either side of it (every hour except those near a transition).
 * Returns NaN for a malformed string.
 */
export function createWallResolver(timeZone: string): (text: string) => number {
  const hourCache = new Map<string, number>();
  // Events arrive sorted, so consecutive ones mostly share a minute: remember the last minute's instant
  // (only for minutes whose hour had a single offset) and add the seconds, without parsing or allocating.
  let lastMinute = '';
  let lastMinuteAt = 0;
  const resolveSlow = (text: string): number => {
    const hourKey = text.slice(0, 13);
    const cached = hourCache.get(hourKey);
    if (cached !== undefined && text.length === 19) {
      const f = parseWall(text);
      return f ? utcOfFields(f) - cached : Number.NaN;
    }
    const f = parseWall(text);
    if (!f) return Number.NaN;
    const local = utcOfFields(f);
    const hourStart = local - (f.minute * 60 + f.second) * 1000;
    const a = offsetAt(hourStart - 14 * HOUR_MS, timeZone);
    const b = offsetAt(hourStart + 15 * HOUR_MS, timeZone);
    if (a === b) {
      if (hourCache.size > 10_000) hourCache.clear();
      hourCache.set(hourKey, a);
      return local - a;
    }
    return resolveFields(f, timeZone).at;
  };
  return (text: string) => {
    if (lastMinute !== '' && text.length === 19 && text.startsWith(lastMinute)) {
      const d1 = text.charCodeAt(17) - 48;
      const d2 = text.charCodeAt(18) - 48;
      if (d1 >= 0 && d1 <= 5 && d2 >= 0 && d2 <= 9) return lastMinuteAt + (d1 * 10 + d2) * 1000;
      return Number.NaN;
    }
    const at = resolveSlow(text);
    // Remember the minute only where the hour's offset was uniform (cached), never near a transition.
    if (!Number.isNaN(at) && hourCache.has(text.slice(0, 13))) {
      lastMinute = text.slice(0, 17);
      lastMinuteAt = at - Number(text.slice(17, 19)) * 1000;
    } else {
      lastMinute = '';
    }
    return at;
  };
}

/**
 * The wall-clock boundary of an instant, monotone in the instant: the smallest wall time that no instant
 * before `at` has shown. Normally `formatWall(ceil-to-second(at))`; inside the second pass of a repeated
 * hour it is the end of the repeated range, because those wall times were already covered by the first
 * pass. Windows ask LastPass for [wallBoundary(start), wallBoundary(end) - 1 s], so consecutive windows
 * never overlap or leave a gap in wall-clock terms, which is how LastPass selects events.
 */
export function wallBoundary(at: number, timeZone: string): string {
  const t = Math.ceil(at / 1000) * 1000;
  const now = t + offsetAt(t, timeZone);
  // Look back for a backward transition in the last 3 hours (shifts are at most 2 h in practice).
  const earlier = t - 3 * HOUR_MS;
  const oPrev = offsetAt(earlier, timeZone);
  const oNow = offsetAt(t, timeZone);
  if (oPrev <= oNow) return formatWallFromLocal(now);
  // Binary search the transition instant T in (earlier, t]: offset(T-1s) = oPrev-ish, offset(T) < it.
  let lo = earlier; // offset(lo) = oPrev
  let hi = t; // offset(hi) = oNow < oPrev
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (offsetAt(mid, timeZone) === oPrev) lo = mid;
    else hi = mid;
  }
  const maxBefore = hi + offsetAt(lo, timeZone); // the wall time the first pass reached at the transition
  return formatWallFromLocal(Math.max(now, maxBefore));
}

function formatWallFromLocal(local: number): string {
  const d = new Date(local);
  return formatFields({
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  });
}

/** One second before a wall string (pure calendar arithmetic, no zone). */
export function wallMinusOneSecond(wall: string): string {
  const f = parseWall(wall);
  if (!f) throw new RangeError(`not a wall time: ${wall}`);
  return formatWallFromLocal(utcOfFields(f) - 1000);
}

/** One second after a wall string (pure calendar arithmetic, no zone). */
export function wallPlusOneSecond(wall: string): string {
  const f = parseWall(wall);
  if (!f) throw new RangeError(`not a wall time: ${wall}`);
  return formatWallFromLocal(utcOfFields(f) + 1000);
}
