/**
 * The time-zone self-check: which UTC offset LastPass speaks, inferred from this worker's own requests.
 * Every `reporting` call is logged by LastPass as a `Reporting` row ("Initiated by API: <apiuser>") with the
 * wall time it logged the call at. The worker knows when it sent each request and when the answer came, so
 * a row of ours at wall time W, logged while request j was in flight, puts the offset in
 * [W − answeredAt_j, W − sentAt_j + 1 s) (W is truncated to its second; 2 s of slack either side). Offsets
 * are whole quarter hours within −12 h … +14 h. For each candidate, this run's requests are matched to
 * distinct rows of ours (a row vouches for one request; the same row seen in two responses is one row), and
 * the offset matched by the most requests wins (a tie goes to the configured one, then the nearest). An
 * offset counts only when at least 2 requests match it: one row can fit a wrong offset by a coincidence of
 * timing (an earlier run's row, a day away), two distinct rows at the distinct requests' times cannot.
 * The run sends two clock probes before its window for that reason: whichever way LastPass is off, both
 * of their rows come back, in the window's rows or in the self-check's.
 *
 * Also the newest event: a row later than "now" in LASTPASS_TIMEZONE (by more than the threshold) means
 * LastPass speaks a zone at least that far ahead, even when no echo of ours was in the rows seen.
 * Pure (Intl only).
 */
import type { Caution } from './digest-model.js';
import { formatCount } from './display-time.js';
import { offsetAt, parseWall } from './wall-time.js';

/** A disagreement this large (or larger) between LastPass and LASTPASS_TIMEZONE is a caution. */
export const ZONE_MISMATCH_MS = 30 * 60_000;

const QUARTER_HOUR = 15 * 60_000;
const MIN_OFFSET = -12 * 3_600_000;
const MAX_OFFSET = 14 * 3_600_000;
const SLACK_MS = 2_000;

/** Fewer requests matched than this is no inference. */
export const MIN_MATCHED_REQUESTS = 2;

export interface ZoneEvidence {
  /** This run's requests: when each was sent and answered (epoch ms). */
  requests: readonly { sentAt: number; receivedAt: number }[];
  /**
   * The rows of this worker's own API calls seen, per wall time, one record per set of responses (ranges
   * may overlap at an edge: a wall time counts as often as the most any one set holds).
   */
  echoes: readonly Readonly<Record<string, number>>[];
  /** The newest Time of any row seen (null: none). */
  newestWall: string | null;
}

export interface ZoneInference {
  configuredZone: string;
  configuredOffsetMs: number;
  /** The offset LastPass's own rows of this run's requests fit, or null when none of them was seen. */
  inferredOffsetMs: number | null;
  /** How many of this run's requests had their own row at that offset. */
  matchedRequests: number;
  /** How far the newest row lies after now in the configured zone (0 when it does not). */
  newestAheadMs: number;
}

/** Epoch ms of a wall string read as if it were UTC (its "local" value), or NaN. */
function localMs(wall: string): number {
  const f = parseWall(wall);
  return f ? Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second) : Number.NaN;
}

export function inferZone(evidence: ZoneEvidence, configuredZone: string, now: Date): ZoneInference {
  const configuredOffsetMs = offsetAt(now.getTime(), configuredZone);
  const rows = new Map<string, number>();
  for (const set of evidence.echoes) for (const [wall, n] of Object.entries(set)) rows.set(wall, Math.max(rows.get(wall) ?? 0, n));
  const walls = [...rows.entries()]
    .map(([wall, count]) => ({ local: localMs(wall), count }))
    .filter((w) => !Number.isNaN(w.local))
    .sort((a, b) => a.local - b.local);
  const requests = [...evidence.requests].sort((a, b) => a.sentAt - b.sentAt);
  // The offsets a row can mean with a request in flight; each candidate is then matched as a whole.
  const span = (local: number, r: { sentAt: number; receivedAt: number }) => ({
    lo: local - r.receivedAt - SLACK_MS,
    hi: local - r.sentAt + 1000 + SLACK_MS,
  });
  const candidates = new Set<number>();
  for (const w of walls) {
    for (const r of requests) {
      const { lo, hi } = span(w.local, r);
      for (let o = Math.ceil(Math.max(lo, MIN_OFFSET) / QUARTER_HOUR) * QUARTER_HOUR; o <= Math.min(hi, MAX_OFFSET); o += QUARTER_HOUR) {
        candidates.add(o);
      }
    }
    if (candidates.size > 200) break;
  }
  const matched = (o: number): number => {
    const left = walls.map((w) => w.count);
    let n = 0;
    for (const r of requests) {
      // The earliest unused row this request can have written at offset o.
      const i = walls.findIndex((w, k) => {
        if (left[k]! <= 0) return false;
        const { lo, hi } = span(w.local, r);
        return o >= lo && o <= hi;
      });
      if (i >= 0) {
        left[i]!--;
        n++;
      }
    }
    return n;
  };
  let best: number | null = null;
  let bestVotes = 0;
  for (const o of candidates) {
    const n = matched(o);
    const better =
      n > bestVotes ||
      (n === bestVotes &&
        best !== null &&
        (o === configuredOffsetMs ||
          (best !== configuredOffsetMs && Math.abs(o - configuredOffsetMs) < Math.abs(best - configuredOffsetMs))));
    if (better) {
      best = o;
      bestVotes = n;
    }
  }
  const newest = evidence.newestWall === null ? Number.NaN : localMs(evidence.newestWall);
  const newestAheadMs = Number.isNaN(newest) ? 0 : Math.max(0, newest - (now.getTime() + configuredOffsetMs));
  const inferred = bestVotes >= MIN_MATCHED_REQUESTS ? best : null;
  return {
    configuredZone,
    configuredOffsetMs,
    inferredOffsetMs: inferred,
    matchedRequests: inferred === null ? 0 : bestVotes,
    newestAheadMs,
  };
}

