/**
 * The pipeline end to end: the real LastPass client against the simulator on loopback, the real SendGrid
 * client against nock, the real renderer and the file store. Only the clock is fixed.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLastPassClient } from '../src/adapters/lastpass/lastpass-client.js';
import { createRenderer } from '../src/adapters/renderer.js';
import type { RawEvent } from '../src/core/types.js';
import { formatWall } from '../src/core/wall-time.js';
import { runReport } from '../src/run-report.js';
import { generateDemoDay } from '../src/simulator/demo-day.js';
import { createLastPassSimulator, type LastPassSimulator, type LastPassSimulatorOptions } from '../src/simulator/lastpass-simulator.js';
import { createFileStore } from '../src/store/file-store.js';
import { thisProcess } from './support/process-info.js';
import { createTestRunDeps } from './support/run-deps.js';
import type { Store } from '../src/ports.js';

const SECRET = 'lp-secret-4f9d2c7a1b';
const SG_KEY = 'SG.test-key-7c1e9b2a';
const SG_URL = 'https://sendgrid.example.test';
const NOW = new Date('2025-03-10T07:00:00Z');
const renderer = createRenderer();

interface MailBody {
  subject: string;
  content: { type: string; value: string }[];
  custom_args: Record<string, string>;
  personalizations: { to: { email: string }[] }[];
  from: { email: string; name?: string };
}

let dir: string;
let store: Store;
let simulator: LastPassSimulator | null = null;

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterAll(() => nock.enableNetConnect());
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lpad-run-'));
  store = createFileStore({ dir, processInfo: thisProcess(), now: () => NOW });
  await store.init();
});
afterEach(async () => {
  nock.cleanAll();
  await simulator?.close();
  simulator = null;
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function startSimulator(events: RawEvent[], extra: Partial<LastPassSimulatorOptions> = {}) {
  simulator = await createLastPassSimulator({
    accountNumber: '8771234',
    apiSecret: SECRET,
    events,
    timeZone: 'America/New_York',
    ...extra,
  });
  return simulator;
}

function deps(sim: LastPassSimulator, now = NOW) {
  return createTestRunDeps({
    sim,
    store,
    dataDir: dir,
    apiSecret: SECRET,
    sendgridKey: SG_KEY,
    sendgridUrl: SG_URL,
    now,
    renderer,
    report: { to: ['secops@example.org', 'ciso@example.org'], timeZone: 'Europe/Berlin' },
  });
}

/** Intercepts SendGrid sends, keeping the bodies as nock saw them. */
function interceptSendGrid(times: number, sent: MailBody[], status = 202) {
  return nock(SG_URL)
    .post('/v3/mail/send', (body: MailBody) => {
      sent.push(body);
      return true;
    })
    .times(times)
    .reply(status, '', { 'x-message-id': 'msg-1' });
}

const htmlOf = (m: MailBody) => m.content.find((c) => c.type === 'text/html')!.value;
const textOf = (m: MailBody) => m.content.find((c) => c.type === 'text/plain')!.value;

