/**
 * The analysis of one window, fed one LastPass response at a time (the client's page processor): each
 * response is parsed, its kept rows are resolved to instants and analysed, and the rows of the window's
 * last minutes are fingerprinted for the next run's late-arrival check. Only the paging outcome goes back to
 * the client; no row outlives its page.
 */
import { createHash } from 'node:crypto';
import { processReportingResponse, type PageProcessor } from './adapters/reporting-page.js';
import { createAnalysis, type AnalysisResult } from './core/analysis.js';
import type { HistorySnapshot } from './core/detections/detection.js';
import type { RawEvent } from './core/types.js';
import { createWallResolver } from './core/wall-time.js';
import { UpstreamError } from './errors.js';

export interface WindowSessionOptions {
  apiUser: string;
  windowStart: number;
  windowEnd: number;
  history: HistorySnapshot;
  lastpassTimeZone: string;
  /** Rows at or after this LastPass time are fingerprinted for the next run (null: none). */
  tailFrom: string | null;
  /** The previous window's tail fingerprints (a multiset), for re-querying that tail (null: no re-query). */
  knownTail: Record<string, number> | null;
}

export interface WindowSessionResult {
  analysis: AnalysisResult;
  /** Fingerprints (with counts) of the rows at or after `tailFrom`. */
  tailPrints: Record<string, number>;
  /** Rows of the re-queried tail that were not there when the previous window was reported. */
  lateArrivals: number;
}

export interface WindowSession {
  /** Processes the re-query of the previous window's tail: only rows it had not seen are analysed. */
  readonly late: PageProcessor;
  /** Processes the window's own responses. */
  readonly window: PageProcessor;
  /** The analysis of everything taken, and the fingerprints for the next run. */
  finish(): WindowSessionResult;
}

/** Identity of a row for the late-arrival check: a multiset of these tells new rows from known ones. */
export function fingerprint(row: RawEvent): string {
  return createHash('sha1').update(`${row.Time}\u0000${row.Username}\u0000${row.IP_Address}\u0000${row.Action}\u0000${row.Data}`).digest('base64').slice(0, 16);
}

export function createWindowSession(options: WindowSessionOptions): WindowSession {
  const acc = createAnalysis({
    apiUser: options.apiUser,
    windowStart: options.windowStart,
    windowEnd: options.windowEnd,
    history: options.history,
  });
  const resolve = createWallResolver(options.lastpassTimeZone);
  const instantOf = (row: RawEvent): number => {
    const at = resolve(row.Time);
    if (Number.isNaN(at)) {
      throw new UpstreamError(`LastPass sent an event with an unreadable Time "${row.Time.slice(0, 40)}".`, {
        service: 'lastpass',
        url: '',
        retryable: false,
      });
    }
    return at;
  };
  const known = new Map(Object.entries(options.knownTail ?? {}));
  const prints = new Map<string, number>();
  const { tailFrom } = options;
  let lateArrivals = 0;

  const takeLate = (rows: RawEvent[]) => {
    for (const row of rows) {
      const fp = fingerprint(row);
      const n = known.get(fp) ?? 0;
      if (n > 0) {
        known.set(fp, n - 1);
        continue;
      }
      lateArrivals++;
      acc.addRow(row, instantOf(row));
    }
  };
  const takeWindow = (rows: RawEvent[]) => {
    for (const row of rows) {
      acc.addRow(row, instantOf(row));
      if (tailFrom !== null && row.Time >= tailFrom) {
        const fp = fingerprint(row);
        prints.set(fp, (prints.get(fp) ?? 0) + 1);
      }
    }
  };
  return {
    late: (response) => processReportingResponse(response, takeLate),
    window: (response) => processReportingResponse(response, takeWindow),
    finish: () => ({ analysis: acc.result(), tailPrints: Object.fromEntries(prints), lateArrivals }),
  };
}
