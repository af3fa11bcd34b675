/**
 * The LastPass `reporting` client against nock: the request it sends, every response shape LastPass is
 * known to produce, the retry policy (with an injected sleep, so nothing waits), and completeness past the
 * page limit over a synthetic dataset with many events per second and genuine repeats.
 */
import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLastPassClient, parseReportingResponse, type LastPassClientOptions } from '../src/adapters/lastpass/lastpass-client.js';
import { DEFAULT_RETRY_POLICY } from '../src/adapters/http/retry.js';
import type { RawEvent, WallRange } from '../src/core/types.js';
import { createWallResolver } from '../src/core/wall-time.js';
import type { RowSink } from '../src/core/window-intake.js';
import { AuthorizationError, IncompleteDataError, UpstreamError } from '../src/errors.js';
import { recordingLogger } from './support/recording-logger.js';
import type { FetchStats, PageInfo } from '../src/ports.js';

const ORIGIN = 'https://lastpass.example.test';
const PATH = '/enterpriseapi.php';
const API_URL = `${ORIGIN}${PATH}`;
const SECRET = 'lp-provhash-9f3c1d7e5b2a4c6d';
const ACCOUNT = '8771234';
const API_USER = 'lastpass-audit-digest';
const RANGE: WallRange = { from: '2025-03-09 00:00:00', to: '2025-03-09 23:59:59' };
const AUTH_XML = '<?xml version="1.0" encoding="UTF-8"?>\n<lastpass rc="Authorization Error"/>';
const CDN_503 =
  '<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable</title></head><body><h1>503 Service Temporarily Unavailable</h1></body></html>';
const CDN_403 = '<html><head><title>403 Forbidden</title></head><body><center><h1>403 Forbidden</h1></center></body></html>';

const TIME_ZONE = 'America/New_York';

let sleeps: number[];
let logger: ReturnType<typeof recordingLogger>;

function ev(Time: string, Username = 'maria@example.org', Action = 'Login', IP_Address = '198.51.100.23', Data = ''): RawEvent {
  return { Time, Username, IP_Address, Action, Data };
}

/** A LastPass-shaped success body: data keyed Event1..EventN in the given (newest-first) order. */
function okBody(rows: readonly RawEvent[], next: number | string | null = null): string {
  const data: Record<string, RawEvent> = {};
  rows.forEach((row, i) => {
    data[`Event${i + 1}`] = row;
  });
  return JSON.stringify({ status: 'OK', next, data });
}

function client(overrides: Partial<LastPassClientOptions> = {}) {
  return createLastPassClient({
    apiUrl: API_URL,
    accountNumber: ACCOUNT,
    apiSecret: SECRET,
    apiUser: API_USER,
    timeZone: TIME_ZONE,
    fetch: globalThis.fetch,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    logger,
    ...overrides,
  });
}

/** A sink that keeps a copy of every row it is given (the client may reuse its row objects). */
function keeper(rows: RawEvent[]): RowSink {
  const resolve = createWallResolver(TIME_ZONE);
  return {
    add(row, at) {
      // Each row comes with the instant of its Time in LASTPASS_TIMEZONE.
      expect(at).toBe(resolve(row.Time));
      rows.push({ Time: row.Time, Username: row.Username, IP_Address: row.IP_Address, Action: row.Action, Data: row.Data });
    },
  };
}

/** Runs fetchEvents and returns every row it passed on, and each accepted page. */
async function collect(
  c: ReturnType<typeof client>,
  range: WallRange = RANGE,
  options?: { deadline?: number },
): Promise<{ rows: RawEvent[]; pages: PageInfo[]; stats: FetchStats }> {
  const rows: RawEvent[] = [];
  const pages: PageInfo[] = [];
  const stats = await c.fetchEvents(range, keeper(rows), {
    ...options,
    onPage: (info) => void pages.push({ ...info }),
  });
  return { rows, pages, stats };
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

/** The JSON body of a request as nock hands it to a reply function (a Fetch Request since nock 15). */
async function requestBodyOf(request: Request): Promise<Record<string, unknown>> {
  return (await request.json()) as Record<string, unknown>;
}

/** A reset connection; nock 15 hangs on a plain object here, so it is an Error with the code. */
function connectionReset(): Error {
  return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}

beforeAll(() => {
  nock.disableNetConnect();
});
afterAll(() => {
  nock.enableNetConnect();
});
beforeEach(() => {
  nock.disableNetConnect();
  sleeps = [];
  logger = recordingLogger();
});
afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  // Every test leaves no unused interceptor and no log line with the secret.
  expect(pending).toEqual([]);
  for (const line of logger.lines) expect(line).not.toContain(SECRET);
});

