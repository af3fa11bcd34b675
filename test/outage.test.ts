/**
 * Outages and races, in process: `runReport` with the real LastPass client against the simulator, the real
 * SendGrid mailer against the loopback fake SendGrid, the real renderer and stores; a fixed clock, and an
 * injected `sleep` so retries never wait.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLastPassClient } from '../src/adapters/lastpass/lastpass-client.js';
import { createOutboxMailer } from '../src/adapters/mail/outbox-mailer.js';
import { createRenderer } from '../src/adapters/renderer.js';
import type { RetryPolicy } from '../src/adapters/http/retry.js';
import { createSendGridMailer } from '../src/adapters/mail/sendgrid-mailer.js';
import type { Config } from '../src/config/load-config.js';
import type { RawEvent } from '../src/core/types.js';
import { runReport, type RunDeps } from '../src/run-report.js';
import { generateDemoDay } from '../src/simulator/demo-day.js';
import { createLastPassSimulator, type LastPassSimulator, type LastPassSimulatorOptions } from '../src/simulator/lastpass-simulator.js';
import { createFileStore } from '../src/store/file-store.js';
import { createPostgresStore } from '../src/store/postgres-store.js';
import { thisProcess } from './support/process-info.js';
import { coverageViolations, sentDigests, stateViolations } from './support/digest-coverage.js';
import { startFakeSendGrid, type FakeSendGrid } from './support/fake-sendgrid.js';
import { randomSchemaName, startTestDatabase, type TestDatabase } from './support/postgres.js';
import { recordingLogger } from './support/recording-logger.js';
import type { Store } from '../src/ports.js';

const SECRET = 'outage-secret-3c2b1a0f9e';
const SG_KEY = 'SG.outage-test-key-8d7c6b';
const NOW = new Date('2025-03-10T07:00:00Z');
const DAY_MS = 86_400_000;
const renderer = createRenderer();

const config: Pick<Config, 'lastpass' | 'report'> = {
  lastpass: {
    accountNumber: '8771234',
    apiSecret: SECRET,
    apiUrl: '',
    timeZone: 'America/New_York',
    apiUser: 'lastpass-audit-digest',
    timeoutMs: 5_000,
  },
  report: { from: 'Digest <digest@example.org>', to: ['secops@example.org'], schedule: '0 7 * * *', timeZone: 'UTC', maxCatchupDays: 7 },
};

let dir: string;
let sendgrid: FakeSendGrid;
let simulator: LastPassSimulator | null = null;
const stores: Store[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lpad-outage-'));
  sendgrid = await startFakeSendGrid();
});
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  await simulator?.close();
  simulator = null;
  await sendgrid.close();
  await rm(dir, { recursive: true, force: true });
});

function eventsFor(days: number): RawEvent[] {
  return generateDemoDay({ end: NOW, hours: 24 * days, timeZone: 'America/New_York', benignCount: 1_500 * days }).events;
}

async function startSimulator(events: RawEvent[], extra: Partial<LastPassSimulatorOptions> = {}): Promise<LastPassSimulator> {
  simulator = await createLastPassSimulator({
    accountNumber: '8771234',
    apiSecret: SECRET,
    events,
    timeZone: 'America/New_York',
    ...extra,
  });
  return simulator;
}

function fileStore(): Store {
  const store = createFileStore({ dir: join(dir, 'data'), now: () => NOW, processInfo: thisProcess() });
  stores.push(store);
  return store;
}

/** Coverage delivered up to `end` (one seed window), as a worker that was then down would have left it. */
async function seedCursor(store: Store, end: Date): Promise<void> {
  await store.init();
  await store.completeDelivery({
    key: 'seed',
    start: new Date(end.getTime() - DAY_MS).toISOString(),
    end: end.toISOString(),
    deliveredAt: end.toISOString(),
    messageId: 'seed',
    marker: 'seed',
    summary: { eventsReviewed: 0, high: 0, medium: 0, low: 0, info: 0, byCategory: {} },
  });
}

