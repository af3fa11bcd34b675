/**
 * Replicas (WORKER_REPLICAS=on): two and three `node dist/cli.js worker` processes on one PostgreSQL
 * database (a throwaway one per test, dropped after) against the LastPass simulator and the fake SendGrid
 * over loopback. They share the work through the pg-boss queue; every window is delivered exactly once,
 * and a replica killed with SIGKILL mid-fetch or mid-send has its job taken over by another within the
 * takeover bound (WORKER_TAKEOVER_SECONDS=20 here: pg-boss heartbeat 10 s, supervisor every 4 s, poll 1 s,
 * so a bound of 19 s), repaired by the crash-repair rules (mid-send: the same marker and the "Possible
 * duplicate" notice).
 *
 * The CLI has no clock injection, so the clock is the real one: coverage is seeded to end days before the
 * test, and the schedule is set to a daily time two minutes ago, so that every replica finds a scheduled
 * time missed since the cursor and enqueues the catch-up at start: one job per account and scheduled time,
 * however many replicas enqueue it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveredWindow } from '../src/core/run-state.js';
import type { RawEvent } from '../src/core/types.js';
import { QUEUE_SCHEMA, queueTimings } from '../src/adapters/queue/pg-boss-queue.js';
import { generateDemoDay } from '../src/simulator/demo-day.js';
import { createLastPassSimulator, type LastPassSimulator } from '../src/simulator/lastpass-simulator.js';
import { createPostgresStore } from '../src/store/postgres-store.js';
import { startCli } from './support/cli.js';
import {
  coverageViolations,
  POSSIBLE_DUPLICATE,
  sentDigests,
  sentFailureNotices,
  stateViolations,
  type StateView,
} from './support/digest-coverage.js';
import { startFakeSendGrid, type FakeSendGrid } from './support/fake-sendgrid.js';
import { testDatabaseUrl } from './support/postgres.js';

const SECRET = 'replica-secret-7c6b5a4d3e';
const SG_KEY = 'SG.replica-test-key-1a2b3c';
const DAY_MS = 86_400_000;
const TAKEOVER_SECONDS = 20;
const BOUND_MS = queueTimings(TAKEOVER_SECONDS).boundMs;

type Replica = ReturnType<typeof startCli>;

let events: RawEvent[];
beforeAll(() => {
  // 15,000 events in the last 24 h: the window's fetch takes 2 pages, so fetch.page.1 is inside the fetch.
  events = generateDemoDay({ end: new Date(Date.now() + 120_000), benignCount: 15_000 }).events;
});

const serverUrl = testDatabaseUrl();
if (!serverUrl) {
  console.warn(
    '[replicas.test] TEST_DATABASE_URL is unset: the replica tests are SKIPPED (worker processes need a real server; PGlite lives inside the test process).',
  );
}

describe.skipIf(!serverUrl)('replicas on one PostgreSQL database (pg-boss)', () => {
  let admin: pg.Pool;
  let database: string | undefined;
  let databaseUrl: string;
  let dir: string;
  let simulator: LastPassSimulator;
  let sendgrid: FakeSendGrid;
  let replicas: Replica[] = [];

  beforeAll(() => {
    admin = new pg.Pool({ connectionString: serverUrl!, max: 1 });
  });
  afterAll(async () => {
    await admin.end();
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lpad-replicas-'));
    simulator = await createLastPassSimulator({ accountNumber: '8771234', apiSecret: SECRET, events });
    sendgrid = await startFakeSendGrid();
    database = `lpad_replicas_${randomBytes(5).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
    const url = new URL(serverUrl!);
    url.pathname = `/${database}`;
    databaseUrl = url.toString();
  });
  afterEach(async () => {
    for (const r of replicas) r.child.kill('SIGKILL');
    await Promise.all(replicas.map((r) => r.exited));
    replicas = [];
    await simulator.close();
    await sendgrid.close();
    await rm(dir, { recursive: true, force: true });
    if (database) await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
    database = undefined;
  });

  /** A daily schedule whose time was two minutes ago (UTC), so a catch-up is due at every start. */
  function scheduleTwoMinutesAgo(): string {
    const t = new Date(Date.now() - 120_000);
    return `${t.getUTCMinutes()} ${t.getUTCHours()} * * *`;
  }

  function env(schedule: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      LASTPASS_ACCOUNT_NUMBER: '8771234',
      LASTPASS_API_KEY: SECRET,
      LASTPASS_API_URL: simulator.url,
      SENDGRID_API_KEY: SG_KEY,
      SENDGRID_API_URL: sendgrid.url,
      REPORT_FROM: 'Digest <digest@example.org>',
      REPORT_TO: 'secops@example.org',
      REPORT_SCHEDULE: schedule,
      DATA_DIR: join(dir, 'data'),
      DATABASE_URL: databaseUrl,
      WORKER_REPLICAS: 'on',
      WORKER_TAKEOVER_SECONDS: String(TAKEOVER_SECONDS),
      LOG_LEVEL: 'info',
      ...extra,
    };
  }

  function startReplica(schedule: string, extra?: Record<string, string>): Replica {
    const r = startCli(['worker'], env(schedule, extra), dir);
    replicas.push(r);
    return r;
  }

  const openStore = (accountId?: string) =>
    createPostgresStore({ connectionString: databaseUrl, maxConnections: 2, now: () => new Date(), ...(accountId ? { accountId } : {}) });

  /** Coverage delivered up to `daysAgo` days ago (a seed window); returns where it ends. */
  async function seed(daysAgo: number, accountId?: string): Promise<number> {
    const store = openStore(accountId);
    await store.init();
    const end = Date.now() - daysAgo * DAY_MS;
    const seedWindow: DeliveredWindow = {
      key: 'seed',
      start: new Date(end - DAY_MS).toISOString(),
      end: new Date(end).toISOString(),
      deliveredAt: new Date(end).toISOString(),
      messageId: 'seed',
      marker: 'seed',
      summary: { eventsReviewed: 0, high: 0, medium: 0, low: 0, info: 0, byCategory: {} },
    };
    await store.completeDelivery(seedWindow);
    await store.close();
    return end;
  }

  async function readState(): Promise<StateView> {
    const store = openStore();
    try {
      return await store.readState();
    } finally {
      await store.close();
    }
  }

  interface JobRow {
    id: string;
    state: string;
    retry_count: number;
    singleton_key: string;
  }
  async function jobs(): Promise<(JobRow & { due: boolean })[]> {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const r = await client.query<JobRow & { due: boolean }>(
        `SELECT id, state::text AS state, retry_count, singleton_key, start_after <= now() AS due FROM ${pg.escapeIdentifier(QUEUE_SCHEMA)}.job ORDER BY created_on`,
      );
      return r.rows;
    } catch {
      return []; // the schema is not there yet
    } finally {
      await client.end();
    }
  }

  /** Waits until the cursor has moved past `after` and no job is running or due; returns when that was. */
  async function settled(after: number, timeoutMs: number): Promise<number> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const state = await readState();
      const open = (await jobs()).filter((j) => j.state === 'active' || ((j.state === 'created' || j.state === 'retry') && j.due));
      if (state.cursor && Date.parse(state.cursor) > after && open.length === 0) return Date.now();
      if (Date.now() > until) {
        throw new Error(
          `not settled in ${timeoutMs} ms: cursor ${state.cursor}, open jobs ${JSON.stringify(open)}\n${replicas.map((r, i) => `--- replica ${i}\n${r.output()}`).join('\n')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async function stopAll(): Promise<void> {
    const alive = replicas.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
    for (const r of alive) r.child.kill('SIGTERM');
    const codes = await Promise.all(alive.map((r) => r.exited));
    expect(codes, 'replicas stop cleanly on SIGTERM').toEqual(alive.map(() => 0));
  }

  async function problems(coveredFrom: number): Promise<string[]> {
    const state = await readState();
    const digests = sentDigests(sendgrid.requests);
    return [
      ...coverageViolations(digests, coveredFrom, Date.parse(state.cursor ?? '1970-01-01T00:00:00Z')),
      ...stateViolations({ ...state, delivered: state.delivered.filter((d) => d.key !== 'seed') }, digests),
      ...sentFailureNotices(sendgrid.requests).map((s) => `a failure notice was sent: ${s}`),
    ];
  }

  for (const count of [2, 3]) {
    it(`${count} replicas started together deliver every due window exactly once (3 days due, one run)`, async () => {
      const coveredFrom = await seed(3);
      const schedule = scheduleTwoMinutesAgo();
      const started = Date.now();
      for (let i = 0; i < count; i++) startReplica(schedule);
      await settled(started - 5 * 60_000, 25_000);
      await stopAll();

      const digests = sentDigests(sendgrid.requests);
      expect(await problems(coveredFrom)).toEqual([]);
      expect(digests.length, 'three days due: three windows').toBe(3);
      expect(new Set(digests.map((d) => d.key)).size, 'no window twice').toBe(digests.length);
      expect(digests.some((d) => d.html.includes(POSSIBLE_DUPLICATE))).toBe(false);
      // Each replica enqueued the catch-up of the same scheduled time.
      const logs = replicas.map((r) => r.output());
      expect(logs.filter((l) => l.includes('"replica.job_start"')).length).toBeGreaterThanOrEqual(1);
      expect(logs.join('\n').match(/"replica\.job_end".*?"status":"ok"/g)?.length, 'one run delivered').toBe(1);
      // The singleton key: never two runs of the account at once (none met the store's run lock), and
      // however many replicas enqueued, at most one job ran and one waited behind it.
      expect(logs.join('\n')).not.toMatch(/"replica\.job_end".*?"status":"locked"/);
      // Every replica enqueued the same scheduled time: one job (its id is derived from account and time).
      expect((await jobs()).length, JSON.stringify(await jobs())).toBe(1);
    }, 40_000);
  }

  it('several accounts (ACCOUNTS_FILE) on 2 replicas: each good account delivered exactly once, the one with a wrong secret fails alone, one roll-up (failure first)', async () => {
    const ids = ['acme', 'beta', 'gamma', 'delta'];
    const accounts = ids.map((id) => ({
      id,
      accountNumber: '8771234',
      apiKeyEnv: id === 'gamma' ? 'LASTPASS_KEY_WRONG' : 'LASTPASS_KEY_GOOD',
      recipients: [`secops@${id}.example`],
    }));
    await writeFile(join(dir, 'accounts.json'), JSON.stringify(accounts));
    const coveredFrom = new Map<string, number>();
    for (const id of ids) coveredFrom.set(id, await seed(1, id));
    const schedule = scheduleTwoMinutesAgo();
    const started = Date.now();
    const extra = {
      ACCOUNTS_FILE: 'accounts.json',
      LASTPASS_KEY_GOOD: SECRET,
      LASTPASS_KEY_WRONG: 'replica-wrong-secret-000000',
      LASTPASS_ACCOUNT_NUMBER: '',
      LASTPASS_API_KEY: '',
      REPORT_TO: '',
      REPORT_RETRY_MINUTES: 'off',
      ROLLUP_TO: 'provider@msp.example',
    };
    startReplica(schedule, extra);
    startReplica(schedule, extra);
    // Settled: every account's job done (the failing one has no retry: REPORT_RETRY_MINUTES=off).
    const until = Date.now() + 30_000;
    for (;;) {
      const open = (await jobs()).filter((j) => j.state === 'active' || ((j.state === 'created' || j.state === 'retry') && j.due));
      const logs = replicas.map((r) => r.output()).join('\n');
      const ended = ids.filter((id) => new RegExp(`"replica\\.job_end"[^\\n]*"accountId":"${id}"`).test(logs));
      const rolledUp = /"rollup\.sent"/.test(logs);
      if (ended.length === ids.length && open.length === 0 && rolledUp) break;
      if (Date.now() > until) throw new Error(`not settled: ended ${ended.join(',')}, open ${JSON.stringify(open)}\n${logs}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    // Both replicas enqueued the round's roll-up: one job, one roll-up (give a second one time to show).
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await stopAll();

    const mails = sendgrid.requests.filter((r) => r.method === 'POST' && r.path === '/v3/mail/send');
    const to = (r: (typeof mails)[number]) =>
      (r.body as { personalizations: { to: { email: string }[] }[] }).personalizations[0]!.to[0]!.email;
    const rollups = mails.filter((r) => to(r) === 'provider@msp.example');
    expect(rollups.length, 'exactly one roll-up for the deployment').toBe(1);
    const rollup = rollups[0]!.body as { subject: string; content: { type: string; value: string }[] };
    expect(rollup.subject).toMatch(/1 of 4 accounts FAILED/);
    const text = rollup.content.find((c) => c.type === 'text/plain')!.value;
    const order = ids.map((id) => [id, text.indexOf(id)] as const).sort((x, y) => x[1] - y[1]);
    expect(order[0]![0], `the failed account first:\n${text}`).toBe('gamma');
    expect(text).not.toContain('replica-wrong-secret');
    for (const id of ids) {
      const own = mails.filter((r) => to(r) === `secops@${id}.example`);
      const digests = sentDigests(own);
      if (id === 'gamma') {
        expect(digests, 'the account with the wrong secret sends no digest').toEqual([]);
        expect(sentFailureNotices(own).length, 'gamma gets its own FAILED notice').toBe(1);
        continue;
      }
      expect(sentFailureNotices(own), id).toEqual([]);
      expect(digests.length, `${id}: one window, once`).toBe(1);
      const store = openStore(id);
      const state = await store.readState().finally(() => store.close());
      expect(coverageViolations(digests, coveredFrom.get(id)!, Date.parse(state.cursor ?? '1970-01-01T00:00:00Z')), id).toEqual([]);
      expect(Date.parse(state.cursor!)).toBeGreaterThan(started - 60_000);
    }
    // Both replicas took part in a round of four accounts (whichever polled first), and none ran an account twice at once.
    const logs = replicas.map((r) => r.output());
    expect(logs.join('\n')).not.toMatch(/"replica\.job_end".*?"status":"locked"/);
  }, 45_000);

  it('kill -9 of a replica mid-fetch: another takes its job over within the bound, every window once', async () => {
    const coveredFrom = await seed(1);
    const schedule = scheduleTwoMinutesAgo();
    const doomed = startReplica(schedule, { LAD_CRASH_AT: 'fetch.page.1' });
    expect(await doomed.exited, `the replica was to die at fetch.page.1:\n${doomed.output()}`).toBeNull();
    expect(doomed.output()).toContain('"replica.job_start"');
    const killedAt = Date.now();
    startReplica(schedule);
    startReplica(schedule);
    const doneAt = await settled(killedAt - 5 * 60_000, BOUND_MS + 10_000);
    await stopAll();

    expect(doneAt - killedAt, `taken over and delivered within the bound (${BOUND_MS} ms) and the run's own time`).toBeLessThan(
      BOUND_MS + 8_000,
    );
    expect(await problems(coveredFrom)).toEqual([]);
    const digests = sentDigests(sendgrid.requests);
    expect(digests.length).toBe(1);
    // The dead replica's job itself was run again (retry_count 1) and completed.
    const rows = await jobs();
    expect(rows[0], JSON.stringify(rows)).toMatchObject({ state: 'completed', singleton_key: 'default' });
    expect(
      rows.some((j) => j.retry_count >= 1 && j.state === 'completed'),
      JSON.stringify(rows),
    ).toBe(true);
  }, 45_000);

  it('kill -9 of a replica mid-send: another repeats the send with the same marker and the "Possible duplicate" notice', async () => {
    const coveredFrom = await seed(1);
    const schedule = scheduleTwoMinutesAgo();
    const held = sendgrid.holdNextSend();
    const doomed = startReplica(schedule);
    await held;
    doomed.child.kill('SIGKILL');
    expect(await doomed.exited).toBeNull();
    const killedAt = Date.now();
    startReplica(schedule);
    startReplica(schedule);
    const doneAt = await settled(killedAt - 5 * 60_000, BOUND_MS + 12_000);
    await stopAll();

    expect(doneAt - killedAt).toBeLessThan(BOUND_MS + 10_000);
    expect(await problems(coveredFrom)).toEqual([]);
    const digests = sentDigests(sendgrid.requests);
    expect(digests.length, 'the held send and its repeat').toBe(2);
    expect(digests[1]!.marker).toBe(digests[0]!.marker);
    expect(digests[1]!.html).toContain(POSSIBLE_DUPLICATE);
  }, 45_000);
});
