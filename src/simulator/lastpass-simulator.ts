/**
 * A local stand-in for the LastPass Enterprise API `reporting` command (see the project's API notes):
 * a real `node:http` server that answers like the documented upstream, including its odd corners
 * (HTTP 200 + XML for bad credentials, `next` paging whose boundary second comes back on both pages,
 * three shapes of an empty `data`). Used by tests, the demo and the benchmark; never in production.
 *
 * Built for volume: the events are sorted once (newest first), every request finds its range by binary
 * search and serialises only the page it returns.
 *
 * Over 400 lines on purpose: one fake server whose request parsing, paging, page orders, clock, zone and
 * fault hooks all act on the same sorted event list and one request; it is test infrastructure, not product logic.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RawEvent } from '../core/types.js';
import { formatWall, parseWall, resolveWall } from '../core/wall-time.js';

/** A canned response from the fault-injection hook. */
export interface SimulatorOverrideResponse {
  status: number;
  headers?: Record<string, string>;
  body: string;
  /** Wait this long before answering (a slow upstream). */
  delayMs?: number;
  /** Drop the connection instead of answering (a reset); `status` and `body` are then ignored. */
  destroySocket?: boolean;
}

/**
 * Fault injection: called for every request (after the body is read) with the parsed JSON body (null
 * when the body is not a JSON object) and the request's 0-based index. Return a response to send it
 * instead of the normal answer, or undefined to answer normally.
 */
export type SimulatorOverride = (
  body: Readonly<Record<string, unknown>> | null,
  index: number,
) => SimulatorOverrideResponse | undefined | Promise<SimulatorOverrideResponse | undefined>;

export type EmptyDataShape = 'object' | 'array' | 'missing';

export type SimulatorOrder = 'newest-first' | 'oldest-first' | 'shuffled';

export interface LastPassSimulatorOptions {
  accountNumber: string;
  apiSecret: string;
  /** Any order; the simulator sorts a copy newest first by `Time` (stable). */
  events: readonly RawEvent[];
  /** At most this many events per response (LastPass: 10,000). */
  pageSize?: number;
  /** Include `next` when a page was cut (default true); when false `next` is always null. */
  respondWithNext?: boolean;
  /** The zone of the wall-clock `Time` strings, used to turn `next` into seconds and back. */
  timeZone?: string;
  /** How an empty result is sent: `data: {}`, `data: []` or no `data` at all (default 'object'). */
  emptyDataShape?: EmptyDataShape;
  override?: SimulatorOverride;
  /**
   * Wait this long before every response: LastPass's time to answer a page (the bench's --latency-ms).
   * Answers wait concurrently, as a real upstream's would. `setDelay` changes it later.
   */
  delayMs?: number;
  /**
   * The simulator's clock (epoch ms). When given, every response carries a `Date` header from it (the run's
   * clock check compares it with the worker's) and API calls are stamped with it (`logApiCalls`). Without
   * it no `Date` header is sent, so tests on a fixed clock are not judged against the real one.
   */
  now?: () => number;
  /**
   * Log every authorised `reporting` call as LastPass does: an event `Reporting` with Data
   * `Initiated by API: <apiuser>` (or `Initiated by API` without one) at the simulator's wall time in its
   * `timeZone`, after the answer is built (a call is not in its own answer). Default false.
   */
  logApiCalls?: boolean;
  /**
   * How a page is selected and listed: the newest events of the range listed newest first (LastPass's
   * documented order, the default), the oldest listed oldest first, or the newest shuffled within the page.
   */
  order?: SimulatorOrder;
  /** Port to listen on (default 0: any free port). Always bound to 127.0.0.1. */
  port?: number;
  /**
   * Serialised pages kept, most recently used first (default 2: a retried page is not serialised again).
   * The benchmark keeps every page, so that after one warm-up pass the simulator only writes bytes.
   */
  cachedPages?: number;
}

export type SimulatorResponseKind = 'ok' | 'auth-error' | 'fail' | 'bad-request' | 'override';

export interface SimulatorRequestLog {
  /** 0-based position of the request. */
  index: number;
  method: string;
  /** The parsed body with `provhash` replaced by "[redacted]" (the raw text, cut to 200 chars, when not JSON). */
  body: unknown;
  kind: SimulatorResponseKind;
  status: number;
  /** Events in the response (0 unless kind is 'ok'). */
  eventCount: number;
  /** The `next` value sent back (null when none). */
  next: number | null;
}

export interface LastPassSimulator {
  /** The endpoint, e.g. `http://127.0.0.1:41234/enterpriseapi.php` (any path is answered). */
  url: string;
  close(): Promise<void>;
  requests: SimulatorRequestLog[];
  /** Changes `delayMs` for the requests that arrive from now on (the bench pre-builds its pages without it). */
  setDelay(ms: number): void;
}

export const AUTH_ERROR_XML = '<?xml version="1.0" encoding="UTF-8"?>\n<lastpass rc="Authorization Error"/>';

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
  kind: SimulatorResponseKind;
  eventCount: number;
  next: number | null;
  delayMs?: number;
  destroySocket?: boolean;
}

