/**
 * One `reporting` response, from bytes to the rows that count: envelope checks (XML auth errors, CDN HTML,
 * HTTP status), JSON, row validation, and the paging decision. Pure apart from the errors it throws.
 *
 * The paging rule (see lastpass-client.ts): LastPass returns the newest events of [from, to] first. When a
 * response is full (or carries `next`), the events of its *oldest* second may be cut, so only the events
 * strictly newer than that second are kept and the next request asks again with `to` set to it.
 */
import { AuthorizationError, IncompleteDataError, UpstreamError } from '../../errors.js';
import type { RawEvent, WallRange } from '../../core/types.js';
import type { PageRows, PageScanner } from './page-scanner.js';

export type { PageRows, PageScanner } from './page-scanner.js';

/** One response as the transport received it, and the range it answered. */
export interface ReportingResponse {
  range: WallRange;
  /** 1-based: which request of this fetch it answered. */
  requestNumber: number;
  status: number;
  contentType: string;
  retryAfter: string | null;
  /** The body exactly as received. */
  bytes: Uint8Array;
  /** The redacted endpoint, for errors. */
  url: string;
  /** The clock at arrival (for Retry-After dates). */
  now: number;
  pageLimit: number;
}

/** What a good page means for paging. */
export interface PageOutcome {
  /** Rows in the response. */
  rows: number;
  /** Rows passed on (inside the range, and newer than a cut boundary). */
  kept: number;
  /** Rows outside the asked range (dropped). */
  dropped: number;
  /** The `to` of the next request, or null when this response completes the range. */
  nextTo: string | null;
}

/**
 * Parses one response; for a good page, hands its kept rows to `take` and returns the paging outcome.
 * Throws (before `take` sees anything) when the response is an error or not a complete page.
 */
export type PageProcessor = (response: ReportingResponse) => PageOutcome | Promise<PageOutcome>;

export interface ReportingPage {
  rows: RawEvent[];
  next: string | null;
}

const FIELDS = ['Time', 'Username', 'IP_Address', 'Action', 'Data'] as const;

/** UTF-8 as `Response.text()` decodes it (a BOM is dropped, invalid bytes become U+FFFD). */
const UTF8 = new TextDecoder('utf-8');

export function decodeBody(bytes: Uint8Array): string {
  return UTF8.decode(bytes);
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

/** Interprets one response body. Exported for tests of the parsing rules. */
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
    throw new UpstreamError(`LastPass answered HTTP ${status} ("${snippet(body)}"): check LASTPASS_API_URL.`, {
      ...base,
      retryable: false,
    });
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
  const nextText = next === undefined || next === null || next === '' || next === false || next === 0 || next === '0' ? null : String(next);
  return { rows, next: nextText };
}

/** A page as the paging decision and the page processors see it: its rows as columns, and `next`. */
export interface PageColumns {
  rows: PageRows;
  next: string | null;
}

/** Row objects as columns (the JSON.parse path, and tests). */
export function toColumns(list: readonly RawEvent[]): PageRows {
  const rows: PageRows = { length: list.length, time: [], username: [], ip: [], action: [], data: [] };
  for (let i = 0; i < list.length; i++) {
    const r = list[i]!;
    rows.time[i] = r.Time;
    rows.username[i] = r.Username;
    rows.ip[i] = r.IP_Address;
    rows.action[i] = r.Action;
    rows.data[i] = r.Data;
  }
  return rows;
}

/** Columns as row objects (for callers that keep rows: fetchRange, tests). */
export function toRawEvents(rows: PageRows): RawEvent[] {
  const out: RawEvent[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    out[i] = { Time: rows.time[i]!, Username: rows.username[i]!, IP_Address: rows.ip[i]!, Action: rows.action[i]!, Data: rows.data[i]! };
  }
  return out;
}

/**
 * Reads one response: the byte scanner for a plain OK page (no object per row, repeated values shared),
 * otherwise `parseReportingResponse` on the decoded text, which gives the same rows, or the error.
 */