/** "UTC+01:00", "UTC-05:00", "UTC+05:45". */
export function formatOffset(ms: number): string {
  const sign = ms < 0 ? '-' : '+';
  const minutes = Math.round(Math.abs(ms) / 60_000);
  return `UTC${sign}${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

const COMMON_ZONES = [
  'UTC',
  'Europe/London',
  'Europe/Berlin',
  'Europe/Helsinki',
  'Europe/Moscow',
  'America/New_York',
  'America/Chicago',
  'America/Denver',
  'America/Phoenix',
  'America/Los_Angeles',
  'America/Anchorage',
  'Pacific/Honolulu',
  'America/Sao_Paulo',
  'Asia/Dubai',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Asia/Shanghai',
  'Asia/Singapore',
  'Asia/Tokyo',
  'Australia/Sydney',
  'Pacific/Auckland',
];

/** A few IANA zones with this offset at `now`, well-known ones first. */
export function zonesWithOffset(offsetMs: number, now: Date, limit = 3): string[] {
  const at = now.getTime();
  const fits = COMMON_ZONES.filter((z) => offsetAt(at, z) === offsetMs);
  if (fits.length < limit) {
    const all = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
    for (const z of all) {
      if (fits.length >= limit) break;
      if (!fits.includes(z) && offsetAt(at, z) === offsetMs) fits.push(z);
    }
  }
  return fits.slice(0, limit);
}

/** The digest's caution when LastPass speaks another zone than LASTPASS_TIMEZONE (null when it does not). */
export function zoneCaution(inference: ZoneInference, apiUser: string, now: Date): Caution | null {
  const { configuredZone, configuredOffsetMs, inferredOffsetMs, newestAheadMs } = inference;
  const configured = `LASTPASS_TIMEZONE=${configuredZone} (${formatOffset(configuredOffsetMs)} now)`;
  const fix =
    'The window was asked for in the wrong zone: events near its edges may be missing or belong to another day, and times in this digest may be off. Set LASTPASS_TIMEZONE to the zone of the admin account that owns the API secret and run "lastpass-audit-digest check".';
  if (inferredOffsetMs !== null && Math.abs(inferredOffsetMs - configuredOffsetMs) >= ZONE_MISMATCH_MS) {
    const fits = zonesWithOffset(inferredOffsetMs, now);
    return {
      headline: `LastPass speaks ${formatOffset(inferredOffsetMs)}, not ${configuredZone}`,
      detail: `LastPass logged this run's own requests (Reporting, "Initiated by API: ${apiUser}"; ${formatCount(inference.matchedRequests)} matched) at wall times that fit ${formatOffset(inferredOffsetMs)}${fits.length ? ` (${fits.join(', ')})` : ''}, while ${configured}. ${fix}`,
    };
  }
  if (inferredOffsetMs === null && newestAheadMs >= ZONE_MISMATCH_MS) {
    const ahead = Math.floor(newestAheadMs / QUARTER_HOUR) * QUARTER_HOUR;
    return {
      headline: `LastPass speaks a zone at least ${formatOffset(ahead).slice(3)} ahead of ${configuredZone}`,
      detail: `LastPass returned events later than now in ${configured}, by ${Math.round(newestAheadMs / 60_000)} minutes: it speaks a zone at least that far ahead (none of this run's own requests was seen to tell exactly). ${fix}`,
    };
  }
  return null;
}