describe('the request', () => {
  it('posts JSON with cid as given, provhash, apiuser, cmd reporting and data.from/to', async () => {
    const seen: { body: Record<string, unknown>; headers: Record<string, string> }[] = [];
    const scope = nock(ORIGIN)
      .post(PATH)
      .reply(async (request: Request) => {
        seen.push({ body: await requestBodyOf(request), headers: Object.fromEntries(request.headers) });
        return [200, okBody([]), { 'content-type': 'application/json' }];
      });

    const { stats } = await collect(client(), { from: '2025-03-09 00:00:00', to: '2025-03-09 23:59:59' });

    scope.done();
    expect(seen).toHaveLength(1);
    expect(seen[0]?.body).toEqual({
      cid: '8771234',
      provhash: SECRET,
      apiuser: 'lastpass-audit-digest',
      cmd: 'reporting',
      data: { from: '2025-03-09 00:00:00', to: '2025-03-09 23:59:59' },
    });
    expect(seen[0]?.headers['content-type']).toBe('application/json');
    expect(seen[0]?.headers.authorization).toBeUndefined();
    expect(stats).toMatchObject({ requests: 1, pages: 0, events: 0, rowsReturned: 0, outOfRange: 0, retries: 0 });
    expect(stats.timings).toHaveLength(1);
  });

  it('sends the account number exactly as configured and the configured apiuser label', async () => {
    let body: Record<string, unknown> = {};
    const scope = nock(ORIGIN)
      .post(PATH)
      .reply(async (request: Request) => {
        body = await requestBodyOf(request);
        return [200, okBody([])];
      });
    await client({ accountNumber: '0012345', apiUser: 'digest-staging' }).probe(RANGE);
    scope.done();
    expect(body.cid).toBe('0012345');
    expect(body.apiuser).toBe('digest-staging');
  });
});

describe('response shapes of a successful answer', () => {
  const two = [ev('2025-03-09 17:05:31', 'maria@example.org', 'Make admin'), ev('2025-03-09 09:00:00')];
  const cases: { name: string; body: string; events: number }[] = [
    { name: 'data as an object keyed Event1..N', body: okBody(two), events: 2 },
    { name: 'data as an array', body: JSON.stringify({ status: 'OK', next: null, data: two }), events: 2 },
    { name: 'data as {}', body: JSON.stringify({ status: 'OK', next: null, data: {} }), events: 0 },
    { name: 'data as []', body: JSON.stringify({ status: 'OK', next: null, data: [] }), events: 0 },
    { name: 'data missing', body: JSON.stringify({ status: 'OK' }), events: 0 },
    { name: 'data null', body: JSON.stringify({ status: 'OK', data: null }), events: 0 },
  ];
  for (const c of cases) {
    it(`accepts ${c.name} and yields ${c.events} events`, async () => {
      const scope = nock(ORIGIN).post(PATH).reply(200, c.body, { 'content-type': 'application/json' });
      const { rows, stats } = await collect(client());
      scope.done();
      expect(rows).toHaveLength(c.events);
      expect(stats.events).toBe(c.events);
      expect(stats.requests).toBe(1);
      if (c.events > 0) expect(rows).toEqual(two);
    });
  }

  it('fills missing or null fields with empty strings and keeps the newest-first order', async () => {
    const body = JSON.stringify({
      status: 'OK',
      data: {
        Event1: { Time: '2025-03-09 17:05:31', Username: null, IP_Address: '198.51.100.23', Action: 'Log out' },
        Event2: { Time: '2025-03-09 17:00:00', Username: 'tom@example.org', IP_Address: '', Action: 'Login', Data: 'LastPass via Chrome' },
      },
    });
    const scope = nock(ORIGIN).post(PATH).reply(200, body);
    const { rows } = await collect(client());
    scope.done();
    expect(rows).toEqual([
      { Time: '2025-03-09 17:05:31', Username: '', IP_Address: '198.51.100.23', Action: 'Log out', Data: '' },
      { Time: '2025-03-09 17:00:00', Username: 'tom@example.org', IP_Address: '', Action: 'Login', Data: 'LastPass via Chrome' },
    ]);
  });
});

describe('rows and their instants', () => {
  it('hands every row to the sink with the instant of its Time in LASTPASS_TIMEZONE, whichever page reader reads it', async () => {
    // 23:59:59 on 2025-03-09 in New York is 03:59:59 UTC the next day (EDT from that morning).
    const rows = [ev('2025-03-09 23:59:59'), ev('2025-03-09 01:30:00', 'tom@example.org', 'Log out'), ev('2025-03-09 01:30:00')];
    const results: { reader: string; rows: RawEvent[]; instants: number[] }[] = [];
    for (const pageReader of ['byte-scanner', 'json-parse'] as const) {
      const scope = nock(ORIGIN).post(PATH).reply(200, okBody(rows), { 'content-type': 'application/json' });
      const got: RawEvent[] = [];
      const instants: number[] = [];
      await client({ pageReader }).fetchEvents(RANGE, {
        add(row, at) {
          got.push({ ...row });
          instants.push(at);
        },
      });
      scope.done();
      results.push({ reader: pageReader, rows: got, instants });
    }
    for (const r of results) {
      expect(r.rows).toEqual(rows);
      expect(r.instants).toEqual([
        Date.parse('2025-03-10T03:59:59Z'),
        Date.parse('2025-03-09T06:30:00Z'),
        Date.parse('2025-03-09T06:30:00Z'),
      ]);
    }
  });

  it('refuses a row whose Time is not a LastPass wall time, without retrying', async () => {
    const scope = nock(ORIGIN)
      .post(PATH)
      .reply(200, okBody([ev('2025-03-09 12:00:00'), ev('2025-03-09 11:61:00')]), { 'content-type': 'application/json' });
    const error = await caught(collect(client()));
    scope.done();
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).retryable).toBe(false);
    expect((error as UpstreamError).message).toContain('unreadable Time "2025-03-09 11:61:00"');
    expect(sleeps).toEqual([]);
  });
});

