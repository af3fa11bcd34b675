/**
 * The time-zone self-check end to end: the embedded simulator speaks a zone of its own (its wall times, its
 * `next`, its own rows of every API call, stamped by its clock) while LASTPASS_TIMEZONE says New York. The
 * run infers the zone from its own requests' rows and says so at the top of an amber digest; `check`
 * prints the inferred offset. The same run against a simulator that speaks New York says nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRenderer } from '../src/adapters/renderer.js';
import { runCli } from '../src/commands/dispatch.js';
import type { RawEvent } from '../src/core/types.js';
import { formatWall } from '../src/core/wall-time.js';
import { runReport } from '../src/run-report.js';
import { createLastPassSimulator, type LastPassSimulator } from '../src/simulator/lastpass-simulator.js';
import { createFileStore } from '../src/store/file-store.js';
import type { Store } from '../src/ports.js';
import { createTestIo } from './support/command-io.js';
import { thisProcess } from './support/process-info.js';
import { createTestRunDeps } from './support/run-deps.js';

const SECRET = 'zone-secret-51c2d3';
const SG_KEY = 'SG.zone-test-key-9e8d';
const SG_URL = 'https://sendgrid.example.test';
const NOW = new Date('2025-03-10T07:00:00Z');
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
  dir = await mkdtemp(join(tmpdir(), 'lpad-zone-'));
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

/** A sign-in every 2 minutes over the 36 hours before now, written in `zone`'s wall time. */
function signIns(zone: string): RawEvent[] {
  const events: RawEvent[] = [];
  for (let t = NOW.getTime() - 36 * 3_600_000; t < NOW.getTime(); t += 120_000) {
    const i = (t / 120_000) % 7;
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

async function speaking(zone: string) {
  simulator = await createLastPassSimulator({
    accountNumber: '8771234',
    apiSecret: SECRET,
    events: signIns(zone),
    timeZone: zone,
    logApiCalls: true,
    now: () => NOW.getTime(),
  });
  return simulator;
}

interface MailBody {
  subject: string;
  content: { type: string; value: string }[];
}

async function runAgainst(zone: string) {
  const sim = await speaking(zone);
  const sent: MailBody[] = [];
  nock(SG_URL)
    .post('/v3/mail/send', (body: MailBody) => sent.push(body) > 0)
    .reply(202, '', { 'x-message-id': 'm1' });
  const deps = createTestRunDeps({
    sim,
    store,
    dataDir: dir,
    apiSecret: SECRET,
    sendgridKey: SG_KEY,
    sendgridUrl: SG_URL,
    now: NOW,
    renderer,
  });
  const outcome = await runReport(deps);
  return { outcome, sent, deps };
}

describe('the zone self-check in a run', () => {
  it('LastPass speaking Berlin (ahead of New York): an amber digest that says so at the top, with the zone that fits', async () => {
    const { outcome, sent, deps } = await runAgainst('Europe/Berlin');
    expect(outcome.status).toBe('ok');
    expect(sent).toHaveLength(1);
    expect(sent[0]!.subject).toBe('LastPass security digest 2025-03-10 — CHECK: LastPass speaks UTC+01:00, not America/New_York');
    const html = sent[0]!.content.find((c) => c.type === 'text/html')!.value;
    const text = sent[0]!.content.find((c) => c.type === 'text/plain')!.value;
    expect(html).toContain('Check this digest');
    expect(html).not.toContain('Attestation');
    expect(html).toContain('fit UTC+01:00 (Europe/Berlin');
    expect(text).toMatch(/\[UNTRUSTED\] LastPass speaks UTC\+01:00, not America\/New_York/);
    expect(text).toContain('CHECK: LastPass logged this run');
    expect(deps.logger.records().find((r) => r.msg === 'lastpass.zone_mismatch')).toMatchObject({
      inferredOffsetMs: 3_600_000,
      configuredOffsetMs: -4 * 3_600_000,
    });
  });

  it('LastPass speaking Los Angeles (behind New York): found in the window’s own rows', async () => {
    const { sent } = await runAgainst('America/Los_Angeles');
    expect(sent[0]!.subject).toBe('LastPass security digest 2025-03-10 — CHECK: LastPass speaks UTC-07:00, not America/New_York');
  });

  it('LastPass speaking New York, as configured: the green quiet day, and the offset logged', async () => {
    const { sent, deps } = await runAgainst('America/New_York');
    expect(sent[0]!.subject).toMatch(/— quiet, [\d,]+ events reviewed$/);
    expect(deps.logger.records().find((r) => r.msg === 'lastpass.zone_checked')).toMatchObject({ inferredOffsetMs: -4 * 3_600_000 });
  });
});

describe('check', () => {
  it('prints the inferred offset, and fails the zone line when it disagrees with LASTPASS_TIMEZONE', async () => {
    for (const [zone, expected] of [
      ['Europe/Berlin', /^FAIL zone +LastPass logged this run's own requests .* fit UTC\+01:00 \(Europe\/Berlin/m],
      [
        'America/New_York',
        /^ok {3}zone +LastPass speaks UTC-04:00 \(inferred from \d+ of this check's own requests\), as LASTPASS_TIMEZONE America\/New_York/m,
      ],
    ] as const) {
      const sim = await speaking(zone);
      nock(SG_URL)
        .get('/v3/scopes')
        .reply(200, { scopes: ['mail.send'] }, { date: NOW.toUTCString() })
        .get('/v3/verified_senders')
        .reply(200, { results: [{ from_email: 'digest@example.org', verified: true }] })
        .get('/v3/whitelabel/domains')
        .reply(200, []);
      const io = createTestIo({
        env: {
          LASTPASS_ACCOUNT_NUMBER: '8771234',
          LASTPASS_API_KEY: SECRET,
          LASTPASS_API_URL: sim.url,
          SENDGRID_API_KEY: SG_KEY,
          SENDGRID_API_URL: SG_URL,
          REPORT_FROM: 'digest@example.org',
          REPORT_TO: 'secops@example.org',
          DATA_DIR: join(dir, 'check'),
        },
        cwd: dir,
        now: () => NOW,
      });
      const code = await runCli(['check'], io);
      const out = io.stdout.text();
      expect(out, out).toMatch(expected);
      expect(out).toMatch(/^ok {3}clock +this machine's clock agrees with LastPass's/m);
      expect(out).toMatch(/^ok {3}clock +this machine's clock agrees with SendGrid's/m);
      expect(code).toBe(zone === 'America/New_York' ? 0 : 1);
      await sim.close();
      simulator = null;
    }
  });
});
