/**
 * What becomes of the rows of one window as the LastPass client hands them over, page by page: each row
 * is analysed, the rows of the window's last minutes are fingerprinted for the next run's late-arrival
 * check, and of the re-queried tail of the previous window only the rows it had not seen are analysed. No
 * row outlives the call that hands it over.
 */
import type { NoiseControlSettings } from './noise-control.js';
import { createHash } from 'node:crypto';
import { createAnalysis, type AnalysisResult } from './analysis.js';
import type { HistorySnapshot } from './detections/detection.js';
import type { AuditEvent, RawEvent } from './types.js';
import { wellFormed } from './visible-text.js';

/**
 * Where the LastPass client puts the rows of a fetch: each row as LastPass sent it, with its `Time`
 * resolved to an instant (epoch ms). The client may hand in the same row object every time: a sink
 * copies what it keeps.
 */
export interface RowSink {
  add(row: RawEvent, at: number): void;
}

export interface WindowIntakeOptions {
  apiUser: string;
  windowStart: number;
  windowEnd: number;
  history: HistorySnapshot;
  /** Rows at or after this LastPass time are fingerprinted for the next run (null: none). */
  tailFrom: string | null;
  /** The previous window's tail fingerprints (a multiset), for re-querying that tail (null: no re-query). */
  knownTail: Record<string, number> | null;
  /** Noise control (LASTPASS_KNOWN_API_CALLERS, REPORT_SEVERITY_OVERRIDES, REPORT_IGNORE_USERS). */
  noise?: NoiseControlSettings;
}

export interface WindowIntakeResult {
  analysis: AnalysisResult;
  /** Fingerprints (with counts) of the rows at or after `tailFrom`. */
  tailPrints: Record<string, number>;
  /** Rows of the re-queried tail that were not there when the previous window was reported. */
  lateArrivals: number;
}

export interface WindowIntake {
  /** The re-query of the previous window's tail: only rows it had not seen are analysed. */
  readonly late: RowSink;
  /** The window's own rows. */
  readonly window: RowSink;
  /** The analysis of everything taken, and the fingerprints for the next run. */
  finish(): WindowIntakeResult;
}

/** Identity of a row for the late-arrival check: a multiset of these tells new rows from known ones. */
export function fingerprint(row: RawEvent): string {
  return createHash('sha1')
    .update(`${row.Time}\u0000${row.Username}\u0000${row.IP_Address}\u0000${row.Action}\u0000${row.Data}`)
    .digest('base64')
    .slice(0, 16);
}

/**
 * Distinct tail fingerprints kept for the next run's late-arrival check (a tail of an attack day holds
 * thousands of distinct rows). Past it, tail rows are not fingerprinted: at the next run they look like
 * late arrivals and are analysed again (counted twice, never missed), and the limit is said.
 */
export const TAIL_PRINTS_KEPT = 50_000;

export function createWindowIntake(options: WindowIntakeOptions): WindowIntake {
  const analysis = createAnalysis({
    apiUser: options.apiUser,
    windowStart: options.windowStart,
    windowEnd: options.windowEnd,
    history: options.history,
    ...options.noise,
  });
  const known = new Map(Object.entries(options.knownTail ?? {}));
  const prints = new Map<string, number>();
  const { tailFrom } = options;
  let lateArrivals = 0;
  let printsOver = 0;
  // One page's rows repeat their Time (grouped by second): decide "in the tail" once per run of equal values.
  let lastTime: string | null = null;
  let lastInTail = false;
  /** The event the analysis is handed for each row (it copies what it keeps, and trims the action name). */
  const event: AuditEvent = { at: 0, wall: '', username: '', ip: '', action: '', data: '' };
  const analyse = (row: RawEvent, at: number) => {
    event.at = at;
    event.wall = row.Time;
    // Lone surrogates become U+FFFD here, before anything keeps or serialises the text (digest, SendGrid
    // request, attachments, evidence, history); the raw pages in the evidence stay exactly as received.
    event.username = wellFormed(row.Username);
    event.ip = wellFormed(row.IP_Address);
    event.action = wellFormed(row.Action);
    event.data = wellFormed(row.Data);
    analysis.add(event);
  };
  return {
    late: {
      add(row, at) {
        const fp = fingerprint(row);
        const n = known.get(fp) ?? 0;
        if (n > 0) {
          known.set(fp, n - 1);
          return;
        }
        lateArrivals++;
        analyse(row, at);
      },
    },
    window: {
      add(row, at) {
        analyse(row, at);
        const t = row.Time;
        if (t !== lastTime) {
          lastTime = t;
          lastInTail = tailFrom !== null && t >= tailFrom;
        }
        if (lastInTail) {
          const fp = fingerprint(row);
          const n = prints.get(fp);
          if (n !== undefined) prints.set(fp, n + 1);
          else if (prints.size < TAIL_PRINTS_KEPT) prints.set(fp, 1);
          else printsOver++;
        }
      },
    },
    finish: () => {
      const result = analysis.result();
      if (printsOver > 0)
        result.limits.push(
          `Late-arrival check: at most ${TAIL_PRINTS_KEPT.toLocaleString('en-US')} distinct rows of this window's last minutes are remembered; ${printsOver.toLocaleString('en-US')} more will be counted again if the next run's re-query returns them`,
        );
      return { analysis: result, tailPrints: Object.fromEntries(prints), lateArrivals };
    },
  };
}