interface Sleeps {
  lastpass: number[];
  sendgrid: number[];
}

function deps(store: Store, sim: LastPassSimulator, now: Date = NOW, sleeps: Sleeps = { lastpass: [], sendgrid: [] }): RunDeps {
  const logger = recordingLogger();
  const policy: RetryPolicy = { retries: 5, baseDelayMs: 2_000, maxDelayMs: 60_000, maxRetryAfterMs: 300_000 };
  const lastpassConfig = { ...config.lastpass, apiUrl: sim.url };
  return {
    config: { ...config, lastpass: lastpassConfig },
    store,
    lastpass: createLastPassClient({
      ...lastpassConfig,
      logger,
      retryPolicy: policy,
      now: () => now.getTime(),
      sleep: async (ms) => {
        sleeps.lastpass.push(ms);
      },
    }),
    mailer: createSendGridMailer({
      apiKey: SG_KEY,
      apiUrl: sendgrid.url,
      logger,
      retryPolicy: policy,
      now: () => now.getTime(),
      sleep: async (ms) => {
        sleeps.sendgrid.push(ms);
      },
    }),
    outbox: createOutboxMailer({ dataDir: join(dir, 'outbox'), logger }),
    renderer,
    logger,
    now: () => now,
    // The re-sends after an unconfirmed send wait here (deliver-window.ts).
    sleep: async (ms) => {
      sleeps.sendgrid.push(ms);
    },
    version: '0.0.0-test',
  };
}

const accepted = () => sendgrid.requests.filter((r) => r.method === 'POST' && r.path === '/v3/mail/send');

describe('recovering from an outage of the worker', () => {
  it('down 3 days: on recovery, 3 contiguous daily digests, oldest first, and the cursor ends at now', async () => {
    const store = fileStore();
    const from = new Date(NOW.getTime() - 3 * DAY_MS);
    await seedCursor(store, from);
    const sim = await startSimulator(eventsFor(3));

    const outcome = await runReport(deps(store, sim));

    expect(outcome.status).toBe('ok');
    expect(outcome.skipped).toBeNull();
    expect(outcome.windows.map((w) => w.status)).toEqual(['delivered', 'delivered', 'delivered']);
    const digests = sentDigests(sendgrid.requests);
    expect(digests.map((d) => [new Date(d.start).toISOString(), new Date(d.end).toISOString()])).toEqual([
      ['2025-03-07T07:00:00.000Z', '2025-03-08T07:00:00.000Z'],
      ['2025-03-08T07:00:00.000Z', '2025-03-09T07:00:00.000Z'],
      ['2025-03-09T07:00:00.000Z', '2025-03-10T07:00:00.000Z'],
    ]);
    const state = await store.readState();
    expect(coverageViolations(digests, from.getTime(), Date.parse(state.cursor!))).toEqual([]);
    expect(stateViolations({ ...state, delivered: state.delivered.filter((d) => d.key !== 'seed') }, digests)).toEqual([]);
    expect(state.cursor).toBe(NOW.toISOString());
    // Every day's events were reviewed by exactly one digest.
    const reviewed = outcome.windows.reduce((n, w) => n + (w.eventsReviewed ?? 0), 0);
    expect(reviewed).toBeGreaterThan(3 * 1_500 * 0.9);
    // And nothing more is due at the same time.
    expect((await runReport(deps(store, sim))).status).toBe('nothing-due');
    expect(accepted()).toHaveLength(3);
  });

  it('down 10 days with the default cap (7): 7 digests, the first states the skipped span, and nothing is due afterwards', async () => {
    const store = fileStore();
    const from = new Date(NOW.getTime() - 10 * DAY_MS);
    await seedCursor(store, from);
    const sim = await startSimulator(eventsFor(10));

    const outcome = await runReport(deps(store, sim));

    expect(outcome.status).toBe('ok');
    expect(outcome.skipped).toEqual({ start: from, end: new Date(NOW.getTime() - 7 * DAY_MS) });
    const digests = sentDigests(sendgrid.requests);
    expect(digests).toHaveLength(7);
    expect(new Date(digests[0]!.start).toISOString()).toBe('2025-03-03T07:00:00.000Z');
    expect(coverageViolations(digests, NOW.getTime() - 7 * DAY_MS, NOW.getTime())).toEqual([]);
    // The first digest says what was NOT reviewed, and how to review it.
    const first = digests[0]!.html;
    expect(first).toContain('Coverage gap');
    expect(first).toContain('was NOT reviewed');
    expect(first).toContain('--from 2025-02-28T07:00:00.000Z --to 2025-03-03T07:00:00.000Z');
    for (const later of digests.slice(1)) expect(later.html).not.toContain('Coverage gap');

    const state = await store.readState();
    expect(state.cursor).toBe(NOW.toISOString());
    expect(state.pendingDelivery).toBeNull();
    // The digest that states the skipped span accounts for it: its record starts where coverage stopped.
    const firstRecord = state.delivered.find((d) => d.key === digests[0]!.key)!;
    expect(firstRecord.start).toBe(from.toISOString());
    expect((await runReport(deps(store, sim))).status).toBe('nothing-due');
    expect(accepted()).toHaveLength(7);
  });
});

