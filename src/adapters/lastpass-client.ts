/**
 * The LastPass Enterprise API `reporting` client.
 *
 * Completeness past the 10,000-event page limit, without depending on where `next` goes in a request:
 * LastPass returns the newest events of [from, to] first. When a response is full (or carries `next`), the
 * events of its *oldest* second may be cut, so we keep only the events strictly newer than that second and
 * ask again with `to` set to it. Every second's events therefore come from exactly one response: the
 * boundary duplicates that `next` would produce cannot occur, and genuine repeats (two identical failed
 * logins in one second) are all kept. A full page that is a single second cannot be split further and is
 * reported as incomplete rather than guessed at.
 */
import { AuthorizationError, IncompleteDataError, UpstreamError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RawEvent, WallRange } from '../core/types.js';
import { DEFAULT_RETRY_POLICY, realSleep, withRetry, type RetryPolicy, type Sleep } from './retry.js';

export const LASTPASS_PAGE_LIMIT = 10_000;

export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

export interface LastPassClientOptions {
  apiUrl: string;
  accountNumber: string;
  apiSecret: string;
  apiUser: string;
  timeoutMs?: number;
  pageLimit?: number;
  fetch?: FetchLike;
  sleep?: Sleep;
  now?: () => number;
  logger: Logger;
  retryPolicy?: RetryPolicy;
}

export interface FetchStats {
  requests: number;
  /** Responses that carried events. */
  pages: number;
  /** Events passed on (after removing the cut boundary second of full pages). */
  events: number;
  /** Rows LastPass returned outside the asked range (dropped, logged). */
  outOfRange: number;
  /** Attempts that failed and were retried. */
  retries: number;
}

export interface PageInfo {
  /** The range this response answered. */
  range: WallRange;
  /** The exact body bytes, for evidence. Do not keep a reference past the callback. */
  body: string;
  requestNumber: number;
}

export interface ReportingPage {
  rows: RawEvent[];
  next: string | null;
  body: string;
}

export interface LastPassClient {
  /**
   * Streams every event of `range` (both ends inclusive) to `onEvents`, newest first, one page at a time.
   * Resolves only when the whole range was fetched; throws otherwise.
   */
  fetchRange(
    range: WallRange,
    onEvents: (rows: RawEvent[], page: PageInfo) => void | Promise<void>,
    options?: { deadline?: number },
  ): Promise<FetchStats>;
  /** One request, for `check`. */
  probe(range: WallRange): Promise<{ events: number }>;
}

const FIELDS = ['Time', 'Username', 'IP_Address', 'Action', 'Data'] as const;

