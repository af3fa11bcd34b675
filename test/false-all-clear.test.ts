/**
 * Never a false all-clear (issue #12). One table of hostile upstreams and states, each run through the real
 * pipeline (`runReport`: the LastPass client against the embedded simulator on loopback, SendGrid against
 * nock, the real renderer and file store, an injected clock, no real waiting). Every observation of the
 * issue is a row: redirects, rows outside the asked range (two days old, in the future), a runaway paging
 * loop, a fast clock, a `data` key twice, a bad or future cursor, silence, another zone. The test fails if
 * ANY of them produces a digest with the green quiet verdict; each row also says what it must produce
 * instead (a FAILED notice with the window still due, or an amber digest that says why). A healthy day
 * (the control) is the green quiet one, so the check can tell them apart.
 *
 * Also here: the same day served newest first, oldest first and shuffled within pages (500 a page, with
 * `next`) gives the identical digest and counts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRenderer } from '../src/adapters/renderer.js';
import type { RawEvent } from '../src/core/types.js';
import { formatWall } from '../src/core/wall-time.js';
import { runReport, type RunOutcome } from '../src/run-report.js';
import { createLastPassSimulator, type LastPassSimulator, type LastPassSimulatorOptions } from '../src/simulator/lastpass-simulator.js';
import { createFileStore } from '../src/store/file-store.js';
import type { Store } from '../src/ports.js';
import { thisProcess } from './support/process-info.js';
import { createTestRunDeps } from './support/run-deps.js';

const SECRET = 'fac-secret-7d6c5b4a';
const SG_KEY = 'SG.fac-test-key-2b3c';
const SG_URL = 'https://sendgrid.example.test';
const NOW = new Date('2025-03-10T07:00:00Z');
const DAY = 86_400_000;
const ZONE = 'America/New_York';
const renderer = createRenderer();

let dir: string;
let store: Store;
let simulator: LastPassSimulator | null = null;

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterAll(() => nock.enableNetConnect());
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lpad-fac-'));
});
afterEach(async () => {
  nock.cleanAll();
  await simulator?.close();
  simulator = null;
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

interface MailBody {
  subject: string;
  content: { type: string; value: string }[];
  attachments?: { filename: string; content: string }[];
}
const htmlOf = (m: MailBody) => m.content.find((c) => c.type === 'text/html')!.value;
const flat = (text: string) => text.replace(/\s+/g, ' ');
const textOf = (m: MailBody) => m.content.find((c) => c.type === 'text/plain')!.value;

/** A sign-in every `stepMs` over the 36 hours before `end`, in `zone`'s wall time. */
function signIns(end: Date, zone = ZONE, stepMs = 120_000): RawEvent[] {
  const events: RawEvent[] = [];
  for (let t = end.getTime() - 36 * 3_600_000; t < end.getTime(); t += stepMs) {
    const i = Math.floor(t / stepMs) % 7;
    events.push({
      Time: formatWall(t, zone),
      Username: `user${i}@example.org`,
      IP_Address: `198.51.100.${i}`,
      Action: 'Log in',
      Data: 'LastPass via Chrome',
    });
  }
  return events;
}

const ok = (rows: RawEvent[], next: number | null = null) =>
  JSON.stringify({ status: 'OK', next, data: Object.fromEntries(rows.map((r, i) => [`Event${i + 1}`, r])) });
const row = (Time: string, Action = 'Log in', Data = ''): RawEvent => ({
  Time,
  Username: 'maria@example.org',
  IP_Address: '198.51.100.7',
  Action,
  Data,
});
const shift = (wall: string, ms: number) => formatWall(Date.parse(`${wall.replace(' ', 'T')}Z`) + ms, 'UTC');
/** The window's own request (not the run's clock probes, one second each, nor its zone self-check). */
const windowRequest = (body: Readonly<Record<string, unknown>> | null): { from: string; to: string } | null => {
  const data = body?.data as { from?: string; to?: string } | undefined;
  return data?.from && data.to && data.from !== data.to && data.to < formatWall(NOW.getTime(), ZONE)
    ? { from: data.from, to: data.to }
    : null;
};

interface Scenario {
  name: string;
  /** What it must produce instead of the green quiet digest. */
  expect: 'failed' | 'amber' | 'no-run';
  /** The reason it must give (FAILED notice text, or the amber digest's caution). */
  says: RegExp;
  simulator?: Partial<LastPassSimulatorOptions>;
  /** The worker's clock (default NOW); the simulator's stays NOW. */
  workerNow?: Date;
  events?: RawEvent[];
  seed?: (store: Store) => Promise<void>;
  /** Extra checks. */
  andThen?: (r: { outcome: RunOutcome | null; sent: MailBody[]; store: Store }) => Promise<void> | void;
}