describe('transient upstream outages at the scheduled time', () => {
  it('LastPass answers 503 to the first 3 requests: the retries (injected sleep) end in a delivered digest', async () => {
    const store = fileStore();
    await store.init();
    // Requests 0 and 1 are the run's clock probes; the window's fetch then meets three 503s.
    const sim = await startSimulator(eventsFor(1), {
      override: (_body, index) =>
        index >= 2 && index < 5 ? { status: 503, headers: { 'content-type': 'text/plain' }, body: 'Service Unavailable' } : undefined,
    });
    const sleeps: Sleeps = { lastpass: [], sendgrid: [] };

    const outcome = await runReport(deps(store, sim, NOW, sleeps), { deadline: NOW.getTime() + DAY_MS });

    expect(outcome.status).toBe('ok');
    expect(outcome.windows.map((w) => w.status)).toEqual(['delivered']);
    expect(sim.requests.slice(2, 5).map((r) => r.status)).toEqual([503, 503, 503]);
    expect(sim.requests.slice(5).every((r) => r.kind === 'ok')).toBe(true);
    expect(sleeps.lastpass).toHaveLength(3);
    for (const ms of sleeps.lastpass) expect(ms).toBeGreaterThan(0);
    expect(sentDigests(sendgrid.requests)).toHaveLength(1);
    expect(accepted()).toHaveLength(1); // no failure notice
    // The digest counts the day's events once: the failed attempts added nothing.
    const clean = await createLastPassSimulator({
      accountNumber: '8771234',
      apiSecret: SECRET,
      events: eventsFor(1),
      timeZone: 'America/New_York',
    });
    try {
      const other = createFileStore({ dir: join(dir, 'clean'), processInfo: thisProcess(), now: () => NOW });
      stores.push(other);
      await other.init();
      const reference = await runReport({
        ...deps(other, clean),
        mailer: createOutboxMailer({ dataDir: join(dir, 'clean-outbox'), logger: recordingLogger() }),
      });
      expect(outcome.windows[0]!.eventsReviewed).toBe(reference.windows[0]!.eventsReviewed);
    } finally {
      await clean.close();
    }
    const state = await store.readState();
    expect(state.cursor).toBe(NOW.toISOString());
    expect(state.consecutiveFailures).toBe(0);
  });

  it('SendGrid answers 503 twice, then 202: maybe sent each time, re-sent with the marker and the Possible duplicate notice, recorded once', async () => {
    const store = fileStore();
    await store.init();
    const sim = await startSimulator(eventsFor(1));
    sendgrid.script.push(
      { status: 503, body: { errors: [{ message: 'Service Unavailable' }] } },
      { status: 503, body: { errors: [{ message: 'Service Unavailable' }] } },
    );
    const sleeps: Sleeps = { lastpass: [], sendgrid: [] };

    const outcome = await runReport(deps(store, sim, NOW, sleeps), { deadline: NOW.getTime() + DAY_MS });

    expect(outcome.status).toBe('ok');
    expect(outcome.windows.map((w) => w.status)).toEqual(['delivered']);
    // A 503 may have been accepted: the client does not re-send it; the run re-sends after 5 s, then 30 s.
    expect(sleeps.sendgrid).toEqual([5_000, 30_000]);
    // Three attempts of the same message (same marker), the re-sends saying they may be duplicates.
    const attempts = sentDigests(sendgrid.requests);
    expect(attempts).toHaveLength(3);
    expect(new Set(attempts.map((a) => a.marker)).size).toBe(1);
    expect(attempts.map((a) => a.attempt)).toEqual(['1', '2', '3']);
    expect(attempts.map((a) => a.html.includes('Possible duplicate'))).toEqual([false, true, true]);
    expect(attempts[2]!.html).toContain('SendGrid did not confirm it (SendGrid answered HTTP 503');
    expect(outcome.windows[0]!.messageId).toBe('fake-msg-1');
    const state = await store.readState();
    expect(state.cursor).toBe(NOW.toISOString());
    expect(state.pendingDelivery).toBeNull();
    expect(state.delivered.map((d) => d.messageId)).toEqual(['fake-msg-1']);
    expect(state.consecutiveFailures).toBe(0);
  });
});

