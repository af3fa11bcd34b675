/**
 * Issue #13, "Delivery outcomes classified" and a bounded run: `runReport` with the real LastPass client
 * against the simulator, the real @sendgrid/mail client against loopback stand-ins (the fake SendGrid, a
 * closed port), the real renderer and file store. The clock is injected and advances only when the run
 * sleeps, so no test waits for a retry (only for a client timeout of a few hundred milliseconds).
 */
import { createServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRenderer } from '../src/adapters/renderer.js';
import { runReport, type RunDeps } from '../src/run-report.js';
import { generateDemoDay } from '../src/simulator/demo-day.js';
import { createLastPassSimulator, type LastPassSimulator, type SimulatorOverride } from '../src/simulator/lastpass-simulator.js';
import { createFileStore } from '../src/store/file-store.js';
import { sentDigests, sentFailureNotices } from './support/digest-coverage.js';
import { startFakeSendGrid, type FakeSendGrid } from './support/fake-sendgrid.js';
import { thisProcess } from './support/process-info.js';
import { createTestRunDeps } from './support/run-deps.js';
import type { recordingLogger } from './support/recording-logger.js';
import type { Store } from '../src/ports.js';

const SECRET = 'outcome-secret-5e4d3c2b1a';
const SG_KEY = 'SG.outcome-test-key-1f2e3d';
const NOW = new Date('2025-03-10T07:00:00Z');
const renderer = createRenderer();