/** The host and path of a URL, never its query (which could carry a token through a proxy). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function retryAfterSeconds(header: string | null, now: number): number | null {
  if (!header) return null;
  const s = Number(header.trim());
  if (Number.isFinite(s)) return Math.max(0, s);
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, Math.ceil((at - now) / 1000)) : null;
}

function snippet(body: string): string {
  return body.replace(/\s+/g, ' ').trim().slice(0, 120);
}

/** Interprets one response. Exported for tests of the parsing rules. */
export function parseReportingResponse(
  status: number,
  contentType: string,
  body: string,
  ctx: { url: string; now: number; retryAfter: string | null },
): ReportingPage {
  const base = { service: 'lastpass' as const, status, url: ctx.url };
  const trimmed = body.trimStart();
  if (trimmed.startsWith('<')) {
    const rc = /<lastpass[^>]*\brc="([^"]*)"/i.exec(trimmed)?.[1];
    if (rc && /authori[sz]ation/i.test(rc)) {
      throw new AuthorizationError(
        'LastPass rejected the account number or API secret (Authorization Error): check LASTPASS_ACCOUNT_NUMBER and LASTPASS_API_KEY; the secret may have been regenerated in the Admin Console (Advanced > Enterprise API), which invalidates the old one at once.',
        { ...base, retryable: false },
      );
    }
    if (rc) {
      throw new UpstreamError(`LastPass answered with an XML error "${rc}" (HTTP ${status}).`, { ...base, retryable: false });
    }
    const retryable = status >= 500 || status === 429;
    throw new UpstreamError(
      `LastPass answered with HTML instead of JSON (HTTP ${status}${contentType ? `, ${contentType.split(';')[0]}` : ''}): ` +
        (status === 403
          ? 'the CDN in front of LastPass blocked the request; check LASTPASS_API_URL and that this host may reach it.'
          : `probably an error page from the CDN in front of LastPass ("${snippet(trimmed)}").`),
      { ...base, retryable, retryAfterSeconds: retryAfterSeconds(ctx.retryAfter, ctx.now) },
    );
  }
  if (status === 429 || status >= 500) {
    throw new UpstreamError(`LastPass answered HTTP ${status}${status === 429 ? ' (rate limited)' : ''}.`, {
      ...base,
      retryable: true,
      retryAfterSeconds: retryAfterSeconds(ctx.retryAfter, ctx.now),
    });
  }
  if (status !== 200) {
    throw new UpstreamError(`LastPass answered HTTP ${status} ("${snippet(body)}"): check LASTPASS_API_URL.`, { ...base, retryable: false });
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new UpstreamError(
      `LastPass sent a body that is not complete JSON (${body.length} bytes${body.length === 0 ? ', empty' : ''}): the response was truncated or garbled; no events from it are used.`,
      { ...base, retryable: true },
    );
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new UpstreamError('LastPass sent JSON that is not an object: no events from it are used.', { ...base, retryable: false });
  }
  const obj = json as Record<string, unknown>;
  if (obj.status !== 'OK') {
    const text = [obj.error, obj.message, obj.errors].find((v) => typeof v === 'string' && v.trim() !== '') as string | undefined;
    throw new UpstreamError(
      `LastPass answered status "${String(obj.status ?? '(missing)')}"${text ? `: ${text}` : ' without an error text'}.`,
      { ...base, retryable: false },
    );
  }
  const data = obj.data;
  let list: unknown[];
  if (data === undefined || data === null) list = [];
  else if (Array.isArray(data)) list = data;
  else if (typeof data === 'object') list = Object.values(data as Record<string, unknown>);
  else throw new UpstreamError(`LastPass sent "data" of type ${typeof data}: expected an object of events.`, { ...base, retryable: false });

  const rows: RawEvent[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    if (typeof item !== 'object' || item === null) {
      throw new UpstreamError(`LastPass sent an event that is not an object (position ${i + 1}).`, { ...base, retryable: false });
    }
    const r = item as Record<string, unknown>;
    if (typeof r.Time !== 'string') {
      throw new UpstreamError(`LastPass sent an event without a Time (position ${i + 1}).`, { ...base, retryable: false });
    }
    // Hot path: the usual row already has five strings and is used as it is; others are normalised.
    if (typeof r.Username === 'string' && typeof r.IP_Address === 'string' && typeof r.Action === 'string' && typeof r.Data === 'string') {
      rows[i] = r as unknown as RawEvent;
      continue;
    }
    const row = {} as RawEvent;
    for (const f of FIELDS) {
      const v = r[f];
      row[f] = typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
    }
    rows[i] = row;
  }
  const next = obj.next;
  const nextText =
    next === undefined || next === null || next === '' || next === false || next === 0 || next === '0' ? null : String(next);
  return { rows, next: nextText, body };
}