describe('runReport', () => {
  it('delivers one complete digest for a day of 30,000+ events over several pages, with every planted incident', async () => {
    const day = generateDemoDay({ end: NOW, timeZone: 'America/New_York', benignCount: 30_000 });
    const sim = await startSimulator(day.events);
    const sent: MailBody[] = [];
    const scope = interceptSendGrid(1, sent);
    const d = deps(sim);

    const outcome = await runReport(d);

    expect(outcome.status).toBe('ok');
    scope.done();
    expect(sent).toHaveLength(1);
    const mail = sent[0]!;
    expect(mail.subject).toMatch(/^LastPass security digest 2025-03-10 — \d+ findings? \(\d+ high\) · \d+ high-severity events?$/);
    expect(mail.personalizations[0]!.to.map((t) => t.email)).toEqual(['secops@example.org', 'ciso@example.org']);
    expect(mail.custom_args.digest_window).toBe('20250309T070000Z_20250310T070000Z');
    const html = htmlOf(mail);
    for (const action of [
      'Make Admin',
      'Delete Policy',
      'Data export',
      'Disabled Multifactor Authentication',
      'Update Folder Permissions',
      'backup-script',
      'Vault Health Report Viewed',
    ]) {
      expect(html).toContain(action);
    }
    // Paging happened, and the digest says how many events it reviewed: all of them but our own API rows.
    expect(sim.requests.length).toBeGreaterThan(3);
    const own = day.events.filter((e) => e.Action === 'Reporting' && e.Data === 'Initiated by API: lastpass-audit-digest').length;
    expect(outcome.windows[0]!.eventsReviewed).toBe(day.events.length - own);
    expect(textOf(mail)).toContain((day.events.length - own).toLocaleString('en-US'));
    // Window stated in REPORT_TIMEZONE and UTC.
    expect(html).toContain('Europe/Berlin');
    expect(html).toContain('2025-03-09T07:00:00Z');

    const state = await store.readState();
    expect(state.cursor).toBe(NOW.toISOString());
    expect(state.delivered).toHaveLength(1);
    // A delivered run teaches the history: the users' sign-in IPs, under the window's day.
    const history = await store.readHistory();
    expect(history.days).toEqual(['2025-03-10']);
    expect(Object.keys(history.users).length).toBeGreaterThan(50);
    expect(state.delivered[0]!.messageId).toBe('msg-1');
    expect(state.pendingDelivery).toBeNull();
  });

  it('escapes hostile usernames and Data in the HTML part', async () => {
    const wall = formatWall(NOW.getTime() - 3_600_000, 'America/New_York');
    const events: RawEvent[] = [
      {
        Time: wall,
        Username: '<script>alert("x")</script>@evil.example',
        IP_Address: '203.0.113.9',
        Action: 'Make Admin',
        Data: '<img src=x onerror=alert(1)>',
      },
      { Time: wall, Username: 'a@example.org', IP_Address: '203.0.113.9', Action: '<b>New</b> thing', Data: '{{constructor}}' },
    ];
    const sim = await startSimulator(events);
    const sent: MailBody[] = [];
    interceptSendGrid(1, sent);
    await runReport(deps(sim));
    const html = htmlOf(sent[0]!);
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<b>New</b>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;@evil.example');
    expect(html).toContain('&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;'); // Handlebars escapes = too
    expect(html).toContain('{{constructor}}');
  });

  it('never sends a delivered window twice, unless forced', async () => {
    const sim = await startSimulator([]);
    const sent: MailBody[] = [];
    interceptSendGrid(1, sent);
    const d = deps(sim);
    expect((await runReport(d)).status).toBe('ok');
    // Same clock: nothing is due.
    expect((await runReport(d)).status).toBe('nothing-due');
    // The same window asked for explicitly: skipped.
    const again = await runReport(d, { from: new Date('2025-03-09T07:00:00Z'), to: NOW });
    expect(again.windows.map((w) => w.status)).toEqual(['already-delivered']);
    expect(sent).toHaveLength(1);
    // --force sends it again, saying so.
    interceptSendGrid(1, sent);
    const forced = await runReport(d, { from: new Date('2025-03-09T07:00:00Z'), to: NOW, force: true });
    expect(forced.windows.map((w) => w.status)).toEqual(['delivered']);
    expect(sent).toHaveLength(2);
    expect(htmlOf(sent[1]!)).toContain('Re-sent on request');
  });

  it('a quiet day says so with the number of events reviewed', async () => {
    const wall = formatWall(NOW.getTime() - 7_200_000, 'America/New_York');
    const events: RawEvent[] = Array.from({ length: 3 }, (_, i) => ({
      Time: wall,
      Username: `u${i}@example.org`,
      IP_Address: '192.0.2.1',
      Action: 'Log in',
      Data: '',
    }));
    const sim = await startSimulator(events);
    const sent: MailBody[] = [];
    interceptSendGrid(1, sent);
    await runReport(deps(sim));
    expect(sent[0]!.subject).toBe('LastPass security digest 2025-03-10 — quiet, 3 events reviewed');
    expect(textOf(sent[0]!)).toContain('No security-relevant events among 3 events reviewed');
  });

  it('sends a FAILED notice instead of a digest when LastPass rejects the credentials, and keeps the window due', async () => {
    const sim = await startSimulator([]);
    const d = deps(sim);
    d.config.lastpass.apiSecret = 'wrong-secret-123';
    d.lastpass = createLastPassClient({ ...d.config.lastpass, logger: d.logger, sleep: async () => {}, now: () => NOW.getTime() });
    const sent: MailBody[] = [];
    interceptSendGrid(1, sent);

    const outcome = await runReport(d);

    expect(outcome.status).toBe('failed');
    expect(sim.requests).toHaveLength(2); // the clock probe (one attempt) and the fetch, neither retried
    expect(sent).toHaveLength(1);
    expect(sent[0]!.subject).toMatch(/^FAILED: LastPass security digest 2025-03-10/);
    expect(textOf(sent[0]!)).toContain('LASTPASS_API_KEY');
    expect(textOf(sent[0]!)).toContain('2025-03-09T07:00:00Z');
    const state = await store.readState();
    expect(state.cursor).toBeNull();
    expect(state.consecutiveFailures).toBe(1);
    expect(state.delivered).toEqual([]);
    expect(await store.readHistory()).toEqual({ users: {}, days: [] });
    expect(d.logger.records().some((r) => r.level === 'error' && r.msg === 'run.window_failed')).toBe(true);
  });

  it('sends no digest when a later page is truncated, even though earlier pages were fine', async () => {
    const day = generateDemoDay({ end: NOW, timeZone: 'America/New_York', benignCount: 25_000 });
    const sim = await startSimulator(day.events, {
      override: (_body, index) =>
        index >= 1
          ? { status: 200, headers: { 'content-type': 'application/json' }, body: '{"status":"OK","next":null,"data":{"Event1":{"Ti' }
          : undefined,
    });
    const sent: MailBody[] = [];
    interceptSendGrid(1, sent);
    const outcome = await runReport(deps(sim));
    expect(outcome.status).toBe('failed');
    expect(sent).toHaveLength(1);
    expect(sent[0]!.subject).toContain('FAILED');
    expect(textOf(sent[0]!)).toMatch(/truncated|not complete JSON/);
    expect((await store.readState()).cursor).toBeNull();
  });

  it('a dry run writes HTML, text and the exact SendGrid request to the outbox, without secrets, and changes no state', async () => {
    const day = generateDemoDay({ end: NOW, timeZone: 'America/New_York', benignCount: 2_000 });
    const sim = await startSimulator(day.events);
    const d = deps(sim);
    const outcome = await runReport(d, { dryRun: true });
    expect(outcome.windows[0]!.status).toBe('dry-run');
    const folder = join(dir, 'outbox', outcome.windows[0]!.key);
    const files = (await readdir(folder)).sort();
    expect(files.filter((f) => !f.startsWith('lastpass-security-events-'))).toEqual([
      'message.html',
      'message.txt',
      'sendgrid-request.json',
    ]);
    // The full event lists are written next to it, as attached.
    expect(files.filter((f) => f.startsWith('lastpass-security-events-')).map((f) => f.split('.').slice(-2).join('.'))).toEqual([
      'csv.gz',
      'json.gz',
    ]);
    const request = JSON.parse(await readFile(join(folder, 'sendgrid-request.json'), 'utf8')) as MailBody;
    expect(request.subject).toMatch(/^LastPass security digest/);
    expect(request.personalizations[0]!.to).toHaveLength(2);
    for (const file of await readdir(folder)) {
      const text = await readFile(join(folder, file), 'utf8');
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(SG_KEY);
    }
    expect(await store.readState()).toMatchObject({ cursor: null, delivered: [], consecutiveFailures: 0 });
    // Nor the per-user history: only delivered runs teach the detections.
    expect(await store.readHistory()).toEqual({ users: {}, days: [] });
    expect(d.logger.lines.join('\n')).not.toContain(SECRET);
  });

  it('reports events that reached LastPass after their window was sent in the next digest, once', async () => {
    const wall = (msBeforeNow: number) => formatWall(NOW.getTime() - msBeforeNow, 'America/New_York');
    const base: RawEvent[] = [
      { Time: wall(3_600_000), Username: 'a@example.org', IP_Address: '192.0.2.1', Action: 'Log in', Data: '' },
      { Time: wall(120_000), Username: 'b@example.org', IP_Address: '192.0.2.2', Action: 'Failed Login Attempt', Data: '' },
    ];
    const sent: MailBody[] = [];
    interceptSendGrid(3, sent);
    const first = await startSimulator(base);
    expect((await runReport(deps(first))).status).toBe('ok');
    await first.close();
    // Later, LastPass has two more events in the last minutes of that window: a grant, and a second
    // identical failed login (a genuine repeat, so a count, not a set, decides what is new).
    const late: RawEvent[] = [
      ...base,
      { Time: wall(300_000), Username: 'root@example.org', IP_Address: '192.0.2.9', Action: 'Make Admin', Data: 'mallory@example.org' },
      { ...base[1]! },
    ];
    const second = await startSimulator(late);
    const next = new Date(NOW.getTime() + 86_400_000);
    const outcome = await runReport(deps(second, next));
    expect(outcome.status).toBe('ok');
    expect(outcome.windows[0]!.eventsReviewed).toBe(2);
    const html = htmlOf(sent[1]!);
    expect(html).toContain('2 events of the previous window&#x27;s last 15 minutes');
    expect(html).toContain('mallory@example.org');
    // The day after, the tail asked again is this window's: nothing is reported twice.
    const third = await runReport(deps(second, new Date(next.getTime() + 86_400_000)));
    expect(third.status).toBe('ok');
    expect(htmlOf(sent[2]!)).not.toContain('previous window');
    expect(third.windows[0]!.eventsReviewed).toBe(0);
  });

  it("a SendGrid refusal (unverified sender) fails the run with SendGrid's own words and no key in any log line", async () => {
    const sim = await startSimulator([]);
    const d = deps(sim);
    nock(SG_URL)
      .post('/v3/mail/send')
      .twice()
      .reply(403, { errors: [{ message: 'The from address does not match a verified Sender Identity.', field: 'from' }] });
    const outcome = await runReport(d);
    expect(outcome.status).toBe('failed');
    expect(outcome.windows[0]!.error).toContain('verified Sender Identity');
    const log = d.logger.lines.join('\n');
    expect(log).toContain('Sender Authentication');
    expect(log).not.toContain(SG_KEY);
    expect(log).not.toContain(SECRET);
    expect((await store.readState()).cursor).toBeNull();
  });
});