describe('the bytes for evidence', () => {
  it('passes on each body exactly as received (a BOM and UTF-8 included) and reads it as text() would', async () => {
    const row = ev('2025-03-09 17:05:31', 'zoë@example.org', 'Login', '198.51.100.23', 'Chrome — “quoted”');
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(okBody([row]), 'utf8')]);
    const scope = nock(ORIGIN).post(PATH).reply(200, body, { 'content-type': 'application/json' });
    const { rows, pages } = await collect(client());
    scope.done();
    expect(rows).toEqual([row]);
    expect(pages).toHaveLength(1);
    expect(Buffer.from(pages[0]!.bytes).equals(body)).toBe(true);
  });
});

describe('page callbacks', () => {
  const ticks = async (n: number) => {
    for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
  };

  it('hand pages on in order, one at a time, and the fetch never settles while one is still running', async () => {
    let failing!: () => void;
    const secondPageFails = new Promise<void>((resolve) => (failing = resolve));
    const scope = nock(ORIGIN)
      .post(PATH)
      .reply(200, okBody([ev('2025-03-09 12:00:02'), ev('2025-03-09 12:00:01')]))
      .post(PATH)
      .reply(() => {
        failing();
        return [400, 'bad request'];
      });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const seen: string[] = [];
    let settled = false;
    const fetching = client({ pageLimit: 2 })
      .fetchEvents(RANGE, keeper([]), {
        async onPage(page) {
          seen.push(`page ${page.requestNumber} to ${page.range.to}`);
          await gate;
          seen.push('page 1 done');
        },
      })
      .finally(() => {
        settled = true;
      });
    fetching.catch(() => {});
    // The second page fails (HTTP 400, not retried) while the first page's callback is still running.
    await secondPageFails;
    await ticks(20);
    expect(settled).toBe(false);
    release();
    const error = await caught(fetching);
    scope.done();
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).status).toBe(400);
    expect(seen).toEqual(['page 1 to 2025-03-09 23:59:59', 'page 1 done']);
  });

  it('a failing callback fails the fetch', async () => {
    const scope = nock(ORIGIN)
      .post(PATH)
      .reply(200, okBody([ev('2025-03-09 12:00:02'), ev('2025-03-09 12:00:01')]))
      .post(PATH)
      .reply(200, okBody([ev('2025-03-09 12:00:01')]));
    const error = await caught(
      client({ pageLimit: 2 }).fetchEvents(RANGE, keeper([]), {
        async onPage() {
          throw new Error('evidence disk full');
        },
      }),
    );
    scope.done();
    expect((error as Error).message).toBe('evidence disk full');
  });
});

describe('errors that are not retried', () => {
  it('turns the XML Authorization Error on HTTP 200 into an AuthorizationError after exactly one request', async () => {
    let requests = 0;
    const scope = nock(ORIGIN)
      .post(PATH)
      .reply(() => {
        requests++;
        return [200, AUTH_XML, { 'content-type': 'text/xml; charset=UTF-8' }];
      });
    const onEvents: RawEvent[] = [];
    const error = await caught(client().fetchEvents(RANGE, keeper(onEvents)));

    scope.done();
    expect(requests).toBe(1);
    expect(sleeps).toEqual([]);
    expect(onEvents).toEqual([]);
    expect(error).toBeInstanceOf(AuthorizationError);
    const e = error as AuthorizationError;
    expect(e.retryable).toBe(false);
    expect(e.service).toBe('lastpass');
    expect(e.status).toBe(200);
    expect(e.message).toContain('LASTPASS_ACCOUNT_NUMBER');
    expect(e.message).toContain('LASTPASS_API_KEY');
    expect(e.message).toMatch(/regenerated/);
    expect(e.message).not.toContain(SECRET);
    expect(JSON.stringify(e)).not.toContain(SECRET);
    expect(String(e.cause)).not.toContain(SECRET);
  });

  it('surfaces the error text of a JSON status FAIL and does not retry it', async () => {
    const scope = nock(ORIGIN)
      .post(PATH)
      .reply(200, JSON.stringify({ status: 'FAIL', error: 'Invalid date range' }), { 'content-type': 'application/json' });
    const error = await caught(client().probe(RANGE));
    scope.done();
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).not.toBeInstanceOf(AuthorizationError);
    expect((error as UpstreamError).message).toContain('Invalid date range');
    expect((error as UpstreamError).message).toContain('FAIL');
    expect((error as UpstreamError).retryable).toBe(false);
    expect(sleeps).toEqual([]);
  });

  it('does not retry an HTML 403 from the CDN and says the CDN blocked the request', async () => {
    const scope = nock(ORIGIN).post(PATH).reply(403, CDN_403, { 'content-type': 'text/html' });
    const error = await caught(collect(client()));
    scope.done();
    expect(error).toBeInstanceOf(UpstreamError);
    const e = error as UpstreamError;
    expect(e.status).toBe(403);
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(/CDN/);
    expect(e.message).toContain('LASTPASS_API_URL');
    expect(sleeps).toEqual([]);
  });
});

