import { describe, it, expect, afterEach } from 'vitest';
import type { RawEvent } from '../src/core/types.js';
import { formatWall, resolveWall } from '../src/core/wall-time.js';
import { generateDemoDay } from '../src/simulator/demo-day.js';
import {
  AUTH_ERROR_XML,
  createLastPassSimulator,
  sortNewestFirst,
  type LastPassSimulator,
  type LastPassSimulatorOptions,
} from '../src/simulator/lastpass-simulator.js';

const ACCOUNT = '8771234';
const SECRET = 'test-secret-0123456789';
const TZ = 'America/New_York';

const open: LastPassSimulator[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function start(options: Partial<LastPassSimulatorOptions> & { events: RawEvent[] }): Promise<LastPassSimulator> {
  const sim = await createLastPassSimulator({ accountNumber: ACCOUNT, apiSecret: SECRET, ...options });
  open.push(sim);
  return sim;
}

interface ReportingResponse {
  status: string;
  next?: number | string | null;
  error?: string;
  data?: Record<string, RawEvent> | unknown[];
}

async function post(url: string, body: unknown): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

function reporting(data: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cid: Number(ACCOUNT), provhash: SECRET, apiuser: 'lastpass-audit-digest', cmd: 'reporting', data, ...extra };
}

async function query(url: string, body: unknown): Promise<ReportingResponse> {
  const res = await post(url, body);
  expect(res.status).toBe(200);
  return JSON.parse(res.text) as ReportingResponse;
}

function rows(response: ReportingResponse): RawEvent[] {
  const data = response.data;
  if (data === undefined || Array.isArray(data)) return [];
  return Object.entries(data).map(([key, value], i) => {
    expect(key).toBe(`Event${i + 1}`);
    return value;
  });
}

/**
 * `count` events from 2025-03-04 08:00:00 New York time: one in the first second, then three per second
 * (so that 10,000-event pages cut a second in two).
 */
function steadyEvents(count: number): RawEvent[] {
  const base = Date.parse('2025-03-04T13:00:00Z');
  const events: RawEvent[] = [];
  for (let i = 0; i < count; i++) {
    events.push({
      Time: formatWall(base + Math.floor((i + 2) / 3) * 1000, TZ),
      Username: `user${i % 50}@example.org`,
      IP_Address: `192.0.2.${(i % 200) + 1}`,
      Action: 'Form Filled',
      Data: `VID: ${i}`,
    });
  }
  // Shuffle deterministically: the simulator must sort.
  return events
    .map((e, i) => ({ e, k: (i * 7919) % count }))
    .sort((a, b) => a.k - b.k)
    .map((x) => x.e);
}

/** Events whose wall time (resolved, either pass of a repeated hour) is outside [end - hours, end). */
function outsideWindow(events: readonly RawEvent[], end: Date, hours: number): RawEvent[] {
  const start = end.getTime() - hours * 3_600_000;
  const cache = new Map<string, boolean>();
  return events.filter((e) => {
    let bad = cache.get(e.Time);
    if (bad === undefined) {
      const r = resolveWall(e.Time, TZ);
      // In a repeated hour the string may stand for the later pass: accept either instant (+1 h).
      bad =
        r === null ||
        !(
          (r.at >= start && r.at < end.getTime()) ||
          (r.resolution === 'repeated' && r.at + 3_600_000 >= start && r.at + 3_600_000 < end.getTime())
        );
      cache.set(e.Time, bad);
    }
    return bad;
  });
}

const DAY = { from: '2025-03-04 00:00:00', to: '2025-03-04 23:59:59' };