describe('two runs racing on one store', () => {
  async function race(storeA: Store, storeB: Store): Promise<void> {
    const from = new Date(NOW.getTime() - 3 * DAY_MS);
    await seedCursor(storeA, from);
    await storeB.init();
    // A slow upstream keeps the first run busy while the second one starts.
    const sim = await startSimulator(eventsFor(3), { delayMs: 20 });

    const outcomes = await Promise.all([runReport(deps(storeA, sim)), runReport(deps(storeB, sim))]);

    // Both start in the same tick: one takes the run lock, the other is refused (not queued behind it).
    expect(outcomes.map((o) => o.status).sort()).toEqual(['locked', 'ok']);
    const digests = sentDigests(sendgrid.requests);
    expect(digests).toHaveLength(3);
    expect(new Set(digests.map((d) => d.key)).size).toBe(3);
    expect(coverageViolations(digests, from.getTime(), NOW.getTime())).toEqual([]);
    for (const store of [storeA, storeB]) {
      const state = await store.readState();
      expect(state.cursor).toBe(NOW.toISOString());
      expect(stateViolations({ ...state, delivered: state.delivered.filter((d) => d.key !== 'seed') }, digests)).toEqual([]);
    }
  }

  it('file store, two instances on one DATA_DIR started at once: exactly one report per window', async () => {
    await race(fileStore(), fileStore());
  });

  describe('PostgreSQL, two stores on one schema', () => {
    let db: TestDatabase;
    const schema = randomSchemaName('lpad_outage');
    beforeAll(async () => {
      db = await startTestDatabase();
      if (!db.separateSessions) {
        console.warn(
          '[outage.test] PostgreSQL race SKIPPED: PGlite is one session, so advisory locks are re-entrant between the two stores; set TEST_DATABASE_URL to a real server to run it.',
        );
      }
    });
    afterAll(async () => {
      await db.dropSchema(schema);
      await db.stop();
    });

    it('exactly one report per window (real server only: PGlite shares one session)', async (ctx) => {
      if (!db.separateSessions) ctx.skip();
      const open = () => {
        const store = createPostgresStore({ connectionString: db.url, schema, maxConnections: db.maxConnections, now: () => NOW });
        stores.push(store);
        return store;
      };
      await race(open(), open());
    });
  });
});