describe('retries', () => {
  it('retries a truncated JSON body and finally throws instead of reporting zero events', async () => {
    const truncated = '{"status":"OK","data":{"Event1":{"Ti';
    const attempts = DEFAULT_RETRY_POLICY.retries + 1;
    const scope = nock(ORIGIN).post(PATH).times(attempts).reply(200, truncated, { 'content-type': 'application/json' });
    const received: RawEvent[] = [];
    const error = await caught(client().fetchEvents(RANGE, keeper(received)));

    scope.done();
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).message).toMatch(/not complete JSON/);
    expect((error as UpstreamError).retryable).toBe(true);
    expect(sleeps).toHaveLength(DEFAULT_RETRY_POLICY.retries);
    expect(received).toEqual([]);
  });

  it('refuses a response larger than the limit at once, without retrying, and uses none of it', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => ev(`2025-03-09 10:00:${String(i % 60).padStart(2, '0')}`));
    const body = okBody(rows);
    const scope = nock(ORIGIN).post(PATH).reply(200, body, { 'content-type': 'application/json' });
    const received: RawEvent[] = [];
    const error = await caught(client({ maxBodyBytes: body.length - 1 }).fetchEvents(RANGE, keeper(received)));

    scope.done();
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).retryable).toBe(false);
    expect((error as UpstreamError).message).toMatch(/more than \d+ bytes.*no events from it are used/);
    expect((error as UpstreamError).message).not.toContain(SECRET);
    expect(sleeps).toEqual([]);
    expect(received).toEqual([]);
  });

  it('retries an HTML 503 from the CDN and succeeds on the third attempt', async () => {
    const scope = nock(ORIGIN)
      .post(PATH)
      .twice()
      .reply(503, CDN_503, { 'content-type': 'text/html; charset=utf-8' })
      .post(PATH)
      .reply(200, okBody([ev('2025-03-09 12:00:00')]));
    const { rows, stats } = await collect(client());
    scope.done();
    expect(rows).toEqual([ev('2025-03-09 12:00:00')]);
    expect(sleeps).toHaveLength(2);
    expect(stats).toMatchObject({ requests: 3, retries: 2, events: 1, pages: 1 });
    const scheduled = logger.records().filter((r) => r.msg === 'retry.scheduled');
    expect(scheduled).toHaveLength(2);
    expect(scheduled[0]).toMatchObject({ service: 'lastpass', status: 503, attempt: 1 });
  });

  it('waits exactly the Retry-After of a 429 (7 s) before retrying', async () => {
    const scope = nock(ORIGIN)
      .post(PATH)
      .reply(429, '', { 'retry-after': '7' })
      .post(PATH)
      .reply(200, okBody([ev('2025-03-09 12:00:00')]));
    const { rows } = await collect(client());
    scope.done();
    expect(sleeps).toEqual([7000]);
    expect(rows).toHaveLength(1);
  });

  it('honours Retry-After on an HTML 503 as well', async () => {
    const scope = nock(ORIGIN)
      .post(PATH)
      .reply(503, CDN_503, { 'content-type': 'text/html', 'retry-after': '12' })
      .post(PATH)
      .reply(200, okBody([]));
    await collect(client());
    scope.done();
    expect(sleeps).toEqual([12_000]);
  });

  it('retries a network error (ECONNRESET)', async () => {
    const scope = nock(ORIGIN)
      .post(PATH)
      .replyWithError(connectionReset())
      .post(PATH)
      .reply(200, okBody([ev('2025-03-09 12:00:00')]));
    const { rows, stats } = await collect(client());
    scope.done();
    expect(rows).toHaveLength(1);
    expect(sleeps).toHaveLength(1);
    expect(stats).toMatchObject({ requests: 2, retries: 1 });
  });

  it('reports a network error that persists as a retryable UpstreamError naming the redacted URL', async () => {
    const scope = nock(ORIGIN).post(PATH).query(true).times(2).replyWithError(connectionReset());
    const error = await caught(
      client({ retryPolicy: { ...DEFAULT_RETRY_POLICY, retries: 1 }, apiUrl: `${API_URL}?token=abc123` }).probe(RANGE),
    );
    scope.done();
    expect(error).toBeInstanceOf(UpstreamError);
    const e = error as UpstreamError;
    expect(e.retryable).toBe(true);
    expect(e.message).toContain('Could not reach LastPass');
    expect(e.url).toBe(API_URL);
    expect(e.message).not.toContain('abc123');
    expect(sleeps).toHaveLength(1);
  });

  it('times out a slow answer with an UpstreamError that names LASTPASS_TIMEOUT_SECONDS', async () => {
    // An upstream that never answers: the request ends only by our timeout's abort. (nock's `.delay` with an
    // abort trips an assertion inside Node 24's undici under nock 15, so the network is a fetch that waits.)
    let requests = 0;
    const silent = (_input: string | URL, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        requests++;
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
      });
    const error = await caught(client({ fetch: silent, timeoutMs: 50, retryPolicy: { ...DEFAULT_RETRY_POLICY, retries: 0 } }).probe(RANGE));
    expect(requests).toBe(1);
    expect(error).toBeInstanceOf(UpstreamError);
    const e = error as UpstreamError;
    expect(e.message).toContain('LASTPASS_TIMEOUT_SECONDS');
    expect(e.retryable).toBe(true);
    expect(e.service).toBe('lastpass');
    expect(sleeps).toEqual([]);
  });

  it('throws the last error when the retries are exhausted, backing off exponentially', async () => {
    const attempts = DEFAULT_RETRY_POLICY.retries + 1;
    const scope = nock(ORIGIN).post(PATH).times(attempts).reply(503, CDN_503, { 'content-type': 'text/html' });
    const error = await caught(collect(client()));
    scope.done();
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).status).toBe(503);
    expect(sleeps).toHaveLength(DEFAULT_RETRY_POLICY.retries);
    // Equal jitter: each delay lies between half and all of the exponential step (2 s, 4 s, 8 s, ...).
    sleeps.forEach((ms, i) => {
      const step = Math.min(DEFAULT_RETRY_POLICY.maxDelayMs, DEFAULT_RETRY_POLICY.baseDelayMs * 2 ** i);
      expect(ms).toBeGreaterThanOrEqual(step / 2);
      expect(ms).toBeLessThanOrEqual(step);
    });
  });

  it('gives up early, without sleeping, when the next delay would pass the deadline', async () => {
    let clock = 1_000_000;
    const scope = nock(ORIGIN).post(PATH).times(4).reply(503, CDN_503, { 'content-type': 'text/html', 'retry-after': '3' });
    const c = client({
      now: () => clock,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock += ms;
      },
    });
    // 3 s waits: after three of them the clock is at +9 s, and a fourth would end at +12 s > +10 s.
    const error = await caught(collect(c, RANGE, { deadline: 1_000_000 + 10_000 }));
    scope.done();
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).status).toBe(503);
    expect(sleeps).toEqual([3000, 3000, 3000]);
    expect(logger.records().filter((r) => r.msg === 'retry.give_up_deadline')).toHaveLength(1);
  });

  it('does not even retry once when the first Retry-After already passes the deadline', async () => {
    const scope = nock(ORIGIN).post(PATH).reply(429, '', { 'retry-after': '7' });
    const error = await caught(collect(client({ now: () => 5_000 }), RANGE, { deadline: 10_000 }));
    scope.done();
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).status).toBe(429);
    expect(sleeps).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Completeness past the page limit

