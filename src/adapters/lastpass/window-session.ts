/**
 * The analysis of one window, fed one LastPass response at a time (the client's page processor): each
 * response is parsed, its kept rows are resolved to instants and analysed, and the rows of the window's
 * last minutes are fingerprinted for the next run's late-arrival check. Only the paging outcome goes back to
 * the client; no row outlives its page.
 */
import { createHash } from 'node:crypto';
import { createPageScanner, type PageRows } from './page-scanner.js';
import { processReportingResponse, type PageProcessor } from './reporting-page.js';
import { createAnalysis, type AnalysisResult } from '../../core/analysis.js';
import type { HistorySnapshot } from '../../core/detections/detection.js';
import type { RawEvent } from '../../core/types.js';
import { createWallResolver } from '../../core/wall-time.js';
import { UpstreamError } from '../../errors.js';

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
  return fingerprintOf(row.Time, row.Username, row.IP_Address, row.Action, row.Data);
}

function fingerprintOf(time: string, username: string, ip: string, action: string, data: string): string {
  return createHash('sha1').update(`${time}\u0000${username}\u0000${ip}\u0000${action}\u0000${data}`).digest('base64').slice(0, 16);
}

export function createWindowSession(options: WindowSessionOptions): WindowSession {
  const acc = createAnalysis({
    apiUser: options.apiUser,
    windowStart: options.windowStart,
    windowEnd: options.windowEnd,
    history: options.history,
  });
  const resolve = createWallResolver(options.lastpassTimeZone);
  const instantOf = (time: string): number => {
    const at = resolve(time);
    if (Number.isNaN(at)) {
      throw new UpstreamError(`LastPass sent an event with an unreadable Time "${time.slice(0, 40)}".`, {
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
  // One page's rows repeat their Time (grouped by second): resolve each run of equal values once.
  let lastTime: string | null = null;
  let lastAt = 0;
  let lastInTail = false;
  const scanner = createPageScanner();

  const takeLate = (rows: PageRows) => {
    const { time, username, ip, action, data } = rows;
    for (let i = 0; i < rows.length; i++) {
      const fp = fingerprintOf(time[i]!, username[i]!, ip[i]!, action[i]!, data[i]!);
      const n = known.get(fp) ?? 0;
      if (n > 0) {
        known.set(fp, n - 1);
        continue;
      }
      lateArrivals++;
      acc.addValues(instantOf(time[i]!), time[i]!, username[i]!, ip[i]!, action[i]!, data[i]!);
    }
  };
  const takeWindow = (rows: PageRows) => {
    const { time, username, ip, action, data } = rows;
    for (let i = 0; i < rows.length; i++) {
      const t = time[i]!;
      if (t !== lastTime) {
        lastAt = instantOf(t);
        lastTime = t;
        lastInTail = tailFrom !== null && t >= tailFrom;
      }
      acc.addValues(lastAt, t, username[i]!, ip[i]!, action[i]!, data[i]!);
      if (lastInTail) {
        const fp = fingerprintOf(t, username[i]!, ip[i]!, action[i]!, data[i]!);
        prints.set(fp, (prints.get(fp) ?? 0) + 1);
      }
    }
  };
  return {
    late: (response) => processReportingResponse(response, takeLate, scanner),
    window: (response) => processReportingResponse(response, takeWindow, scanner),
    finish: () => ({ analysis: acc.result(), tailPrints: Object.fromEntries(prints), lateArrivals }),
  };
}
