/**
 * The replica worker on the real pg-boss queue (a throwaway database per file on TEST_DATABASE_URL): at most
 * WORKER_CONCURRENCY account runs at once in one replica, never two runs of one account at once however
 * often the schedule enqueues, a failed run retried as a delayed job; and the configuration of the replicas
 * (WORKER_REPLICAS needs DATABASE_URL, the bounds of WORKER_CONCURRENCY and WORKER_TAKEOVER_SECONDS).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountRunner } from '../src/accounts/account-runner.js';
import { createPgBossQueue, queueTimings } from '../src/adapters/queue/pg-boss-queue.js';
import { loadConfig } from '../src/config/load-config.js';
import { ConfigError } from '../src/errors.js';
import { createReplicaWorker, type ReplicaJob } from '../src/replica-worker.js';
import type { RunOutcome } from '../src/run-report.js';
import { recordingLogger } from './support/recording-logger.js';
import { testDatabaseUrl } from './support/postgres.js';

const BASE = {
  LASTPASS_ACCOUNT_NUMBER: '8771234',
  LASTPASS_API_KEY: 'replica-config-secret-0a1b2c3d',
  SENDGRID_API_KEY: 'SG.replica-config-key-0a1b2c',
  REPORT_FROM: 'digest@example.org',
  REPORT_TO: 'secops@example.org',
};

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...BASE, ...env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  return [];
}

describe('replica configuration', () => {
  it('WORKER_REPLICAS=on needs DATABASE_URL, and bad numbers are named with their fix, all at once', () => {
    const found = problems({ WORKER_REPLICAS: 'on', WORKER_CONCURRENCY: '0', WORKER_TAKEOVER_SECONDS: '900' });
    expect(found.some((p) => p.startsWith('WORKER_REPLICAS=on needs DATABASE_URL'))).toBe(true);
    expect(found.some((p) => p.startsWith('WORKER_CONCURRENCY must be a whole number from 1 to 64'))).toBe(true);
    expect(found.some((p) => p.startsWith('WORKER_TAKEOVER_SECONDS must be a whole number from 15 to 300'))).toBe(true);
    expect(problems({ WORKER_REPLICAS: 'maybe', DATABASE_URL: 'postgresql://db.example.test/x' })[0]).toMatch(
      /^WORKER_REPLICAS must be on or off/,
    );
  });

  it('defaults: off (the single worker); on: concurrency 4, takeover 120 s; the settings alone only warn', () => {
    expect(loadConfig(BASE).config.worker.replicas).toBeNull();
    const on = loadConfig({ ...BASE, WORKER_REPLICAS: 'on', DATABASE_URL: 'postgresql://db.example.test/x' });
    expect(on.config.worker.replicas).toEqual({ concurrency: 4, takeoverSeconds: 120 });
    const alone = loadConfig({ ...BASE, WORKER_CONCURRENCY: '8' });
    expect(alone.config.worker.replicas).toBeNull();
    expect(alone.warnings.join('\n')).toContain('WORKER_CONCURRENCY only apply with WORKER_REPLICAS=on');
  });

  it('the takeover bound (heartbeat + 2 × supervisor + poll) never exceeds WORKER_TAKEOVER_SECONDS, heartbeat ≥ 10 s', () => {
    for (let t = 15; t <= 300; t++) {
      const timings = queueTimings(t);
      expect(timings.boundMs, `takeover ${t}`).toBeLessThanOrEqual(t * 1000);
      expect(timings.heartbeatSeconds).toBeGreaterThanOrEqual(10);
      expect(timings.monitorSeconds).toBeGreaterThanOrEqual(1);
    }
    expect(queueTimings(120)).toMatchObject({ heartbeatSeconds: 60, boundMs: 120_000 });
  });
});

const serverUrl = testDatabaseUrl();
describe.skipIf(!serverUrl)('the replica worker on pg-boss (real PostgreSQL)', () => {
  let admin: pg.Pool;
  const database = `lpad_replica_worker_${randomBytes(5).toString('hex')}`;
  let databaseUrl: string;

  beforeAll(async () => {
    admin = new pg.Pool({ connectionString: serverUrl!, max: 1 });
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
    const url = new URL(serverUrl!);
    url.pathname = `/${database}`;
    databaseUrl = url.toString();
  });
  afterAll(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
    await admin.end();
  });

  it('runs at most WORKER_CONCURRENCY accounts at once, never one account twice at once, and retries a failed run later', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    let inFlight = 0;
    let peak = 0;
    const perAccount = new Map<string, number>();
    const runsOf = new Map<string, number>();
    let overlapOfOneAccount = false;
    const release: (() => void)[] = [];
    const runner: AccountRunner = {
      accounts: () => ids.map((id) => ({ id })),
      async run(id): Promise<RunOutcome> {
        inFlight++;
        peak = Math.max(peak, inFlight);
        if ((perAccount.get(id) ?? 0) > 0) overlapOfOneAccount = true;
        perAccount.set(id, (perAccount.get(id) ?? 0) + 1);
        runsOf.set(id, (runsOf.get(id) ?? 0) + 1);
        await new Promise<void>((r) => release.push(r));
        perAccount.set(id, perAccount.get(id)! - 1);
        inFlight--;
        // Account e fails on its first run: retried as a delayed job.
        const failed = id === 'e' && runsOf.get(id) === 1;
        return { status: failed ? 'failed' : 'ok', windows: [], skipped: null };
      },
    };
    const logger = recordingLogger();
    const worker = createReplicaWorker({
      schedule: '0 0 1 1 *',
      timeZone: 'UTC',
      queue: createPgBossQueue<ReplicaJob>({ connectionString: databaseUrl, logger, takeoverSeconds: 20, expireInSeconds: 600 }),
      runner,
      concurrency: 2,
      logger,
      now: () => new Date(),
      retryDelaysMs: [1000],
    });
    await worker.start();
    try {
      expect(await worker.tick('schedule')).toBe(5);
      const until = async (what: () => boolean, label: string) => {
        const end = Date.now() + 15_000;
        while (!what()) {
          if (Date.now() > end) throw new Error(`timed out: ${label} (in flight ${inFlight}, runs ${JSON.stringify([...runsOf])})`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await until(() => inFlight === 2, 'two runs started');
      // The schedule fires again while they run: each account gets at most one job waiting behind its running one.
      await worker.tick('schedule');
      await new Promise((r) => setTimeout(r, 1500));
      expect(inFlight, 'WORKER_CONCURRENCY=2').toBe(2);
      // Let everything run to the end, releasing runs as they come.
      const drain = setInterval(() => {
        for (const r of release.splice(0)) r();
      }, 20);
      try {
        await until(
          () => (runsOf.get('e') ?? 0) >= 2 && inFlight === 0 && ids.every((id) => (runsOf.get(id) ?? 0) >= 1),
          'all ran, e retried',
        );
        await new Promise((r) => setTimeout(r, 2500));
      } finally {
        clearInterval(drain);
      }
      expect(peak).toBe(2);
      expect(overlapOfOneAccount, 'two runs of one account at once').toBe(false);
      // Two ticks: each account ran once or twice (the waiting job), never more; e once more for its retry.
      for (const id of ids) expect(runsOf.get(id), id).toBeLessThanOrEqual(id === 'e' ? 3 : 2);
      const before = new Map(runsOf);
      expect(logger.records().some((r) => r.msg === 'replica.job_queued' && r.reason === 'retry')).toBe(true);
      // One scheduled time is one job per account, however often (and by how many replicas) it is enqueued,
      // also once that job is done.
      const at = new Date('2026-01-05T07:00:00.000Z');
      expect(await worker.tick('schedule', at)).toBe(5);
      const drainAgain = setInterval(() => {
        for (const r of release.splice(0)) r();
      }, 20);
      try {
        await until(() => ids.every((id) => (runsOf.get(id) ?? 0) > (before.get(id) ?? 0)) && inFlight === 0, 'the scheduled time ran');
        expect(await worker.tick('schedule', at)).toBe(0);
      } finally {
        clearInterval(drainAgain);
      }
    } finally {
      for (const r of release.splice(0)) r();
      await worker.stop(2000);
    }
  }, 30_000);

  it('a run longer than the heartbeat is not taken over while its replica lives (the heartbeat is refreshed)', async () => {
    // Takeover 20 s: heartbeat 10 s, supervisor every 4 s. A 13 s run outlives the heartbeat; a second replica
    // on the same queue would take the job over (and run it again) if the first stopped refreshing it.
    let runs = 0;
    let finished = false;
    const runner: AccountRunner = {
      accounts: () => [{ id: 'slow' }],
      async run(): Promise<RunOutcome> {
        runs++;
        await new Promise((r) => setTimeout(r, 13_000));
        finished = true;
        return { status: 'ok', windows: [], skipped: null };
      },
    };
    const replica = () =>
      createReplicaWorker({
        schedule: '0 0 1 1 *',
        timeZone: 'UTC',
        queue: createPgBossQueue<ReplicaJob>({
          connectionString: databaseUrl,
          logger: recordingLogger(),
          takeoverSeconds: 20,
          expireInSeconds: 600,
        }),
        runner,
        concurrency: 1,
        logger: recordingLogger(),
        now: () => new Date(),
      });
    const first = replica();
    const second = replica();
    await first.start();
    await second.start();
    try {
      expect(await first.tick('schedule', new Date('2026-02-02T07:00:00.000Z'))).toBe(1);
      const end = Date.now() + 20_000;
      while (!finished && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 1000));
      expect(finished).toBe(true);
      expect(runs, 'the job ran once: never given to the other replica').toBe(1);
    } finally {
      await first.stop(2000);
      await second.stop(2000);
    }
  }, 30_000);

  it("a changed WORKER_TAKEOVER_SECONDS holds for the jobs enqueued from then on (the queue's heartbeat is fixed at its creation)", async () => {
    // The queue exists (the test above created it with a 20 s takeover: heartbeat 10 s); this replica says 40.
    const queue = createPgBossQueue<ReplicaJob>({
      connectionString: databaseUrl,
      logger: recordingLogger(),
      takeoverSeconds: 40,
      expireInSeconds: 900,
    });
    await queue.start();
    try {
      const id = await queue.enqueue('z', { accountId: 'z', reason: 'test', attempt: 0 }, { startAfterMs: 3_600_000 });
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      const row = await client
        .query<{ heartbeat_seconds: number; expire_seconds: number }>(
          'SELECT heartbeat_seconds, expire_seconds FROM lastpass_audit_digest_queue.job WHERE id = $1',
          [id],
        )
        .finally(() => client.end());
      expect(row.rows[0]).toEqual({ heartbeat_seconds: queueTimings(40).heartbeatSeconds, expire_seconds: 900 });
    } finally {
      await queue.stop(1000);
    }
  }, 20_000);
});