/** A deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function wallAt(base: string, offsetSeconds: number): string {
  const d = new Date(`${base.replace(' ', 'T')}Z`);
  d.setUTCSeconds(d.getUTCSeconds() + offsetSeconds);
  return d.toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * 1,050 events, newest first, 2 to 5 per second (a few more where needed), in the five minutes before
 * 17:09:00. Every tenth second repeats one of its events exactly (a genuine repeat, e.g. two identical
 * failed logins). The second counts are chosen so that, with a page limit of `pageLimit`, every page that
 * LastPass has to cut is cut *inside* a second with several events: the client re-asks from the start of
 * the oldest second of a cut page, so we follow those page starts while generating.
 */
function syntheticDay(pageLimit: number): RawEvent[] {
  const rnd = prng(20250309);
  const users = ['maria@example.org', 'tom@example.org', 'ana@example.org', 'li@example.org', ''];
  const actions = ['Login', 'Failed login attempt', 'Log out', 'Open Vault', 'Make admin', 'Reporting'];
  const ips = ['198.51.100.23', '203.0.113.9', '192.0.2.44'];
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)] as T;
  const total = 1050;
  const events: RawEvent[] = [];
  let pageStart = 0;
  let second = 0;
  while (events.length < total) {
    const time = wallAt('2025-03-09 17:09:00', -second);
    const start = events.length;
    let count = 2 + Math.floor(rnd() * 4);
    const lastOfPage = pageStart + pageLimit - 1;
    if (start <= lastOfPage && start + count - 1 >= lastOfPage) {
      // This second holds the page's last row: make it hold the first row past the page too.
      if (start + count - 1 === lastOfPage) count++;
      pageStart = start;
    }
    count = Math.min(count, total - start);
    for (let i = 0; i < count; i++) {
      if (i > 0 && second % 10 === 0 && i === count - 1) {
        events.push({ ...(events[start] as RawEvent) });
      } else {
        events.push(ev(time, pick(users), pick(actions), pick(ips), `VID: ${Math.floor(rnd() * 50)}`));
      }
    }
    second++;
  }
  return events;
}

interface Simulated {
  requests: { from: string; to: string; returned: number; cut: boolean; straddled: boolean }[];
}