export function createLastPassClient(options: LastPassClientOptions): LastPassClient {
  const fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const sleep = options.sleep ?? realSleep;
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const pageLimit = options.pageLimit ?? LASTPASS_PAGE_LIMIT;
  const url = options.apiUrl;
  const safeUrl = redactUrl(url);
  const { logger } = options;

  async function requestOnce(range: WallRange): Promise<ReportingPage> {
    const body = JSON.stringify({
      cid: options.accountNumber,
      provhash: options.apiSecret,
      apiuser: options.apiUser,
      cmd: 'reporting',
      data: { from: range.from, to: range.to },
    });
    let response: Response;
    let text: string;
    try {
      response = await fetchImpl(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      throw new UpstreamError(
        timedOut
          ? `LastPass did not answer within ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`} (LASTPASS_TIMEOUT_SECONDS).`
          : `Could not reach LastPass at ${safeUrl}: ${networkReason(error)}.`,
        { service: 'lastpass', url: safeUrl, retryable: true },
      );
    }
    return parseReportingResponse(response.status, response.headers.get('content-type') ?? '', text, {
      url: safeUrl,
      now: now(),
      retryAfter: response.headers.get('retry-after'),
    });
  }

  async function request(range: WallRange, stats: FetchStats, deadline?: number): Promise<ReportingPage> {
    return withRetry(
      async (attempt) => {
        if (attempt > 1) stats.retries++;
        stats.requests++;
        return requestOnce(range);
      },
      {
        policy: options.retryPolicy ?? DEFAULT_RETRY_POLICY,
        sleep,
        logger,
        now,
        ...(deadline === undefined ? {} : { deadline }),
      },
      { service: 'lastpass', what: 'reporting' },
    );
  }

  return {
    async fetchRange(range, onEvents, fetchOptions) {
      const stats: FetchStats = { requests: 0, pages: 0, events: 0, outOfRange: 0, retries: 0 };
      let to = range.to;
      const from = range.from;
      // One request ahead: as soon as a page is parsed, the next range is known, so the next request
      // goes out while this page is being processed (at most two pages are held at once).
      let inFlight: Promise<ReportingPage> | null = null;
      while (from <= to) {
        const current = { from, to };
        const page = await (inFlight ?? request(current, stats, fetchOptions?.deadline));
        inFlight = null;
        const rows = page.rows;
        let oldest: string | null = null;
        let inRange = 0;
        for (const row of rows) {
          if (row.Time < from || row.Time > to) continue;
          inRange++;
          if (oldest === null || row.Time < oldest) oldest = row.Time;
        }
        const dropped = rows.length - inRange;
        if (dropped > 0) {
          stats.outOfRange += dropped;
          logger.warn('lastpass.rows_out_of_range', { from, to, dropped });
        }
        const cut = rows.length >= pageLimit || page.next !== null;
        let keep: RawEvent[];
        let done: boolean;
        if (cut && oldest === null && rows.length > 0) {
          // A cut page with nothing of the asked range in it: what lies in the range was never seen.
          throw new IncompleteDataError(
            `LastPass returned ${rows.length} events for ${from} … ${to}, none of them inside that range, and said more were available: the range cannot be fetched completely.`,
          );
        }
        if (!cut || oldest === null) {
          keep = dropped > 0 ? rows.filter((r) => r.Time >= from && r.Time <= to) : rows;
          done = true;
        } else if (oldest === to) {
          // Every kept row is in the one second `to`.
          if (rows.length >= pageLimit) {
            throw new IncompleteDataError(
              `LastPass returned a full page of ${rows.length} events all at ${to}: more events share that one second than one response can carry, so the window cannot be fetched completely.`,
            );
          }
          // Not full, `next` set but nothing older in range: this response is the whole rest of the range.
          keep = rows.filter((r) => r.Time >= from && r.Time <= to);
          done = true;
        } else {
          const boundary = oldest;
          keep = rows.filter((r) => r.Time > boundary && r.Time <= to);
          to = boundary;
          done = false;
        }
        if (rows.length > 0) stats.pages++;
        stats.events += keep.length;
        logger.debug('lastpass.page', { from: current.from, to: current.to, rows: rows.length, kept: keep.length, more: !done });
        const requestNumber = stats.requests;
        if (!done) {
          inFlight = request({ from, to }, stats, fetchOptions?.deadline);
          // If processing this page fails, the prefetch is abandoned: keep its rejection from going unhandled.
          inFlight.catch(() => {});
        }
        await onEvents(keep, { range: current, body: page.body, requestNumber });
        if (done) break;
      }
      return stats;
    },
    async probe(range) {
      const stats: FetchStats = { requests: 0, pages: 0, events: 0, outOfRange: 0, retries: 0 };
      const page = await request(range, stats);
      return { events: page.rows.length };
    },
  };
}

function networkReason(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: unknown }).cause;
    const code = cause && typeof cause === 'object' && 'code' in cause ? String((cause as { code: unknown }).code) : '';
    return code ? `${error.message} (${code})` : error.message;
  }
  if (error && typeof error === 'object' && 'code' in error) return String((error as { code: unknown }).code);
  return String(error);
}