describe('LastPass simulator: protocol', () => {
  it('answers a wrong secret or account number with HTTP 200 and the XML authorization error', async () => {
    const sim = await start({ events: steadyEvents(10) });
    for (const body of [
      { ...reporting(DAY), provhash: 'wrong' },
      { ...reporting(DAY), cid: 1 },
      { ...reporting(DAY), provhash: undefined },
    ]) {
      const res = await post(sim.url, body);
      expect(res.status).toBe(200);
      expect(res.type).toMatch(/text\/xml/);
      expect(res.text).toBe('<?xml version="1.0" encoding="UTF-8"?>\n<lastpass rc="Authorization Error"/>');
      expect(res.text).toBe(AUTH_ERROR_XML);
    }
    expect(sim.requests.map((r) => r.kind)).toEqual(['auth-error', 'auth-error', 'auth-error']);
  });

  it('accepts the account number as a number or a numeric string, and redacts the secret in its log', async () => {
    const sim = await start({ events: steadyEvents(10) });
    const a = await query(sim.url, reporting(DAY));
    const b = await query(sim.url, { ...reporting(DAY), cid: ACCOUNT });
    expect(a.status).toBe('OK');
    expect(b.status).toBe('OK');
    expect(rows(a)).toHaveLength(10);
    expect(JSON.stringify(sim.requests)).not.toContain(SECRET);
    expect(sim.requests[0]).toMatchObject({
      index: 0,
      method: 'POST',
      kind: 'ok',
      status: 200,
      eventCount: 10,
      next: null,
      body: { provhash: '[redacted]', cmd: 'reporting', data: DAY },
    });
  });

  it('returns status FAIL for a bad from/to, another command, and a non-JSON body', async () => {
    const sim = await start({ events: steadyEvents(10) });
    for (const from of ['2025-03-04', '2025-03-04T00:00:00', '2025-02-30 00:00:00', '2025-03-04 24:00:00']) {
      const res = await query(sim.url, reporting({ ...DAY, from }));
      expect(res.status).toBe('FAIL');
      expect(typeof res.error).toBe('string');
    }
    expect((await query(sim.url, reporting({ ...DAY, to: 12 }))).status).toBe('FAIL');
    expect((await query(sim.url, { ...reporting(DAY), cmd: 'getuserdata' })).status).toBe('FAIL');
    const garbage = await post(sim.url, '{"cid": 8771234, "provhash":');
    expect(garbage.status).toBe(400);
    expect((JSON.parse(garbage.text) as ReportingResponse).status).toBe('FAIL');
  });

  it('selects from <= Time <= to with both ends inclusive, newest first', async () => {
    const events = steadyEvents(31); // 08:00:00 (one), then 08:00:01 .. 08:00:10, three per second
    const sim = await start({ events });
    const res = await query(sim.url, reporting({ from: '2025-03-04 08:00:02', to: '2025-03-04 08:00:05' }));
    const got = rows(res);
    expect(got).toHaveLength(12);
    expect(got[0]!.Time).toBe('2025-03-04 08:00:05');
    expect(got.at(-1)!.Time).toBe('2025-03-04 08:00:02');
    const times = got.map((e) => e.Time);
    expect([...times].sort().reverse()).toEqual(times);
    expect(res.next).toBeNull();
  });

  it.each([
    ['object', '{}'],
    ['array', '[]'],
  ] as const)('sends an empty result as data: %s', async (shape, literal) => {
    const sim = await start({ events: steadyEvents(10), emptyDataShape: shape });
    const res = await post(sim.url, reporting({ from: '2025-01-01 00:00:00', to: '2025-01-01 23:59:59' }));
    expect(res.text).toContain(`"data":${literal}`);
    const parsed = JSON.parse(res.text) as ReportingResponse;
    expect(parsed.status).toBe('OK');
    expect(parsed.next).toBeNull();
  });

  it('sends an empty result without data when emptyDataShape is missing', async () => {
    const sim = await start({ events: [], emptyDataShape: 'missing' });
    const parsed = await query(sim.url, reporting(DAY));
    expect(parsed).toEqual({ status: 'OK', next: null });
    expect(sim.requests[0]!.eventCount).toBe(0);
  });

  it('lets a test inject faults and slow answers, then answers normally', async () => {
    const sim = await start({
      events: steadyEvents(10),
      override: (_body, index) => {
        if (index === 0) return { status: 503, headers: { 'content-type': 'text/html' }, body: '<html>503 Service Unavailable</html>' };
        if (index === 1) return { status: 429, headers: { 'retry-after': '1' }, body: '' };
        if (index === 2) return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"status":"OK","data":{"Ev' };
        if (index === 3) return { status: 200, body: '{"status":"OK","next":null,"data":{}}', delayMs: 150 };
        return undefined;
      },
    });
    const first = await post(sim.url, reporting(DAY));
    expect(first.status).toBe(503);
    expect(first.text).toContain('<html>');
    const second = await fetch(sim.url, { method: 'POST', body: JSON.stringify(reporting(DAY)) });
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('1');
    await second.text();
    const third = await post(sim.url, reporting(DAY));
    expect(() => JSON.parse(third.text) as unknown).toThrow();
    const t0 = Date.now();
    await post(sim.url, reporting(DAY));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    const fifth = await query(sim.url, reporting(DAY));
    expect(rows(fifth)).toHaveLength(10);
    expect(sim.requests.map((r) => r.kind)).toEqual(['override', 'override', 'override', 'override', 'ok']);
  });

  it('answers after the latency it is given, which can be set between requests (the bench sets it after pre-building)', async () => {
    const sim = await start({ events: steadyEvents(10) });
    sim.setDelay(150);
    const t0 = Date.now();
    expect(rows(await query(sim.url, reporting(DAY)))).toHaveLength(10);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('can drop the connection and still close cleanly with keep-alive sockets open', async () => {
    const sim = await createLastPassSimulator({
      accountNumber: ACCOUNT,
      apiSecret: SECRET,
      events: steadyEvents(5),
      override: (_b, index) => (index === 0 ? { status: 0, body: '', destroySocket: true } : undefined),
    });
    await expect(post(sim.url, reporting(DAY))).rejects.toThrow();
    expect(rows(await query(sim.url, reporting(DAY)))).toHaveLength(5);
    const t0 = Date.now();
    await sim.close();
    await sim.close(); // idempotent
    expect(Date.now() - t0).toBeLessThan(1000);
    await expect(post(sim.url, reporting(DAY))).rejects.toThrow();
  });
});

describe('LastPass simulator: paging', () => {
  it('returns 10,000 of 25,000 events with next set, as a microsecond-precision number', async () => {
    const events = steadyEvents(25_000);
    const sim = await start({ events, pageSize: 10_000 });
    const raw = await post(sim.url, reporting(DAY));
    expect(raw.text).toMatch(/"next":\d{10}\.\d{6},/);
    const page = JSON.parse(raw.text) as ReportingResponse;
    expect(page.status).toBe('OK');
    const got = rows(page);
    expect(got).toHaveLength(10_000);
    expect(typeof page.next).toBe('number');
    // next is the oldest returned event's wall time as epoch seconds.
    const oldest = got.at(-1)!.Time;
    expect(page.next).toBe(resolveWall(oldest, TZ)!.at / 1000);
    expect(sim.requests[0]).toMatchObject({ eventCount: 10_000, next: page.next });
  });

  it('next returns the events at that time or earlier: the boundary second comes back on both pages', async () => {
    const events = steadyEvents(25_000);
    const sim = await start({ events, pageSize: 10_000 });
    const pages: RawEvent[][] = [];
    let next: number | string | null | undefined;
    for (let guard = 0; guard < 10; guard++) {
      const body = reporting(next === undefined ? DAY : { ...DAY, next });
      const page = await query(sim.url, body);
      pages.push(rows(page));
      if (page.next === null || page.next === undefined) break;
      next = page.next;
    }
    expect(pages.map((p) => p.length)).toEqual([10_000, 10_000, 5_002]);
    // 10,000 / 3 per second: the boundary second of page 1 has 1 event on page 1, all 3 on page 2.
    const boundary = pages[0]!.at(-1)!.Time;
    expect(pages[0]!.filter((e) => e.Time === boundary)).toHaveLength(1);
    expect(pages[1]!.filter((e) => e.Time === boundary)).toHaveLength(3);
    expect(pages[1]![0]!.Time).toBe(boundary);
    // De-duplicating at the boundary (by multiset per second, not by content) restores exactly the input.
    const seen = new Map<string, number>();
    for (const page of pages) {
      const inPage = new Map<string, number>();
      for (const e of page) inPage.set(e.Time, (inPage.get(e.Time) ?? 0) + 1);
      for (const [t, n] of inPage) seen.set(t, Math.max(seen.get(t) ?? 0, n));
    }
    expect([...seen.values()].reduce((a, b) => a + b, 0)).toBe(25_000);
  });

  it('accepts next at the top level, inside data, and as a numeric string', async () => {
    const sim = await start({ events: steadyEvents(25_000), pageSize: 10_000 });
    const first = await query(sim.url, reporting(DAY));
    const next = first.next as number;
    const inData = rows(await query(sim.url, reporting({ ...DAY, next })));
    const topLevel = rows(await query(sim.url, reporting(DAY, { next })));
    const asString = rows(await query(sim.url, reporting(DAY, { next: next.toFixed(6) })));
    expect(inData).toHaveLength(10_000);
    expect(topLevel).toEqual(inData);
    expect(asString).toEqual(inData);
    expect((await query(sim.url, reporting({ ...DAY, next: 'soon' }))).status).toBe('FAIL');
  });

  it('sends next: null on a cut page when respondWithNext is false', async () => {
    const sim = await start({ events: steadyEvents(25), pageSize: 10, respondWithNext: false });
    const page = await query(sim.url, reporting(DAY));
    expect(rows(page)).toHaveLength(10);
    expect(page.next).toBeNull();
  });

  it('sorts newest first and keeps the input order of equal times', () => {
    const e = (Time: string, Data: string): RawEvent => ({ Time, Username: '', IP_Address: '', Action: 'Login', Data });
    const input = [
      e('2025-03-04 08:00:01', 'a'),
      e('2025-03-04 08:00:02', 'b'),
      e('2025-03-04 08:00:01', 'c'),
      e('2025-03-04 08:00:02', 'd'),
    ];
    expect(sortNewestFirst(input).map((x) => x.Data)).toEqual(['b', 'd', 'a', 'c']);
    expect(input.map((x) => x.Data)).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('demo day', () => {
  const end = new Date('2025-03-05T05:00:00Z'); // midnight in New York
  const day = generateDemoDay({ end });

  it('is deterministic for a seed and differs for another seed', () => {
    expect(generateDemoDay({ end })).toEqual(day);
    const other = generateDemoDay({ end, seed: 7 });
    expect(other.events).not.toEqual(day.events);
  });

  it('has more than 10,000 events, all within the window, all five fields strings', () => {
    expect(day.events.length).toBeGreaterThan(10_000);
    expect(outsideWindow(day.events, end, 24)).toEqual([]);
    const badShape = day.events.filter(
      (e) => Object.keys(e).join() !== 'Time,Username,IP_Address,Action,Data' || Object.values(e).some((v) => typeof v !== 'string'),
    );
    expect(badShape).toEqual([]);
  });

  it('stays inside windows that cross DST changes or do not start on a whole second', () => {
    const spring = new Date('2025-03-10T04:00:00.250Z'); // New York midnight after the spring-forward day
    const springDay = generateDemoDay({ end: spring, benignCount: 5_000 });
    expect(outsideWindow(springDay.events, spring, 24)).toEqual([]);
    expect(springDay.events.filter((e) => e.Time.startsWith('2025-03-09 02:'))).toEqual([]);
    const autumn = new Date('2025-11-03T05:00:00Z'); // the fall-back day repeats 01:00-01:59
    const autumnDay = generateDemoDay({ end: autumn, benignCount: 5_000, hours: 25 });
    expect(outsideWindow(autumnDay.events, autumn, 25)).toEqual([]);
    const short = generateDemoDay({ end: spring, hours: 2, benignCount: 500 });
    expect(outsideWindow(short.events, spring, 2)).toEqual([]);
    expect(short.planted).toHaveLength(10);
  });

  it('contains every planted incident', () => {
    const ids = day.planted.map((p) => p.id);
    expect(ids).toEqual([
      'failed-login-burst',
      'password-spraying',
      'foreign-api-caller',
      'admin-granted',
      'policy-deleted',
      'vault-export',
      'mfa-disabled',
      'shared-folder-admin',
      'hostile-text',
      'new-ip',
    ]);
    const all = new Set(day.events);
    for (const incident of day.planted) {
      expect(incident.events.length).toBeGreaterThan(0);
      for (const e of incident.events) {
        expect(all.has(e)).toBe(true);
        expect(incident.actions).toContain(e.Action);
      }
    }
    const byId = (id: string) => day.planted.find((p) => p.id === id)!.events;
    const seconds = (e: RawEvent) => resolveWall(e.Time, TZ)!.at / 1000;

    const burst = byId('failed-login-burst');
    const fails = burst.filter((e) => e.Action === 'Failed Login Attempt');
    expect(fails).toHaveLength(12);
    expect(new Set(burst.map((e) => `${e.Username}|${e.IP_Address}`)).size).toBe(1);
    expect(seconds(fails.at(-1)!) - seconds(fails[0]!)).toBeLessThanOrEqual(8 * 60);
    expect(seconds(burst.at(-1)!) - seconds(fails.at(-1)!)).toBe(5);
    expect(burst.at(-1)!.Action).toBe('Log in');

    const spray = byId('password-spraying');
    expect(new Set(spray.map((e) => e.IP_Address))).toEqual(new Set(['203.0.113.66']));
    expect(new Set(spray.map((e) => e.Username)).size).toBe(15);
    expect(seconds(spray.at(-1)!) - seconds(spray[0]!)).toBeLessThanOrEqual(20 * 60);

    expect(byId('foreign-api-caller').map((e) => [e.Action, e.Data])).toEqual([
      ['Reporting', 'Initiated by API: backup-script'],
      ['Get User Data', 'Initiated by API'],
    ]);
    expect(byId('admin-granted')[0]!.Data).toMatch(/^[a-z]+\.[a-z]+@example\.org$/);
    expect(byId('policy-deleted').map((e) => e.Data)).toEqual(['Require multifactor authentication', 'Password length New value: 8']);
    expect(byId('vault-export')[0]!.Action).toBe('Data export');
    expect(byId('mfa-disabled')[0]!.Action).toBe('Disabled Multifactor Authentication');
    expect(byId('shared-folder-admin')[0]!.Data).toBe("'Finance' 'eve@example.org' 'Read only:no Admin:yes Hide PW:no'");
    const hostile = byId('hostile-text');
    expect(hostile.map((e) => e.Username)).toContain('<script>alert("x")</script>@evil.example');
    expect(hostile.map((e) => e.Action)).toEqual(expect.arrayContaining(['Vault Health Report Viewed', '  SECURITY DASHBOARD opened  ']));
    expect(hostile.map((e) => e.Data)).toEqual(
      expect.arrayContaining(['=HYPERLINK("http://evil.example","click")', '<img src=x onerror=alert(1)>']),
    );

    const newIp = byId('new-ip')[0]!;
    expect(newIp.IP_Address).toBe('198.18.7.20');
    const plantedSet = new Set(day.planted.flatMap((p) => p.events));
    const benign = day.events.filter((e) => !plantedSet.has(e));
    expect(benign.some((e) => e.Username === newIp.Username && e.IP_Address === '198.18.7.20')).toBe(false);
    expect(benign.some((e) => e.Username === newIp.Username)).toBe(true);
    expect(benign.some((e) => e.IP_Address === '203.0.113.66')).toBe(false);
  });

  it('has benign traffic that is realistic but quiet: mixed spellings, no failure bursts, own API rows', () => {
    const plantedSet = new Set(day.planted.flatMap((p) => p.events));
    const benign = day.events.filter((e) => !plantedSet.has(e));
    expect(benign).toHaveLength(30_000);
    const actions = new Set(benign.map((e) => e.Action));
    for (const a of [
      'Log in',
      'Login',
      'Site Added',
      'Site Changed',
      'Form Filled',
      'Open Secure Note',
      'Password Changed',
      'Created Shared Folder',
      'Add to Group',
      'Login to Admin Console',
      'Employee Account Created',
      'Reporting',
      'Failed Login Attempt',
      'Failed login attempt',
    ]) {
      expect(actions, a).toContain(a);
    }
    expect([...actions].some((a) => a !== a.trim())).toBe(true);
    expect(new Set(benign.filter((e) => e.Action === 'Login to Admin Console').map((e) => e.Username)).size).toBe(2);
    expect(benign.filter((e) => e.Action === 'Reporting').every((e) => e.Data === 'Initiated by API: lastpass-audit-digest')).toBe(true);
    expect(new Set(benign.map((e) => e.Username)).size).toBeGreaterThanOrEqual(140);

    const failuresPerUserHour = new Map<string, number>();
    for (const e of benign) {
      if (!/^failed login attempt$/i.test(e.Action.trim())) continue;
      const key = `${e.Username}|${e.Time.slice(0, 13)}`;
      failuresPerUserHour.set(key, (failuresPerUserHour.get(key) ?? 0) + 1);
    }
    expect(failuresPerUserHour.size).toBeGreaterThan(10);
    expect(Math.max(...failuresPerUserHour.values())).toBeLessThanOrEqual(2);

    // Diurnal: office hours far busier than the small hours.
    const perHour = new Array<number>(24).fill(0);
    for (const e of benign) perHour[Number(e.Time.slice(11, 13))]!++;
    expect(perHour[10]!).toBeGreaterThan(perHour[3]! * 5);
  });

  it('has several events in the same second, including genuine exact repeats', () => {
    const perSecond = new Map<string, number>();
    const exact = new Map<string, number>();
    for (const e of day.events) {
      perSecond.set(e.Time, (perSecond.get(e.Time) ?? 0) + 1);
      const key = JSON.stringify(e);
      exact.set(key, (exact.get(key) ?? 0) + 1);
    }
    expect([...perSecond.values()].filter((n) => n > 1).length).toBeGreaterThan(100);
    expect([...exact.values()].filter((n) => n > 1).length).toBeGreaterThan(10);
  });

  it('generates 30,000 events quickly', () => {
    const t0 = performance.now();
    generateDemoDay({ end, seed: 3 });
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('serves the whole demo day through the simulator', async () => {
    const sim = await start({ events: day.events });
    let next: number | string | null | undefined;
    let total = 0;
    let pages = 0;
    const from = formatWall(end.getTime() - 24 * 3_600_000, TZ);
    const to = formatWall(end.getTime() - 1000, TZ);
    for (;;) {
      const page = await query(sim.url, reporting(next === undefined ? { from, to } : { from, to, next }));
      const got = rows(page);
      pages++;
      if (page.next === null || page.next === undefined) {
        total += got.length;
        break;
      }
      // Count only the events strictly newer than the boundary second; the boundary comes back next time.
      const boundary = got.at(-1)!.Time;
      total += got.filter((e) => e.Time !== boundary).length;
      next = page.next;
    }
    expect(pages).toBe(4);
    expect(total).toBe(day.events.length);
  });
});