/** Answers like LastPass: the newest `pageLimit` events with from <= Time <= to, plus `next` when cut. */
function simulateLastPass(dataset: readonly RawEvent[], pageLimit: number, sim: Simulated) {
  return async (request: Request): Promise<nock.ReplyFnResult> => {
    const req = await requestBodyOf(request);
    const data = req.data as { from: string; to: string };
    const matching = dataset.filter((e) => e.Time >= data.from && e.Time <= data.to);
    const page = matching.slice(0, pageLimit);
    const cut = matching.length > pageLimit;
    const straddled = cut && matching[pageLimit - 1]?.Time === matching[pageLimit]?.Time;
    sim.requests.push({ from: data.from, to: data.to, returned: page.length, cut, straddled });
    // `next` alternates between a number and a numeric string (both are seen in the wild).
    const next = cut ? (sim.requests.length % 2 === 0 ? '1741539931.123456' : 1741539931.123456) : null;
    return [200, okBody(page, next), { 'content-type': 'application/json' }];
  };
}

const sortedLines = (rows: readonly RawEvent[]): string[] =>
  rows.map((r) => JSON.stringify([r.Time, r.Username, r.IP_Address, r.Action, r.Data])).sort();

describe('completeness past the page limit', () => {
  it('collects exactly the dataset (as a multiset) across many pages cut inside busy seconds', async () => {
    const dataset = syntheticDay(100);
    expect(dataset).toHaveLength(1050);
    // The dataset really has genuine exact repeats.
    const lines = sortedLines(dataset);
    const repeats = lines.filter((l, i) => i > 0 && lines[i - 1] === l).length;
    expect(repeats).toBeGreaterThanOrEqual(20);

    const sim: Simulated = { requests: [] };
    const scope = nock(ORIGIN)
      .post(PATH)
      .reply(simulateLastPass(dataset, 100, sim))
      .persist();
    const range = { from: '2025-03-09 17:00:00', to: '2025-03-09 17:10:00' };
    const { rows, pages, stats } = await collect(client({ pageLimit: 100 }), range);
    expect(scope.isDone()).toBe(true);
    nock.cleanAll();

    // The same events, each as often as it happened: no boundary duplicate, no merged repeat, none lost.
    expect(rows).toHaveLength(1050);
    expect(sortedLines(rows)).toEqual(lines);
    // Streamed newest first.
    for (let i = 1; i < rows.length; i++) expect((rows[i - 1] as RawEvent).Time >= (rows[i] as RawEvent).Time).toBe(true);

    // The simulation really cut pages inside seconds with several events, at every boundary.
    const cuts = sim.requests.filter((r) => r.cut);
    expect(cuts.length).toBeGreaterThanOrEqual(10);
    expect(cuts.every((r) => r.straddled)).toBe(true);
    expect(sim.requests.at(-1)?.cut).toBe(false);

    // Each page answered the range it asked for, and each request narrowed `to` to the cut second.
    expect(stats).toMatchObject({ requests: sim.requests.length, pages: sim.requests.length, events: 1050, outOfRange: 0, retries: 0 });
    expect(pages.map((p) => p.range)).toEqual(sim.requests.map((r) => ({ from: r.from, to: r.to })));
    expect(pages.map((p) => p.requestNumber)).toEqual(sim.requests.map((_r, i) => i + 1));
    for (let i = 1; i < sim.requests.length; i++) {
      expect((sim.requests[i] as { to: string }).to < (sim.requests[i - 1] as { to: string }).to).toBe(true);
    }
  });

  it('also completes when a full page ends exactly at a second boundary', async () => {
    // 60 events at 17:00:02, 40 at 17:00:01, 50 at 17:00:00: the first page is full and ends exactly at
    // the end of 17:00:01, which the client cannot know, so it must ask again for 17:00:01 and older.
    const dataset = [
      ...Array.from({ length: 60 }, (_v, i) =>
        ev('2025-03-09 17:00:02', 'maria@example.org', 'Failed login attempt', '203.0.113.9', i % 2 ? 'x' : ''),
      ),
      ...Array.from({ length: 40 }, () => ev('2025-03-09 17:00:01', 'ana@example.org', 'Open Vault')),
      ...Array.from({ length: 50 }, () => ev('2025-03-09 17:00:00', 'tom@example.org', 'Login')),
    ];
    const sim: Simulated = { requests: [] };
    const scope = nock(ORIGIN)
      .post(PATH)
      .reply(simulateLastPass(dataset, 100, sim))
      .persist();
    const { rows } = await collect(client({ pageLimit: 100 }), { from: '2025-03-09 17:00:00', to: '2025-03-09 17:00:05' });
    expect(scope.isDone()).toBe(true);
    nock.cleanAll();
    expect(sortedLines(rows)).toEqual(sortedLines(dataset));
    expect(sim.requests.map((r) => r.to)).toEqual(['2025-03-09 17:00:05', '2025-03-09 17:00:01']);
  });

  it('throws IncompleteDataError when a full page holds events of one second only', async () => {
    const dataset = Array.from({ length: 150 }, () =>
      ev('2025-03-09 17:02:00', 'maria@example.org', 'Failed login attempt', '203.0.113.9'),
    );
    const sim: Simulated = { requests: [] };
    const scope = nock(ORIGIN)
      .post(PATH)
      .reply(simulateLastPass(dataset, 100, sim))
      .persist();
    const error = await caught(collect(client({ pageLimit: 100 }), { from: '2025-03-09 17:00:00', to: '2025-03-09 17:05:00' }));
    expect(scope.isDone()).toBe(true);
    nock.cleanAll();
    expect(error).toBeInstanceOf(IncompleteDataError);
    expect((error as Error).message).toContain('2025-03-09 17:02:00');
    // First the whole range, then the range narrowed to that one second: no third guess.
    expect(sim.requests.map((r) => r.to)).toEqual(['2025-03-09 17:05:00', '2025-03-09 17:02:00']);
    expect(sleeps).toEqual([]);
  });

  it('drops and counts rows outside the asked range', async () => {
    const inside = [ev('2025-03-09 12:00:01'), ev('2025-03-09 12:00:00')];
    const scope = nock(ORIGIN)
      .post(PATH)
      .reply(200, okBody([ev('2025-03-10 00:00:00'), ...inside, ev('2025-03-08 23:59:59'), ev('2025-03-08 10:00:00')]));
    const { rows, stats } = await collect(client());
    scope.done();
    expect(rows).toEqual(inside);
    expect(stats).toMatchObject({ outOfRange: 3, events: 2, requests: 1 });
    const warnings = logger.records().filter((r) => r.msg === 'lastpass.rows_out_of_range');
    expect(warnings).toEqual([expect.objectContaining({ level: 'warn', dropped: 3, before: 2, after: 1, from: RANGE.from, to: RANGE.to })]);
  });
});