let dir: string;
let store: Store;
let sendgrid: FakeSendGrid;
let simulator: LastPassSimulator | null = null;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lpad-outcome-'));
  store = createFileStore({ dir, processInfo: thisProcess(), now: () => NOW });
  await store.init();
  sendgrid = await startFakeSendGrid();
});
afterEach(async () => {
  await simulator?.close();
  simulator = null;
  await sendgrid.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function startSimulator(override?: SimulatorOverride): Promise<LastPassSimulator> {
  simulator = await createLastPassSimulator({
    accountNumber: '8771234',
    apiSecret: SECRET,
    events: generateDemoDay({ seed: 13, end: NOW, benignCount: 400, hours: 96 }).events,
    timeZone: 'America/New_York',
    ...(override ? { override } : {}),
  });
  return simulator;
}

/** A loopback port nothing listens on: connections to it are refused. */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** A clock that moves only when the run sleeps, and every wait it was asked for. */
function testClock(start = NOW) {
  let t = start.getTime();
  const waits: number[] = [];
  return {
    now: () => new Date(t),
    ms: () => t,
    waits,
    advance: (ms: number) => {
      t += ms;
    },
    sleep: async (ms: number) => {
      waits.push(ms);
      t += ms;
    },
  };
}

function deps(
  sim: LastPassSimulator,
  clock: ReturnType<typeof testClock>,
  o: { sendgridUrl?: string; sendTimeoutMs?: number; runDeadlineMinutes?: number } = {},
): RunDeps & { logger: ReturnType<typeof recordingLogger> } {
  return createTestRunDeps({
    sim,
    store,
    dataDir: dir,
    apiSecret: SECRET,
    sendgridKey: SG_KEY,
    sendgridUrl: o.sendgridUrl ?? sendgrid.url,
    now: clock.now(),
    clock,
    renderer,
    ...(o.sendTimeoutMs === undefined ? {} : { sendTimeoutMs: o.sendTimeoutMs }),
    ...(o.runDeadlineMinutes === undefined ? {} : { report: { runDeadlineMinutes: o.runDeadlineMinutes } }),
  });
}

const DUPLICATE = 'Possible duplicate';

describe('a send SendGrid accepted but answered after the client timeout (unknown outcome)', () => {
  it('is recorded as maybe sent, and the re-send carries the same marker and the Possible duplicate notice', async () => {
    const sim = await startSimulator();
    const clock = testClock();
    // The first send is accepted (SendGrid keeps it) but answered after the client gave up.
    sendgrid.script.push({ status: 202, headers: { 'x-message-id': 'late-accepted' }, delayMs: 1_500 });
    const d = deps(sim, clock, { sendTimeoutMs: 300 });

    const outcome = await runReport(d);

    expect(outcome.status).toBe('ok');
    const digests = sentDigests(sendgrid.requests);
    expect(digests).toHaveLength(2);
    expect(digests[0]!.marker).toBe(digests[1]!.marker);
    expect(digests.map((m) => m.attempt)).toEqual(['1', '2']);
    expect(digests[0]!.html).not.toContain(DUPLICATE);
    expect(digests[1]!.html).toContain(DUPLICATE);
    expect(digests[1]!.html).toContain(digests[0]!.marker);
    expect(digests[1]!.html).toContain('SendGrid did not answer in time after the message was sent');
    // Recorded as maybe sent before the re-send.
    const maybe = d.logger.records().find((r) => r.msg === 'delivery.maybe_sent');
    expect(maybe).toMatchObject({ marker: digests[0]!.marker, attempt: 1, resend: { inMs: 5_000 } });
    const state = await store.readState();
    expect(state.pendingDelivery).toBeNull();
    expect(state.delivered).toHaveLength(1);
    expect(state.delivered[0]!.marker).toBe(digests[0]!.marker);
    expect(sentFailureNotices(sendgrid.requests)).toEqual([]);
  });

  it('answered late every time: the run fails saying it may have arrived, keeps it maybe sent, and the next run re-sends it with the marker and the notice', async () => {
    const sim = await startSimulator();
    const clock = testClock();
    for (let i = 0; i < 3; i++) sendgrid.script.push({ status: 202, headers: { 'x-message-id': `late-${i}` }, delayMs: 1_500 });
    const first = await runReport(deps(sim, clock, { sendTimeoutMs: 300 }));

    expect(first.status).toBe('failed');
    // The first send and the two re-sends within the run, then the FAILED notice.
    const digests = sentDigests(sendgrid.requests);
    expect(digests.map((m) => m.html.includes(DUPLICATE))).toEqual([false, true, true]);
    expect(clock.waits.filter((w) => w === 5_000 || w === 30_000)).toEqual([5_000, 30_000]);
    const notices = sendgrid.requests.filter((r) => (r.body as { custom_args?: Record<string, string> }).custom_args?.digest_failure);
    expect(notices).toHaveLength(1);
    expect(JSON.stringify(notices[0]!.body)).toContain('SendGrid did not confirm it');
    const pending = (await store.readState()).pendingDelivery;
    expect(pending).toMatchObject({ marker: digests[0]!.marker, attempt: 3 });
    expect(pending!.maybeSent!.reason).toContain('did not answer in time after the message was sent');

    const second = await runReport(deps(sim, clock));

    expect(second.status).toBe('ok');
    const repaired = sentDigests(sendgrid.requests).slice(3);
    expect(repaired).toHaveLength(1);
    expect(repaired[0]!.marker).toBe(digests[0]!.marker);
    expect(repaired[0]!.attempt).toBe('4');
    expect(repaired[0]!.html).toContain(DUPLICATE);
    expect(repaired[0]!.html).toContain('SendGrid did not confirm it');
    expect((await store.readState()).pendingDelivery).toBeNull();
  });
});

describe('a send that certainly did not leave (not sent)', () => {
  it('connections refused (a closed port): retried plainly, no maybe-sent record, and the next send carries no notice', async () => {
    const sim = await startSimulator();
    const clock = testClock();
    const refused = deps(sim, clock, { sendgridUrl: await closedPort() });

    const first = await runReport(refused);

    expect(first.status).toBe('failed');
    expect(refused.logger.records().some((r) => r.msg === 'delivery.maybe_sent')).toBe(false);
    // The client retried the refused connection itself (5 retries), with no re-send of the run.
    expect(refused.logger.records().filter((r) => r.msg === 'retry.scheduled' && r.service === 'sendgrid').length).toBeGreaterThanOrEqual(
      5,
    );
    const state = await store.readState();
    expect(state.pendingDelivery).toBeNull();
    expect(state.consecutiveFailures).toBe(1);

    const second = await runReport(deps(sim, clock));

    expect(second.status).toBe('ok');
    const digests = sentDigests(sendgrid.requests);
    expect(digests).toHaveLength(1);
    expect(digests[0]!.attempt).toBe('1');
    expect(digests[0]!.html).not.toContain(DUPLICATE);
  });

  it('a 400 is not retried: one request, the intent dropped, and the next send carries no notice', async () => {
    const sim = await startSimulator();
    const clock = testClock();
    sendgrid.script.push({ status: 400, body: { errors: [{ message: 'Invalid content', field: 'content' }] } });
    const d = deps(sim, clock);

    const first = await runReport(d);

    expect(first.status).toBe('failed');
    expect(first.windows[0]!.error).toContain('SendGrid refused the message (HTTP 400): Invalid content (field content)');
    expect(sentDigests(sendgrid.requests)).toHaveLength(1);
    expect(d.logger.records().some((r) => r.msg === 'retry.scheduled' || r.msg === 'delivery.maybe_sent')).toBe(false);
    expect((await store.readState()).pendingDelivery).toBeNull();

    await runReport(deps(sim, clock));
    const digests = sentDigests(sendgrid.requests);
    expect(digests).toHaveLength(2);
    expect(digests[1]!.html).not.toContain(DUPLICATE);
    expect(digests[1]!.attempt).toBe('1');
  });

  it('refused after an earlier unconfirmed send: the maybe-sent record stays, so the next send still says Possible duplicate', async () => {
    const sim = await startSimulator();
    const clock = testClock();
    sendgrid.script.push(
      { status: 503, body: { errors: [{ message: 'Service Unavailable' }] } },
      { status: 400, body: { errors: [{ message: 'Invalid content' }] } },
    );

    const first = await runReport(deps(sim, clock));

    expect(first.status).toBe('failed');
    const pending = (await store.readState()).pendingDelivery;
    expect(pending?.maybeSent?.reason).toContain('HTTP 503');

    await runReport(deps(sim, clock));
    const digests = sentDigests(sendgrid.requests);
    expect(digests).toHaveLength(3);
    expect(digests[2]!.marker).toBe(digests[0]!.marker);
    expect(digests[2]!.html).toContain(DUPLICATE);
  });
});

describe('Retry-After: 3600 on every answer', () => {
  const busy: SimulatorOverride = () => ({
    status: 503,
    headers: { 'retry-after': '3600', 'content-type': 'text/plain' },
    body: 'Service Unavailable',
  });

  it('LastPass: each wait is capped at 60 s and the run ends by RUN_DEADLINE_MINUTES with a failure naming it', async () => {
    const sim = await startSimulator(busy);
    const clock = testClock();
    sendgrid.script.push({ status: 429, headers: { 'retry-after': '3600' } });
    const d = deps(sim, clock, { runDeadlineMinutes: 3 });

    const outcome = await runReport(d);

    expect(outcome.status).toBe('failed');
    expect(Math.max(...clock.waits)).toBeLessThanOrEqual(60_000);
    expect(clock.ms() - NOW.getTime()).toBeLessThanOrEqual(3 * 60_000);
    const error = outcome.windows[0]!.error!;
    expect(error).toContain('RUN_DEADLINE_MINUTES=3');
    expect(error).toContain('had to end by 2025-03-10T07:03:00.000Z');
    expect(error).toContain('LastPass');
    // The FAILED notice was attempted (SendGrid answered 429 too: it may have arrived, so it is not repeated).
    expect(sentFailureNotices(sendgrid.requests)).toHaveLength(1);
    expect(JSON.stringify(sendgrid.requests.at(-1)!.body)).toContain('RUN_DEADLINE_MINUTES=3');
    expect((await store.readState()).consecutiveFailures).toBe(1);
  });

  it('LastPass with the default deadline: the run ends within 30 minutes', async () => {
    const sim = await startSimulator(busy);
    const clock = testClock();

    const outcome = await runReport(deps(sim, clock));

    expect(outcome.status).toBe('failed');
    expect(Math.max(...clock.waits)).toBeLessThanOrEqual(60_000);
    expect(clock.ms() - NOW.getTime()).toBeLessThanOrEqual(30 * 60_000);
  });

  it('SendGrid: maybe sent, re-sent after capped waits with the notice, then the run fails and keeps it maybe sent', async () => {
    const sim = await startSimulator();
    const clock = testClock();
    for (let i = 0; i < 4; i++) sendgrid.script.push({ status: 429, headers: { 'retry-after': '3600' } });

    const outcome = await runReport(deps(sim, clock));

    expect(outcome.status).toBe('failed');
    expect(clock.waits).toEqual([60_000, 60_000]);
    const digests = sentDigests(sendgrid.requests);
    expect(digests.map((m) => m.html.includes(DUPLICATE))).toEqual([false, true, true]);
    expect((await store.readState()).pendingDelivery?.maybeSent?.reason).toContain('HTTP 429');
  });

  it('a catch-up whose deadline passes between windows: the next window is not started and fails naming RUN_DEADLINE_MINUTES', async () => {
    const sim = await startSimulator();
    const clock = testClock();
    // Three days due.
    await store.completeDelivery({
      key: 'seed',
      start: new Date(NOW.getTime() - 4 * 86_400_000).toISOString(),
      end: new Date(NOW.getTime() - 3 * 86_400_000).toISOString(),
      deliveredAt: new Date(NOW.getTime() - 3 * 86_400_000).toISOString(),
      messageId: null,
      marker: 'seed',
      summary: { eventsReviewed: 0, high: 0, medium: 0, low: 0, info: 0, byCategory: {} },
    });
    // SendGrid takes 61 s to accept the first digest: the run's 1-minute deadline passes during that send.
    let slow = true;
    sendgrid.onRequest = () => {
      if (slow) clock.advance(61_000);
      slow = false;
    };

    const outcome = await runReport(deps(sim, clock, { runDeadlineMinutes: 1 }));

    expect(outcome.status).toBe('failed');
    expect(outcome.windows.map((w) => w.status)).toEqual(['delivered', 'failed']);
    expect(outcome.windows[1]!.error).toContain('RUN_DEADLINE_MINUTES=1');
    // Not started: no digest for it, and its FAILED notice went out.
    expect(sentDigests(sendgrid.requests)).toHaveLength(1);
    expect(sentFailureNotices(sendgrid.requests)).toHaveLength(1);
    const state = await store.readState();
    expect(state.cursor).toBe(new Date(NOW.getTime() - 2 * 86_400_000).toISOString());
  });

  it('a re-send that would start past the deadline is not made, and the failure names RUN_DEADLINE_MINUTES', async () => {
    const sim = await startSimulator();
    const clock = testClock();
    sendgrid.script.push({ status: 429, headers: { 'retry-after': '45' } });

    const outcome = await runReport(deps(sim, clock, { runDeadlineMinutes: 2, sendTimeoutMs: 5_000 }), {
      deadline: NOW.getTime() + 30_000,
    });

    expect(outcome.status).toBe('failed');
    // The worker's deadline (the next scheduled run, 30 s away) is earlier than the run's: it is the one honoured.
    expect(sentDigests(sendgrid.requests)).toHaveLength(1);
    expect(clock.waits).toEqual([]);
    expect((await store.readState()).pendingDelivery?.maybeSent?.reason).toContain('HTTP 429');
  });

  it('the run deadline earlier than the re-send: the unconfirmed send is kept and the failure names RUN_DEADLINE_MINUTES', async () => {
    const sim = await startSimulator();
    const clock = testClock();
    sendgrid.script.push({ status: 429, headers: { 'retry-after': '45' } }, { status: 429, headers: { 'retry-after': '45' } });

    const outcome = await runReport(deps(sim, clock, { runDeadlineMinutes: 1 }));

    expect(outcome.status).toBe('failed');
    // One re-send after 45 s; the second would start at 90 s, past the 60 s deadline.
    expect(clock.waits).toEqual([45_000]);
    expect(sentDigests(sendgrid.requests).map((m) => m.html.includes(DUPLICATE))).toEqual([false, true]);
    expect(outcome.windows[0]!.error).toContain('RUN_DEADLINE_MINUTES=1');
    expect(outcome.windows[0]!.error).toContain('HTTP 429');
    expect((await store.readState()).pendingDelivery?.maybeSent).toBeDefined();
  });
});
