/**
 * The LastPass Enterprise API `reporting` client: transport, retries, paging, and the rows of each page
 * handed to the caller's sink with their instants.
 *
 * Completeness past the 10,000-event page limit, without depending on where `next` goes in a request: the
 * paging rule of src/core/page-decision.ts (a cut page keeps only the rows newer than its oldest second,
 * and the next request asks again up to that second). Each page is read (reporting-page.ts), decided,
 * and its kept rows are resolved to instants and handed to the sink before the next page is read, so
 * nothing holds the whole window.
 */
import { decidePage, isKept, maxRequestsFor, type PageDecision } from '../../core/page-decision.js';
import type { RawEvent, WallRange } from '../../core/types.js';
import { createWallResolver } from '../../core/wall-time.js';
import type { RowSink } from '../../core/window-intake.js';
import { IncompleteDataError, UpstreamError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { FetchEventsOptions, FetchLike, FetchStats, LastPassClient, RequestTiming, Sleep } from '../../ports.js';
import { createOutboundFetch } from '../http/outbound-fetch.js';
import { createSecretRedactor, redactUrl, upstreamSnippet, upstreamText, urlCredentials } from '../http/redact.js';
import { DEFAULT_RETRY_POLICY, realSleep, withRetry, type RetryPolicy } from '../http/retry.js';
import { createPageScanner, type PageScanner } from './page-scanner.js';
import { decodeBody, parseReportingResponse, readPage, type ReportingResponse } from './reporting-page.js';

export { parseReportingResponse, type ReportingPage, type ReportingResponse } from './reporting-page.js';

export const LASTPASS_PAGE_LIMIT = 10_000;

/** A single attempt (probe's `once`). */
const ONCE: RetryPolicy = { retries: 0, baseDelayMs: 0, maxDelayMs: 0, maxRetryAfterMs: 0 };

/**
 * How response bodies are read: the byte scanner for LastPass's plain OK page (anything else still goes
 * to JSON.parse), or JSON.parse for every page (the bench compares the two).
 */
export type PageReader = 'byte-scanner' | 'json-parse';

export interface LastPassClientOptions {
  apiUrl: string;
  accountNumber: string;
  apiSecret: string;
  apiUser: string;
  /** LASTPASS_TIMEZONE: the zone of the wall-clock times LastPass sends, to resolve them to instants. */
  timeZone: string;
  /** Default 'byte-scanner'. */
  pageReader?: PageReader;
  timeoutMs?: number;
  pageLimit?: number;
  /** The most one response may carry (default MAX_BODY_BYTES; tests set less). */
  maxBodyBytes?: number;
  fetch?: FetchLike;
  sleep?: Sleep;
  now?: () => number;
  logger: Logger;
  retryPolicy?: RetryPolicy;
  /** Every other secret of the configuration, redacted from upstream text too (the API secret always is). */
  secrets?: readonly string[];
}

export function createLastPassClient(options: LastPassClientOptions): LastPassClient {
  // Redirects are refused: the body carries the API secret, which never leaves the configured origin.
  const fetchImpl = createOutboundFetch({ service: 'lastpass', ...(options.fetch ? { fetch: options.fetch } : {}) });
  const sleep = options.sleep ?? realSleep;
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const pageLimit = options.pageLimit ?? LASTPASS_PAGE_LIMIT;
  const maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const pageReader = options.pageReader ?? 'byte-scanner';
  const url = options.apiUrl;
  const safeUrl = redactUrl(url);
  const { logger } = options;
  // Upstream text (error bodies, headers, transport errors) is redacted where it enters: a gateway may echo
  // the request, whose body carries the API secret (src/adapters/http/redact.ts).
  const redact = createSecretRedactor([options.apiSecret, ...urlCredentials(url), ...(options.secrets ?? [])]);

  /** One POST, up to the complete body; errors of the transport itself become UpstreamErrors. */
  async function send(range: WallRange, stats: FetchStats): Promise<ReportingResponse> {
    stats.requests++;
    const body = JSON.stringify({
      cid: options.accountNumber,
      provhash: options.apiSecret,
      apiuser: options.apiUser,
      cmd: 'reporting',
      data: { from: range.from, to: range.to },
    });
    const sentAt = now();
    try {
      const response = await fetchImpl(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      // When it was sent and answered, and LastPass's own clock: for the clock check and the zone self-check.
      const timing: RequestTiming = { sentAt, receivedAt: now(), serverDate: httpDate(response.headers.get('date')) };
      stats.timings.push(timing);
      // The bytes are kept as received: the evidence archive stores exactly these, without re-encoding.
      const bytes = await readBodyBytes(response, safeUrl, maxBodyBytes);
      return {
        range,
        requestNumber: stats.requests,
        status: response.status,
        contentType: response.headers.get('content-type') ?? '',
        retryAfter: response.headers.get('retry-after'),
        bytes,
        url: safeUrl,
        now: now(),
        pageLimit,
        timing,
        redact,
      };
    } catch (error) {
      if (error instanceof UpstreamError) throw error;
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      throw new UpstreamError(
        timedOut
          ? `LastPass did not answer within ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`} (LASTPASS_TIMEOUT_SECONDS).`
          : `Could not reach LastPass at ${safeUrl}: ${upstreamText(networkReason(error), redact, 400)}.`,
        { service: 'lastpass', url: safeUrl, retryable: true },
      );
    }
  }

  /** A page read and decided, its rows not yet handed on. */
  interface DecidedPage {
    rows: RawEvent[];
    decision: PageDecision;
  }

  /** A request sent early, for the range the next page will most likely ask for. */
  interface Early {
    range: WallRange;
    response: Promise<ReportingResponse>;
  }

  /**
   * One range, retried as the policy says: send (or take the request already made for it), then process.
   * A response that fails processing is retried like a failed request.
   */
  async function request<T>(
    range: WallRange,
    stats: FetchStats,
    process: (response: ReportingResponse) => T | Promise<T>,
    early: Early | null,
    deadline?: number,
    policy?: RetryPolicy,
  ): Promise<{ response: ReportingResponse; result: T }> {
    let first = early !== null && early.range.from === range.from && early.range.to === range.to ? early.response : null;
    return withRetry(
      async (attempt) => {
        if (attempt > 1) stats.retries++;
        const sent = first ?? send(range, stats);
        first = null;
        const response = await sent;
        return { response, result: await process(response) };
      },
      {
        policy: policy ?? options.retryPolicy ?? DEFAULT_RETRY_POLICY,
        sleep,
        logger,
        now,
        ...(deadline === undefined ? {} : { deadline }),
      },
      { service: 'lastpass', what: 'reporting' },
    );
  }

  /** Reads and decides one response; throws when it is an error or not a complete page (then it is retried). */
  function readAndDecide(response: ReportingResponse, scanner: PageScanner | null): DecidedPage {
    const page = readPage(response, scanner);
    return { rows: page.rows, decision: decidePage(page.rows, page.next, response.range, response.pageLimit) };
  }

  /**
   * Hands a decided page's kept rows to `sink` with their instants. An unreadable Time is a non-retryable
   * error (the sink may have seen the rows before it).
   */
  function deliverRows(rows: readonly RawEvent[], decision: PageDecision, sink: RowSink, resolve: (wall: string) => number): void {
    // Rows come grouped by second: decide and resolve once per run of equal Time values.
    let last: string | null = null;
    let keep = false;
    let at = 0;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const t = row.Time;
      if (t !== last) {
        last = t;
        keep = isKept(decision, t);
        if (keep) {
          at = resolve(t);
          if (Number.isNaN(at)) {
            throw new UpstreamError(`LastPass sent an event with an unreadable Time "${upstreamSnippet(t, redact, 40)}".`, {
              service: 'lastpass',
              url: safeUrl,
              retryable: false,
            });
          }
        }
      }
      if (keep) sink.add(row, at);
    }
  }

  async function fetchEvents(range: WallRange, sink: RowSink, fetchOptions: FetchEventsOptions = {}): Promise<FetchStats> {
    const stats = emptyStats();
    if (range.from > range.to) return stats;
    const { onPage } = fetchOptions;
    // Per fetch: the scanner's intern table (about 3 MB) lives only as long as the fetch.
    const scanner = pageReader === 'byte-scanner' ? createPageScanner() : null;
    const resolve = createWallResolver(options.timeZone);
    const read = (response: ReportingResponse) => readAndDecide(response, scanner);
    // The ranges still to ask, the next one last: a cut page replaces its range with the parts it did not
    // complete (page-decision.ts), so the fetch ends when every part is complete.
    const pending: WallRange[] = [range];
    // One request ahead: as soon as a page is decided, the next range is known and requested, so it travels
    // while this page's rows go to the sink and its bytes to `onPage` (the evidence archive).
    let early: Early | null = null;
    let pageDone: Promise<void> = Promise.resolve();
    try {
      for (;;) {
        const current = pending.pop();
        if (current === undefined) break;
        const ahead: Early | null = early;
        early = null;
        const { response, result }: { response: ReportingResponse; result: DecidedPage } = await request(
          current,
          stats,
          read,
          ahead,
          fetchOptions.deadline,
        );
        const outcome: PageDecision = result.decision;
        for (let i = outcome.remaining.length - 1; i >= 0; i--) pending.push(outcome.remaining[i]!);
        stats.events += outcome.kept;
        stats.rowsReturned += outcome.rows;
        stats.outOfRangeBefore += outcome.before;
        stats.outOfRangeAfter += outcome.after;
        stats.outOfRange += outcome.before + outcome.after;
        if (outcome.rows > 0) stats.pages++;
        const upcoming = pending.at(-1);
        if (upcoming !== undefined) {
          const bound = maxRequestsFor(stats.events, pageLimit);
          if (stats.requests + 1 > bound) {
            throw new IncompleteDataError(
              `LastPass paging for ${range.from} … ${range.to} needed more than ${bound} requests for ${stats.events} events (at most 3 × ⌈events / ${Math.max(1, Math.floor(pageLimit / 20))}⌉ + 10): the responses do not add up, so the window is not complete.`,
            );
          }
          early = { range: upcoming, response: send(upcoming, stats) };
          // If this page fails later on, the early request is abandoned: keep its rejection from going unhandled.
          early.response.catch(() => {});
        }
        // The scanner's rows are valid until it reads the next page, which only happens below, on the next turn.
        deliverRows(result.rows, outcome, sink, resolve);
        if (outcome.before + outcome.after > 0) {
          logger.warn('lastpass.rows_out_of_range', {
            from: current.from,
            to: current.to,
            dropped: outcome.before + outcome.after,
            before: outcome.before,
            after: outcome.after,
          });
        }
        logger.debug('lastpass.page', {
          from: current.from,
          to: current.to,
          rows: outcome.rows,
          kept: outcome.kept,
          order: outcome.order,
          more: outcome.remaining.length,
        });
        // Pages reach `onPage` in order, one at a time, but the next page is fetched and processed while
        // this one's callback runs (it may wait for the evidence archive).
        await pageDone;
        pageDone = Promise.resolve(onPage?.({ range: current, bytes: response.bytes, requestNumber: response.requestNumber }));
        pageDone.catch(() => {}); // awaited below; handled here so that it is never reported as unhandled meanwhile
      }
    } catch (error) {
      // Never settle while a page's callback is still running (its own failure, if any, comes second).
      await pageDone.catch(() => {});
      throw error;
    }
    await pageDone;
    return stats;
  }

  return {
    endpoint: safeUrl,
    fetchEvents,
    async probe(range, sink, probeOptions) {
      const stats = emptyStats();
      const resolve = createWallResolver(options.timeZone);
      const { response, result } = await request(
        range,
        stats,
        (r) => parseReportingResponse(r.status, r.contentType, decodeBody(r.bytes), r),
        null,
        undefined,
        probeOptions?.once ? ONCE : undefined,
      );
      const inRange = result.rows.filter((row) => row.Time >= range.from && row.Time <= range.to);
      if (sink) {
        for (const row of inRange) {
          const at = resolve(row.Time);
          if (!Number.isNaN(at)) sink.add(row, at);
        }
      }
      return {
        events: inRange.length,
        cut: result.rows.length >= pageLimit || result.next !== null,
        timing: response.timing,
        timings: stats.timings,
      };
    },
  };
}

/** A fetch's counters, all zero. */
function emptyStats(): FetchStats {
  return {
    requests: 0,
    pages: 0,
    events: 0,
    rowsReturned: 0,
    outOfRange: 0,
    outOfRangeBefore: 0,
    outOfRangeAfter: 0,
    retries: 0,
    timings: [],
  };
}

/** An HTTP `Date` header as epoch ms (second resolution), or null when absent or unreadable. */
export function httpDate(header: string | null): number | null {
  if (header === null || header.trim() === '') return null;
  const at = Date.parse(header);
  return Number.isFinite(at) ? at : null;
}

/**
 * Bodies up to this size are read straight into one buffer of the announced length (a full page is about
 * 1.5 MB; an upstream announcing more gets no buffer before it has sent the bytes).
 */
const PREALLOCATE_MAX_BYTES = 16 * 1024 * 1024;

/**
 * The most one response may carry: a full page is about 1.5 MB (10,000 events), so this is far beyond any
 * real one, and stops a misbehaving upstream from filling the worker's memory before the timeout.
 */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

/**
 * A response body's bytes, as `arrayBuffer()` would give them. When the response announces its length (and
 * is not content-encoded, where the length is the encoded one), they are read straight into one buffer of
 * that size: `arrayBuffer()` keeps every chunk and then copies them into a new buffer, twice the memory for
 * each page, which the garbage collector has to chase (a day of a million events is 156 MB of bodies).
 * More than `maxBytes` is refused with an UpstreamError. Other errors are the stream's own.
 */
export async function readBodyBytes(response: Response, url: string, maxBytes = MAX_BODY_BYTES): Promise<Uint8Array> {
  const announced = response.headers.get('content-length');
  const length = announced === null || announced.trim() === '' ? Number.NaN : Number(announced);
  const tooLarge = () =>
    new UpstreamError(
      `LastPass sent a response of more than ${maxBytes >= 1048576 ? `${Math.round(maxBytes / 1048576)} MiB` : `${maxBytes} bytes`}${Number.isSafeInteger(length) ? ` (${length} bytes announced)` : ''}: not read, no events from it are used (a page of 10,000 events is about 1.5 MB).`,
      { service: 'lastpass', status: response.status, url, retryable: false },
    );
  // A content-encoded body's announced length is the encoded one: it says nothing about what is read here.
  const plain = response.headers.get('content-encoding') === null;
  if (plain && Number.isSafeInteger(length) && length > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (response.body === null) return new Uint8Array(await response.arrayBuffer());
  const preallocate = plain && Number.isSafeInteger(length) && length > 0 && length <= PREALLOCATE_MAX_BYTES;
  const bytes = new Uint8Array(preallocate ? length : 0);
  let at = 0;
  let total = 0;
  let rest: Uint8Array[] | null = null;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    // Leaving the loop cancels the stream: nothing more is read.
    if (total > maxBytes) throw tooLarge();
    if (rest === null && at + chunk.length <= bytes.length) {
      bytes.set(chunk, at);
      at += chunk.length;
    } else {
      (rest ??= []).push(chunk);
    }
  }
  if (rest !== null) return Buffer.concat([bytes.subarray(0, at), ...rest]);
  return at === bytes.length ? bytes : bytes.subarray(0, at);
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