type ServedOrder = 'newest-first' | 'oldest-first' | 'shuffled-newest' | 'shuffled-oldest';

/**
 * Answers with a page of `pageLimit` events selected and ordered as `order` says: the newest (or oldest)
 * events of the range, listed newest first, oldest first, or shuffled within the page; `next` when cut.
 */
function serveInOrder(dataset: readonly RawEvent[], pageLimit: number, order: ServedOrder, requests: WallRange[]) {
  const shuffle = prng(7);
  return async (request: Request): Promise<nock.ReplyFnResult> => {
    const data = (await requestBodyOf(request)).data as WallRange;
    requests.push({ from: data.from, to: data.to });
    const matching = dataset.filter((e) => e.Time >= data.from && e.Time <= data.to);
    const oldestFirst = [...matching].reverse();
    const selected =
      order === 'newest-first' || order === 'shuffled-newest' ? matching.slice(0, pageLimit) : oldestFirst.slice(0, pageLimit);
    let page = order === 'oldest-first' ? selected : order === 'newest-first' ? selected : [...selected];
    if (order.startsWith('shuffled')) {
      for (let i = page.length - 1; i > 0; i--) {
        const j = Math.floor(shuffle() * (i + 1));
        [page[i], page[j]] = [page[j]!, page[i]!];
      }
    }
    page = page.slice();
    return [200, okBody(page, matching.length > pageLimit ? 1741539931.5 : null), { 'content-type': 'application/json' }];
  };
}

describe('paging that does not trust the order', () => {
  const orders: ServedOrder[] = ['newest-first', 'oldest-first', 'shuffled-newest', 'shuffled-oldest'];
  for (const order of orders) {
    it(`collects exactly the dataset when pages come ${order}`, async () => {
      const dataset = syntheticDay(100);
      const requests: WallRange[] = [];
      nock(ORIGIN)
        .post(PATH)
        .reply(serveInOrder(dataset, 100, order, requests))
        .persist();
      const { rows, stats } = await collect(client({ pageLimit: 100 }), { from: '2025-03-09 17:00:00', to: '2025-03-09 17:10:00' });
      nock.cleanAll();
      expect(rows).toHaveLength(1050);
      expect(sortedLines(rows)).toEqual(sortedLines(dataset));
      expect(stats).toMatchObject({ events: 1050, outOfRange: 0 });
      // Each range asked again is strictly inside the one before it was cut from, and the bound holds.
      expect(stats.requests).toBe(requests.length);
      expect(stats.requests).toBeLessThanOrEqual(3 * Math.ceil(1050 / 5) + 10);
    });
  }

  it('fails loudly, within the bound, when every answer moves the boundary one second with one new event', async () => {
    // A runaway: each answer has one event at `to` and one a second older, and says more are available.
    const requests: WallRange[] = [];
    nock(ORIGIN)
      .post(PATH)
      .reply(async (request: Request) => {
        const data = (await requestBodyOf(request)).data as WallRange;
        requests.push(data);
        const older = wallAt(data.to, -1);
        const own = (Time: string) => ev(Time, '', 'Reporting', '198.51.100.23', 'Initiated by API: lastpass-audit-digest');
        return [200, okBody([own(data.to), own(older)], 1741539931)];
      })
      .persist();
    const error = await caught(collect(client(), { from: '2025-03-09 17:00:00', to: '2025-03-09 17:59:59' }));
    nock.cleanAll();
    expect(error).toBeInstanceOf(IncompleteDataError);
    expect((error as Error).message).toMatch(/needed more than 13 requests for 13 events/);
    expect(requests.length).toBeLessThanOrEqual(14);
  });

  it('fails loudly when a cut page only moves the boundary without a new event', async () => {
    nock(ORIGIN)
      .post(PATH)
      .reply(
        200,
        okBody([ev('2025-03-09 12:00:00'), ev('2025-03-09 12:30:00'), ev('2025-03-09 12:00:00'), ev('2025-03-09 12:30:00')], 1741539931),
      );
    const error = await caught(collect(client()));
    expect(error).toBeInstanceOf(IncompleteDataError);
    expect((error as Error).message).toContain('adds no event');
  });

  it('reads the key "data" twice (the second empty) as an error, never as an empty day', async () => {
    const body = `{"status":"OK","next":null,"data":{"Event1":${JSON.stringify(ev('2025-03-09 12:00:00', 'maria@example.org', 'Make admin'))}},"data":{}}`;
    for (const pageReader of ['byte-scanner', 'json-parse'] as const) {
      nock(ORIGIN).post(PATH).reply(200, body);
      const error = await caught(collect(client({ pageReader })));
      expect(error, pageReader).toBeInstanceOf(UpstreamError);
      expect((error as Error).message).toBe(
        'LastPass sent JSON with the key "data" twice in one object (top level): it cannot be read unambiguously, so no events from it are used.',
      );
      expect((error as UpstreamError).retryable).toBe(false);
    }
  });

  it('counts rows outside the asked range per direction', async () => {
    nock(ORIGIN)
      .post(PATH)
      .reply(200, okBody([ev('2025-03-10 00:00:00'), ev('2025-03-09 12:00:00'), ev('2025-03-08 23:59:59'), ev('2025-03-08 10:00:00')]));
    const { stats } = await collect(client());
    expect(stats).toMatchObject({ events: 1, rowsReturned: 4, outOfRange: 3, outOfRangeBefore: 2, outOfRangeAfter: 1 });
  });
});