const JSON_TYPE = 'application/json; charset=utf-8';

function fail(error: string, status = 200): Answer {
  return {
    status,
    headers: { 'content-type': JSON_TYPE },
    body: JSON.stringify({ status: 'FAIL', error }),
    kind: status === 200 ? 'fail' : 'bad-request',
    eventCount: 0,
    next: null,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `next` as seconds: a finite number or numeric string; undefined when absent; NaN when malformed. */
function readNext(body: Record<string, unknown>, data: Record<string, unknown>): number | undefined {
  const raw = data.next ?? body.next;
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : Number.NaN;
  if (typeof raw === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(raw)) return Number(raw);
  return Number.NaN;
}

/**
 * A copy of the events sorted newest first by `Time`, stable (equal times keep their input order).
 * Buckets by the Time string, then sorts only the distinct strings: a day has at most 86,400 of them,
 * so a million events sort in a fraction of the time of a comparison sort.
 */
export function sortNewestFirst(events: readonly RawEvent[]): RawEvent[] {
  let sorted = true;
  for (let i = 1; i < events.length; i++) {
    if (events[i - 1]!.Time < events[i]!.Time) {
      sorted = false;
      break;
    }
  }
  if (sorted) return events.slice();
  const buckets = new Map<string, RawEvent[]>();
  for (const event of events) {
    const bucket = buckets.get(event.Time);
    if (bucket) bucket.push(event);
    else buckets.set(event.Time, [event]);
  }
  const keys = [...buckets.keys()].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  const out = new Array<RawEvent>(events.length);
  let k = 0;
  for (const key of keys) for (const event of buckets.get(key)!) out[k++] = event;
  return out;
}

/** Shuffles `list` in place, the same way for the same seed text (so a retried page reads alike). */
function shuffle(list: number[], seedText: string): void {
  let a = 2166136261;
  for (let i = 0; i < seedText.length; i++) a = Math.imul(a ^ seedText.charCodeAt(i), 16777619);
  const random = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const x = list[i]!;
    list[i] = list[j]!;
    list[j] = x;
  }
}

export async function createLastPassSimulator(options: LastPassSimulatorOptions): Promise<LastPassSimulator> {
  const pageSize = Math.max(1, Math.floor(options.pageSize ?? 10_000));
  const respondWithNext = options.respondWithNext ?? true;
  const timeZone = options.timeZone ?? 'America/New_York';
  const emptyDataShape = options.emptyDataShape ?? 'object';
  const order: SimulatorOrder = options.order ?? 'newest-first';
  const accountNumber = String(options.accountNumber);

  const clock = options.now ?? Date.now;
  const sorted = sortNewestFirst(options.events);
  const times: string[] = new Array<string>(sorted.length);
  for (let i = 0; i < sorted.length; i++) times[i] = sorted[i]!.Time;

  /** The first index whose Time is <= wall (times are descending). */
  const firstAtOrBelow = (wall: string): number => {
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (times[mid]! > wall) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  /** The first index whose Time is < wall. */
  const firstBelow = (wall: string): number => {
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (times[mid]! >= wall) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  // A tiny LRU of serialised pages: clients that retry the same page get it without re-serialising.
  const cacheSize = Math.max(0, Math.floor(options.cachedPages ?? 2));
  const cache = new Map<string, Answer>();

  const serve = (from: string, to: string, next: number | undefined): Answer => {
    const key = `${from}|${to}|${next ?? ''}`;
    const hit = cache.get(key);
    if (hit) {
      cache.delete(key);
      cache.set(key, hit);
      return hit;
    }
    let upper = to;
    if (next !== undefined) {
      const nextWall = formatWall(Math.round(next * 1000), timeZone);
      if (nextWall < upper) upper = nextWall;
    }
    const begin = from <= upper ? firstAtOrBelow(upper) : 0;
    const stop = from <= upper ? Math.max(begin, firstBelow(from)) : 0;
    // The page: the newest events of the range (newest first, or shuffled), or the oldest (oldest first).
    const oldestFirst = order === 'oldest-first';
    const first = oldestFirst ? Math.max(begin, stop - pageSize) : begin;
    const end = oldestFirst ? stop : Math.min(stop, begin + pageSize);
    const count = end - first;
    const cut = oldestFirst ? first > begin : stop > end;
    let nextValue: number | null = null;
    let nextText = 'null';
    if (respondWithNext && cut && count > 0) {
      const boundary = oldestFirst ? times[first]! : times[end - 1]!;
      const resolved = resolveWall(boundary, timeZone);
      if (resolved) {
        nextValue = resolved.at / 1000;
        nextText = nextValue.toFixed(6);
      }
    }
    let body = `{"status":"OK","next":${nextText}`;
    if (count === 0) {
      if (emptyDataShape === 'object') body += ',"data":{}';
      else if (emptyDataShape === 'array') body += ',"data":[]';
      body += '}';
    } else {
      const picked = new Array<number>(count);
      for (let i = 0; i < count; i++) picked[i] = oldestFirst ? end - 1 - i : first + i;
      if (order === 'shuffled') shuffle(picked, `${from}|${to}|${next ?? ''}`);
      const parts = new Array<string>(count);
      for (let i = 0; i < count; i++) {
        parts[i] = `"Event${i + 1}":${JSON.stringify(sorted[picked[i]!])}`;
      }
      body += `,"data":{${parts.join(',')}}}`;
    }
    const answer: Answer = {
      status: 200,
      headers: { 'content-type': JSON_TYPE },
      body: Buffer.from(body, 'utf8'),
      kind: 'ok',
      eventCount: count,
      next: nextValue,
    };
    if (cacheSize > 0) {
      cache.set(key, answer);
      if (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
    }
    return answer;
  };

  const answerFor = (method: string, body: Record<string, unknown> | null): Answer => {
    if (method !== 'POST') return fail(`method ${method} not allowed`, 405);
    if (body === null) return fail('request body is not a JSON object', 400);
    if (String(body.cid ?? '') !== accountNumber || body.provhash !== options.apiSecret) {
      return {
        status: 200,
        headers: { 'content-type': 'text/xml; charset=utf-8' },
        body: AUTH_ERROR_XML,
        kind: 'auth-error',
        eventCount: 0,
        next: null,
      };
    }
    if (body.cmd !== 'reporting') return fail(`unknown command: ${String(body.cmd)}`);
    const data = isRecord(body.data) ? body.data : {};
    const from = data.from;
    const to = data.to;
    if (typeof from !== 'string' || parseWall(from) === null) return fail('Invalid from date');
    if (typeof to !== 'string' || parseWall(to) === null) return fail('Invalid to date');
    const next = readNext(body, data);
    if (next !== undefined && Number.isNaN(next)) return fail('Invalid next value');
    const answer = serve(from, to, next);
    if (options.logApiCalls) logApiCall(typeof body.apiuser === 'string' ? body.apiuser : '');
    return answer;
  };

  /** The call's own audit row, as LastPass logs it, at the simulator's wall time (newest-first order kept). */
  const logApiCall = (apiUser: string): void => {
    const wall = formatWall(clock(), timeZone);
    const row: RawEvent = {
      Time: wall,
      Username: '',
      IP_Address: '127.0.0.1',
      Action: 'Reporting',
      Data: apiUser ? `Initiated by API: ${apiUser}` : 'Initiated by API',
    };
    const at = firstAtOrBelow(wall);
    sorted.splice(at, 0, row);
    times.splice(at, 0, wall);
    cache.clear();
  };

  const requests: SimulatorRequestLog[] = [];
  let delayMs = Math.max(0, options.delayMs ?? 0);
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const send = (res: ServerResponse, answer: Answer): void => {
    if (answer.destroySocket) {
      res.socket?.destroy();
      return;
    }
    const headers: Record<string, string | number> = { ...answer.headers };
    // A Date header only from the simulator's own clock (see `now`).
    if (options.now) headers.date = new Date(options.now()).toUTCString();
    else res.sendDate = false;
    headers['content-length'] = Buffer.byteLength(answer.body);
    res.writeHead(answer.status, headers);
    res.end(answer.body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let parsed: Record<string, unknown> | null = null;
    try {
      const value: unknown = JSON.parse(text);
      if (isRecord(value)) parsed = value;
    } catch {
      parsed = null;
    }
    const index = requests.length;
    const logged: SimulatorRequestLog = {
      index,
      method: req.method ?? '',
      body: parsed ? { ...parsed, ...('provhash' in parsed ? { provhash: '[redacted]' } : {}) } : text.slice(0, 200),
      kind: 'ok',
      status: 0,
      eventCount: 0,
      next: null,
    };
    requests.push(logged);

    let answer: Answer;
    const overridden = options.override ? await options.override(parsed, index) : undefined;
    if (overridden) {
      answer = {
        status: overridden.status,
        headers: overridden.headers ?? {},
        body: overridden.body,
        kind: 'override',
        eventCount: 0,
        next: null,
      };
      if (overridden.delayMs !== undefined) answer.delayMs = overridden.delayMs;
      if (overridden.destroySocket) answer.destroySocket = true;
    } else {
      answer = answerFor(req.method ?? '', parsed);
    }
    logged.kind = answer.kind;
    logged.status = answer.destroySocket ? 0 : answer.status;
    logged.eventCount = answer.eventCount;
    logged.next = answer.next;

    const delay = (answer.delayMs ?? 0) + delayMs;
    if (delay > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          resolve();
        }, delay);
        timers.add(timer);
      });
    }
    if (closed || res.destroyed) return;
    send(res, answer);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      send(res, fail(`simulator error: ${error instanceof Error ? error.message : String(error)}`, 500));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/enterpriseapi.php`,
    requests,
    setDelay(ms) {
      delayMs = Math.max(0, ms);
    },
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        closed = true;
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