export function readPage(response: ReportingResponse, scanner: PageScanner): PageColumns {
  if (response.status === 200) {
    const scanned = scanner.scan(response.bytes);
    if (scanned) return scanned;
  }
  const page = parseReportingResponse(response.status, response.contentType, decodeBody(response.bytes), response);
  return { rows: toColumns(page.rows), next: page.next };
}

/**
 * The paging decision for one good page. Keeps in `page.rows` only the rows to pass on (in their order)
 * and says how many were dropped and where the next request ends. Throws when the range cannot be completed.
 */
export function decidePage(page: PageColumns, range: WallRange, pageLimit: number): { dropped: number; nextTo: string | null } {
  const { rows } = page;
  const { from, to } = range;
  const total = rows.length;
  const times = rows.time;
  let oldest: string | null = null;
  let inRange = 0;
  // Rows come grouped by second: decide once per run of equal Time values.
  let last: string | null = null;
  let lastIn = false;
  for (let i = 0; i < total; i++) {
    const t = times[i]!;
    if (t !== last) {
      last = t;
      lastIn = !(t < from || t > to);
      if (lastIn && (oldest === null || t < oldest)) oldest = t;
    }
    if (lastIn) inRange++;
  }
  const dropped = total - inRange;
  const cut = total >= pageLimit || page.next !== null;
  if (cut && oldest === null && total > 0) {
    // A cut page with nothing of the asked range in it: what lies in the range was never seen.
    throw new IncompleteDataError(
      `LastPass returned ${total} events for ${from} … ${to}, none of them inside that range, and said more were available: the range cannot be fetched completely.`,
    );
  }
  if (!cut || oldest === null) {
    if (dropped > 0) keepRows(rows, from, false, to);
    return { dropped, nextTo: null };
  }
  if (oldest === to) {
    // Every kept row is in the one second `to`.
    if (total >= pageLimit) {
      throw new IncompleteDataError(
        `LastPass returned a full page of ${total} events all at ${to}: more events share that one second than one response can carry, so the window cannot be fetched completely.`,
      );
    }
    // Not full, `next` set but nothing older in range: this response is the whole rest of the range.
    keepRows(rows, from, false, to);
    return { dropped, nextTo: null };
  }
  keepRows(rows, oldest, true, to);
  return { dropped, nextTo: oldest };
}

/** Keeps (in place, in order) the rows with `low` < Time (or ≤ when not exclusive) and Time ≤ `high`. */
function keepRows(rows: PageRows, low: string, exclusive: boolean, high: string): void {
  const { time, username, ip, action, data } = rows;
  let kept = 0;
  let last: string | null = null;
  let keep = false;
  for (let i = 0; i < rows.length; i++) {
    const t = time[i]!;
    if (t !== last) {
      last = t;
      keep = (exclusive ? t > low : t >= low) && t <= high;
    }
    if (!keep) continue;
    if (kept !== i) {
      time[kept] = t;
      username[kept] = username[i]!;
      ip[kept] = ip[i]!;
      action[kept] = action[i]!;
      data[kept] = data[i]!;
    }
    kept++;
  }
  rows.length = kept;
}

/** Read and decide: the outcome, and the page with only the rows to take. Throws for a bad response. */
export function readReportingResponse(response: ReportingResponse, scanner: PageScanner): { outcome: PageOutcome; keep: PageRows } {
  const page = readPage(response, scanner);
  const rowCount = page.rows.length;
  const { dropped, nextTo } = decidePage(page, response.range, response.pageLimit);
  return { outcome: { rows: rowCount, kept: page.rows.length, dropped, nextTo }, keep: page.rows };
}

/**
 * The in-thread page processor: read, decide, hand the kept rows to `take`. The columns are the scanner's
 * and are reused for its next page: `take` reads them and keeps none of them.
 */
export function processReportingResponse(response: ReportingResponse, take: (rows: PageRows) => void, scanner: PageScanner): PageOutcome {
  const { outcome, keep } = readReportingResponse(response, scanner);
  take(keep);
  return outcome;
}