describe('a cut page without a single row in the asked range', () => {
  // fetchEvents promises to resolve only when the whole range was fetched. A full page whose rows all lie
  // outside [from, to] says nothing about the events inside the range, so it must not be taken as
  // "no events": the digest would report a quiet day that may not have been quiet.
  it('does not resolve as complete when a full page holds only rows newer than `to`', async () => {
    const newer = Array.from({ length: 100 }, (_v, i) => ev(wallAt('2025-03-10 00:00:00', 100 - i)));
    const scope = nock(ORIGIN).post(PATH).reply(200, okBody(newer, 1741582900.5)).persist();
    const outcome = await collect(client({ pageLimit: 100 })).then(
      (result) => ({ resolved: true as const, events: result.stats.events, outOfRange: result.stats.outOfRange }),
      (error: unknown) => ({ resolved: false as const, error }),
    );
    expect(scope.isDone()).toBe(true);
    nock.cleanAll();
    expect(outcome).toMatchObject({ resolved: false });
  });
});

describe('parseReportingResponse', () => {
  const ctx = { url: API_URL, now: 0, retryAfter: null };
  const nextCases: { name: string; next: unknown; expected: string | null }[] = [
    { name: 'a number', next: 1741539931.123456, expected: '1741539931.123456' },
    { name: 'a whole number', next: 1741539931, expected: '1741539931' },
    { name: 'a numeric string', next: '1741539931.123456', expected: '1741539931.123456' },
    { name: 'null', next: null, expected: null },
    { name: 'missing', next: undefined, expected: null },
    { name: 'an empty string', next: '', expected: null },
    { name: '0', next: 0, expected: null },
  ];
  for (const c of nextCases) {
    it(`reads next given as ${c.name} as ${JSON.stringify(c.expected)}`, () => {
      const body = JSON.stringify({ status: 'OK', next: c.next, data: {} });
      expect(parseReportingResponse(200, 'application/json', body, ctx).next).toBe(c.expected);
    });
  }

  it('reads a Retry-After given as an HTTP date relative to now', () => {
    const error = (() => {
      try {
        parseReportingResponse(503, 'text/plain', 'busy', {
          url: API_URL,
          now: Date.parse('2025-03-09T12:00:00Z'),
          retryAfter: 'Sun, 09 Mar 2025 12:00:30 GMT',
        });
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).retryAfterSeconds).toBe(30);
  });

  it('rejects an event without a Time rather than guessing', () => {
    const body = JSON.stringify({ status: 'OK', data: { Event1: { Username: 'x' } } });
    expect(() => parseReportingResponse(200, 'application/json', body, ctx)).toThrow(UpstreamError);
  });
});

describe('secrets', () => {
  it('never logs the secret, whatever goes wrong', async () => {
    const scope = nock(ORIGIN)
      .post(PATH)
      .reply(503, CDN_503, { 'content-type': 'text/html' })
      .post(PATH)
      .replyWithError(connectionReset())
      .post(PATH)
      .reply(200, '{"status":"OK","data":{"Event1":{"Ti')
      .post(PATH)
      .reply(429, '', { 'retry-after': '1' })
      .post(PATH)
      .reply(200, AUTH_XML);
    const error = await caught(collect(client()));
    scope.done();
    expect(error).toBeInstanceOf(AuthorizationError);
    expect(logger.lines.length).toBeGreaterThanOrEqual(4);
    for (const line of logger.lines) expect(line).not.toContain(SECRET);
    expect(JSON.stringify(error)).not.toContain(SECRET);
  });
});