/** Delivered windows before NOW of 18,000 events each (a baseline for the silence rule). */
async function history(s: Store, days: number): Promise<void> {
  for (let d = days; d >= 1; d--) {
    const start = new Date(NOW.getTime() - (d + 1) * DAY).toISOString();
    const end = new Date(NOW.getTime() - d * DAY).toISOString();
    await s.completeDelivery({
      key: `seed-${d}`,
      start,
      end,
      deliveredAt: end,
      messageId: null,
      marker: `seed-${d}`,
      summary: { eventsReviewed: 18_000, high: 0, medium: 0, low: 0, info: 18_000, byCategory: {} },
    });
  }
}

const otherHost = { reached: [] as string[] };

const scenarios: Scenario[] = [
  {
    name: '1. the endpoint redirects (307) to another host',
    expect: 'failed',
    says: /LastPass answered 307 → other\.example: set LASTPASS_API_URL/,
    simulator: { override: () => ({ status: 307, headers: { location: 'https://other.example/enterpriseapi.php' }, body: '' }) },
    andThen: () => {
      expect(otherHost.reached).toEqual([]);
    },
  },
  {
    name: '2a. every row LastPass returns is two days old',
    expect: 'failed',
    says: /LastPass answered for another time range: check LASTPASS_TIMEZONE and the clock/,
    simulator: {
      override: (body) => {
        const r = windowRequest(body);
        return r
          ? { status: 200, body: ok([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((i) => row(shift(r.from, -2 * DAY + i * 60_000)))) }
          : undefined;
      },
    },
  },
  {
    name: '2b. every row LastPass returns lies in the future',
    expect: 'failed',
    says: /LastPass answered for another time range: .* \(0 older than .*, 12 newer than/,
    simulator: {
      override: (body) => {
        const r = windowRequest(body);
        return r
          ? { status: 200, body: ok([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((i) => row(shift(r.to, 3_600_000 + i * 1000)))) }
          : undefined;
      },
    },
  },
  {
    name: '3. a runaway paging loop: every answer moves the boundary one second, with no new event of note',
    expect: 'failed',
    says: /needed more than \d+ requests/,
    simulator: {
      override: (body) => {
        const r = windowRequest(body);
        const own = 'Initiated by API: lastpass-audit-digest';
        return r
          ? { status: 200, body: ok([row(r.to, 'Reporting', own), row(shift(r.to, -1000), 'Reporting', own)], 1741590000) }
          : undefined;
      },
    },
    andThen: () => {
      expect(simulator!.requests.length).toBeLessThan(30);
    },
  },
  {
    name: '4. the worker clock is three days ahead',
    expect: 'failed',
    says: /This machine's clock is 3 days ahead of LastPass's/,
    workerNow: new Date(NOW.getTime() + 3 * DAY),
    andThen: async ({ store: s }) => {
      // Nothing was planned from it: no window fetched, the cursor did not move into the future.
      expect(simulator!.requests.filter((r) => windowRequest(r.body as Record<string, unknown>))).toEqual([]);
      expect((await s.readState()).cursor).toBeNull();
    },
  },
  {
    name: '5. a response with the key "data" twice, the second one empty',
    expect: 'failed',
    says: /the key "data" twice in one object/,
    simulator: {
      override: (body) =>
        windowRequest(body)
          ? {
              status: 200,
              body: `{"status":"OK","next":null,"data":{"Event1":${JSON.stringify(row(windowRequest(body)!.to, 'Data export'))}},"data":{}}`,
            }
          : undefined,
    },
  },
  {
    name: '6a. a cursor that is not a time at all ("banana")',
    expect: 'no-run',
    says: /state\.json holds a time that is not an ISO-8601 instant: cursor "banana".* or null to cover the last 24 hours/,
    seed: async () => {
      await writeFile(
        join(dir, 'state.json'),
        JSON.stringify({
          version: 1,
          cursor: 'banana',
          delivered: [],
          pendingDelivery: null,
          consecutiveFailures: 0,
          lastFailure: null,
          lastSuccessAt: null,
        }),
      );
    },
  },
  {
    name: '6b. a cursor three days in the future: repaired, reported, never "nothing due" for three days',
    expect: 'amber',
    says: /^Earlier digests covered time that had not happened yet/,
    seed: async (s) => {
      await history(s, 1);
      // A run a day ago with a clock three days fast delivered three windows, the last ending two days from now.
      for (let d = 0; d < 3; d++) {
        const start = new Date(NOW.getTime() + (d - 1) * DAY).toISOString();
        const end = new Date(NOW.getTime() + d * DAY).toISOString();
        const deliveredAt = new Date(NOW.getTime() + 2 * DAY).toISOString();
        await s.completeDelivery({
          key: `future-${d}`,
          start,
          end,
          deliveredAt,
          messageId: null,
          marker: 'x',
          summary: { eventsReviewed: 0, high: 0, medium: 0, low: 0, info: 0, byCategory: {} },
        });
      }
      expect((await s.readState()).cursor).toBe(new Date(NOW.getTime() + 2 * DAY).toISOString());
    },
    andThen: async ({ outcome, sent, store: s }) => {
      // The day the fast clock "reviewed" before it happened is reviewed now, and the digest says why.
      expect(outcome?.windows.map((w) => [w.status, w.window.start.toISOString()])).toEqual([
        ['delivered', new Date(NOW.getTime() - DAY).toISOString()],
      ]);
      expect(flat(textOf(sent[0]!))).toMatch(/NOTICE: Repaired: the stored cursor was 2025-03-12T07:00:00\.000Z, 48 hours in the future/);
      expect((await s.readState()).cursor).toBe(NOW.toISOString());
    },
  },
  {
    name: '7a. LastPass returns no event at all on the first day',
    expect: 'amber',
    says: /^Unusually few events: 0 reviewed, and there is no history yet/,
    events: [],
  },
  {
    name: '7b. LastPass returns almost nothing against a usual 18,000',
    expect: 'amber',
    says: /^Unusually few events: \d+ reviewed, the usual is 18,000/,
    events: signIns(NOW, ZONE, 3_600_000),
    seed: (s) => history(s, 5),
  },
  {
    name: 'zone: LastPass speaks Berlin while LASTPASS_TIMEZONE says New York',
    expect: 'amber',
    says: /^LastPass speaks UTC\+01:00, not America\/New_York/,
    events: signIns(NOW, 'Europe/Berlin'),
    simulator: { timeZone: 'Europe/Berlin' },
  },
  {
    name: 'a stray row outside the asked range: a caution, not the quiet verdict',
    expect: 'amber',
    says: /^LastPass returned 1 row outside the asked range/,
    simulator: {
      override: (body) => {
        const r = windowRequest(body);
        return r
          ? { status: 200, body: ok([...signIns(NOW).filter((e) => e.Time >= r.from && e.Time <= r.to), row(shift(r.to, 5_000))]) }
          : undefined;
      },
    },
  },
];

async function run(s: Scenario): Promise<{ outcome: RunOutcome | null; error: unknown; sent: MailBody[] }> {
  store = createFileStore({ dir, processInfo: thisProcess(), now: () => s.workerNow ?? NOW });
  await store.init();
  await s.seed?.(store);
  simulator = await createLastPassSimulator({
    accountNumber: '8771234',
    apiSecret: SECRET,
    events: s.events ?? signIns(NOW),
    timeZone: ZONE,
    logApiCalls: true,
    now: () => NOW.getTime(),
    ...s.simulator,
  });
  const sent: MailBody[] = [];
  nock(SG_URL)
    .post('/v3/mail/send', (body: MailBody) => sent.push(body) > 0)
    .reply(202, '', { 'x-message-id': 'msg' })
    .persist();
  otherHost.reached = [];
  nock('https://other.example')
    .post(/.*/, (body: unknown) => otherHost.reached.push(JSON.stringify(body)) > 0)
    .reply(200, ok([]))
    .persist();
  const deps = createTestRunDeps({
    sim: simulator,
    store,
    dataDir: dir,
    apiSecret: SECRET,
    sendgridKey: SG_KEY,
    sendgridUrl: SG_URL,
    now: s.workerNow ?? NOW,
    renderer,
  });
  try {
    return { outcome: await runReport(deps), error: null, sent };
  } catch (error) {
    return { outcome: null, error, sent };
  }
}

/** The green quiet verdict, wherever it could show. */
function isGreenQuiet(m: MailBody): boolean {
  return /— quiet, /.test(m.subject) || htmlOf(m).includes('>Attestation<') || textOf(m).includes('[QUIET]');
}

describe('never a false all-clear', () => {
  it('control: a healthy day is the green quiet one (so the check below can tell)', async () => {
    const { outcome, sent } = await run({ name: 'control', expect: 'amber', says: /./ });
    expect(outcome?.status).toBe('ok');
    expect(sent).toHaveLength(1);
    expect(isGreenQuiet(sent[0]!)).toBe(true);
  });

  for (const s of scenarios) {
    it(`${s.name}: ${s.expect === 'failed' ? 'FAILED, the window stays due' : s.expect === 'amber' ? 'an amber digest that says why' : 'a FAILED notice naming the store and the fix'}, never the green quiet verdict`, async () => {
      const { outcome, error, sent } = await run(s);
      // The one promise: nothing that was sent is the green all-clear.
      for (const m of sent) expect(isGreenQuiet(m), m.subject).toBe(false);
      if (s.expect === 'failed') {
        expect(outcome?.status).toBe('failed');
        expect(sent).toHaveLength(1);
        expect(sent[0]!.subject).toMatch(/^FAILED: LastPass security digest/);
        expect(flat(textOf(sent[0]!))).toMatch(s.says);
        const state = await store.readState();
        expect(state.delivered.filter((d) => !d.key.startsWith('seed-'))).toEqual([]);
        expect(state.consecutiveFailures).toBe(1);
      } else if (s.expect === 'amber') {
        expect(outcome?.status, outcome?.windows[0]?.error).toBe('ok');
        expect(sent).toHaveLength(1);
        expect(sent[0]!.subject).toMatch(/ — CHECK: /);
        const text = flat(textOf(sent[0]!));
        expect(text).toContain('[UNTRUSTED] ');
        // What the digest says at the top: the verdict and each caution.
        const said = text.split(/(?=\[UNTRUSTED\] |CHECK: )/).map((part) => part.replace(/^(\[UNTRUSTED\]|CHECK:) /, ''));
        expect(
          said.some((line) => s.says.test(line)),
          said.slice(0, 4).join('\n'),
        ).toBe(true);
      } else {
        // The store cannot be read: nothing is planned, and the run is as loud as any failed one (issue #13).
        expect(error).toBeNull();
        expect(outcome?.status).toBe('failed');
        expect(outcome?.windows[0]?.error).toMatch(s.says);
        expect(sent).toHaveLength(1);
        expect(sent[0]!.subject).toMatch(/^FAILED: LastPass security digest/);
        expect(flat(textOf(sent[0]!))).toMatch(/could not read or write its store/);
        expect(flat(textOf(sent[0]!))).toMatch(s.says);
      }
      await s.andThen?.({ outcome, sent, store });
    });
  }
});

describe('paging that does not trust the order', () => {
  /** 2,038 events over the day, 12 of them high (a vault export), as in the issue. */
  function day(): RawEvent[] {
    const events: RawEvent[] = [];
    const start = NOW.getTime() - DAY;
    for (let i = 0; events.length < 2_026; i++) {
      const t = start + Math.floor((i * DAY) / 2_010);
      events.push({
        Time: formatWall(t, ZONE),
        Username: `user${i % 11}@example.org`,
        IP_Address: `198.51.100.${i % 5}`,
        Action: i % 3 ? 'Log in' : 'Form Filled',
        Data: '',
      });
      // Several events in some seconds, so pages are cut inside busy seconds.
      if (i % 97 === 0 && events.length < 2_026) events.push({ ...events.at(-1)! });
    }
    for (let k = 0; k < 12; k++) {
      events.push({
        Time: formatWall(start + 3_600_000 + k * 7_000_000, ZONE),
        Username: `user${k}@example.org`,
        IP_Address: '203.0.113.9',
        Action: 'Data export',
        Data: '',
      });
    }
    return events;
  }

  it('serves the same day newest first, oldest first and shuffled within pages (500 a page, with next) and gets the identical digest and counts', async () => {
    const digests: { html: string; text: string; attachments: string; reviewed: number | undefined }[] = [];
    for (const order of ['newest-first', 'oldest-first', 'shuffled'] as const) {
      const { outcome, sent } = await run({ name: order, expect: 'amber', says: /./, events: day(), simulator: { pageSize: 500, order } });
      expect(outcome?.status, order).toBe('ok');
      // Requests and pages differ by order; everything else is the same digest.
      const norm = (s: string) => s.replace(/\d[\d,]* requests?, \d[\d,]* pages? of events/g, 'N requests, N pages of events');
      digests.push({
        html: norm(htmlOf(sent[0]!)),
        text: norm(textOf(sent[0]!)),
        attachments: JSON.stringify(sent[0]!.attachments ?? []),
        reviewed: outcome?.windows[0]?.eventsReviewed,
      });
      await simulator?.close();
      simulator = null;
      await store.close();
      await rm(dir, { recursive: true, force: true });
      dir = await mkdtemp(join(tmpdir(), 'lpad-fac-'));
      nock.cleanAll();
    }
    expect(digests[0]!.reviewed).toBe(2_038);
    expect(flat(digests[0]!.text)).toMatch(/12 high-severity events/);
    for (const d of digests.slice(1)) {
      expect(d.reviewed).toBe(digests[0]!.reviewed);
      expect(d.text).toBe(digests[0]!.text);
      expect(d.html).toBe(digests[0]!.html);
      expect(d.attachments).toBe(digests[0]!.attachments);
    }
  });
});
