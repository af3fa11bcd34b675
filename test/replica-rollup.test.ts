/**
 * The roll-up in replica mode, in process on the real pg-boss queue (a throwaway database on
 * TEST_DATABASE_URL): one roll-up job per scheduled time however many replicas enqueue it, waiting (by
 * re-queueing itself) while an account's job for that time is unfinished, sent at the bound otherwise;
 * and the records it is built from (what the stores say of the round: failures first, an account with
 * nothing since the scheduled time "not yet reported", never all quiet then).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountRunner } from '../src/accounts/account-runner.js';
import type { AccountRunRecord } from '../src/accounts/local-runner.js';
import { buildRollup } from '../src/accounts/rollup.js';
import { roundRecords } from '../src/accounts/rollup-round.js';
import { createPgBossQueue } from '../src/adapters/queue/pg-boss-queue.js';
import { emptyRunState, type DeliveredWindow, type RunState } from '../src/core/run-state.js';
import { createReplicaWorker, type ReplicaJob } from '../src/replica-worker.js';
import type { RunOutcome } from '../src/run-report.js';
import { recordingLogger } from './support/recording-logger.js';
import { testDatabaseUrl } from './support/postgres.js';

const AT = new Date('2026-03-02T07:00:00.000Z');
const HOUR = 3_600_000;

function delivered(at: Date, high = 0): DeliveredWindow {
  return {
    key: `w-${at.toISOString()}`,
    start: new Date(at.getTime() - 24 * HOUR).toISOString(),
    end: at.toISOString(),
    deliveredAt: at.toISOString(),
    messageId: 'm1',
    marker: 'k1',
    summary: { eventsReviewed: 120, high, medium: 0, low: 0, info: 3, byCategory: {} },
  };
}

const failedState = (at: Date): RunState => ({
  ...emptyRunState(),
  consecutiveFailures: 1,
  lastFailure: {
    key: 'w2',
    start: new Date(at.getTime() - 24 * HOUR).toISOString(),
    end: at.toISOString(),
    at: at.toISOString(),
    message: 'LastPass refused the API secret',
  },
});

describe('the round as the stores tell it (rollup-round.ts)', () => {
  it('an amber digest with nothing found is shown as what it said (the verdict kept with its delivery), never quiet', () => {
    const after = new Date(AT.getTime() + 60_000);
    const plain = delivered(after);
    const amber: DeliveredWindow = {
      ...plain,
      summary: {
        ...plain.summary,
        verdict: { level: 'untrusted', text: 'Unusually few events: 120 reviewed, the usual is 18,204', findings: 0 },
      },
    };
    const [record] = roundRecords(AT, [{ id: 'amber-co', state: { ...emptyRunState(), delivered: [amber] } }], after);
    const model = buildRollup([record!], after);
    expect(model.accounts[0]!.status).toBe('untrusted');
    expect(model.accounts[0]!.verdict).toContain('Unusually few events');
    expect(model.verdict).not.toMatch(/All quiet/);
    // A record from before verdicts were kept falls back to its counts.
    const [legacy] = roundRecords(AT, [{ id: 'old-co', state: { ...emptyRunState(), delivered: [plain] } }], after);
    expect(buildRollup([legacy!], after).accounts[0]!.status).toBe('quiet');
  });

  it('failures first, an account with nothing since the scheduled time is not yet reported, never all quiet then', () => {
    const after = new Date(AT.getTime() + 60_000);
    const records = roundRecords(
      AT,
      [
        { id: 'quiet-co', state: { ...emptyRunState(), delivered: [delivered(after)] } },
        // Delivered the day before only: nothing for this round.
        { id: 'late-co', state: { ...emptyRunState(), delivered: [delivered(new Date(AT.getTime() - 24 * HOUR))] } },
        { id: 'broken-co', state: { ...failedState(after), delivered: [delivered(new Date(AT.getTime() + 1000))] } },
        { id: 'gone-co', state: null, readError: 'connection refused' },
      ],
      after,
    );
    const model = buildRollup(records, after);
    expect(model.accounts.map((a) => [a.id, a.status])).toEqual([
      ['broken-co', 'failed'],
      ['gone-co', 'failed'],
      ['late-co', 'not-reported'],
      ['quiet-co', 'quiet'],
    ]);
    expect(model.level).toBe('failed');
    expect(model.accounts[0]!.verdict).toContain('LastPass refused the API secret');
    expect(model.accounts[2]!.verdict).toMatch(/^Not yet reported/);
    // Only the unreported one left: amber, never all quiet.
    const only = buildRollup(
      records.filter((r) => r.id === 'late-co' || r.id === 'quiet-co'),
      after,
    );
    expect(only.level).toBe('attention');
    expect(only.verdict).not.toMatch(/All quiet/);
    // A delivery after the failure (a retry that worked) is what the round says.
    const [retried] = roundRecords(
      AT,
      [{ id: 'r', state: { ...failedState(after), delivered: [delivered(new Date(after.getTime() + 1000), 2)] } }],
      after,
    );
    expect(buildRollup([retried!], after).accounts[0]!.status).toBe('attention');
  });
});

const serverUrl = testDatabaseUrl();
describe.skipIf(!serverUrl)('the roll-up job on pg-boss (real PostgreSQL)', () => {
  let admin: pg.Pool;
  const database = `lpad_replica_rollup_${randomBytes(5).toString('hex')}`;
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

  const until = async (what: () => boolean, label: string, ms = 15_000) => {
    const end = Date.now() + ms;
    while (!what()) {
      if (Date.now() > end) throw new Error(`timed out: ${label}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  /** Two replicas on one queue; account `slow` runs until released (then fails), `fast` delivers at once. */
  function deployment(boundMs: number) {
    const states = new Map<string, RunState>([
      ['fast', emptyRunState()],
      ['slow', emptyRunState()],
    ]);
    let releaseSlow: () => void = () => undefined;
    const slowDone = new Promise<void>((r) => {
      releaseSlow = r;
    });
    const sends: AccountRunRecord[][] = [];
    const logger = recordingLogger();
    const runner: AccountRunner = {
      accounts: () => [{ id: 'fast' }, { id: 'slow' }],
      async run(id): Promise<RunOutcome> {
        if (id === 'slow') {
          await slowDone;
          states.set('slow', failedState(new Date()));
          return { status: 'failed', windows: [], skipped: null };
        }
        states.set('fast', { ...emptyRunState(), delivered: [delivered(new Date())] });
        return { status: 'ok', windows: [], skipped: null };
      },
    };
    const replica = () =>
      createReplicaWorker({
        schedule: '0 0 1 1 *',
        timeZone: 'UTC',
        queue: createPgBossQueue<ReplicaJob>({ connectionString: databaseUrl, logger, takeoverSeconds: 20, expireInSeconds: 600 }),
        runner,
        concurrency: 2,
        logger,
        now: () => new Date(),
        rollup: {
          readState: async (id) => states.get(id)!,
          send: async (records) => {
            sends.push(records);
          },
          boundMs,
          recheckMs: 1000,
        },
      });
    return { replicas: [replica(), replica()], sends, logger, releaseSlow };
  }

  it('one roll-up per scheduled time for two replicas, waiting while an account job is unfinished', async () => {
    const { replicas, sends, logger, releaseSlow } = deployment(HOUR);
    for (const r of replicas) await r.start();
    try {
      const at = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60_000);
      // Both replicas enqueue the scheduled time: one job per account, one roll-up job.
      expect(await replicas[0]!.tick('schedule', at)).toBe(2);
      expect(await replicas[1]!.tick('schedule', at)).toBe(0);
      const msgs = () => logger.records().map((r) => r.msg);
      expect(msgs().filter((m) => m === 'rollup.job_queued')).toHaveLength(1);
      expect(msgs()).toContain('rollup.job_already_queued');
      // `slow` is still running: the roll-up re-queues itself, and is not sent.
      await until(() => msgs().filter((m) => m === 'rollup.waiting').length >= 2, 'the roll-up waits');
      expect(sends).toHaveLength(0);
      const waiting = logger.records().find((r) => r.msg === 'rollup.waiting')!;
      expect(waiting.unfinished).toEqual(['slow']);
      releaseSlow();
      await until(() => sends.length === 1, 'the roll-up is sent');
      await new Promise((r) => setTimeout(r, 2500));
      expect(sends, 'sent once').toHaveLength(1);
      // One roll-up job for the time (then its re-queued checks), each retried once only (a takeover).
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      const rows = await client
        .query<{ retry_limit: number; id: string }>(
          `SELECT id, retry_limit FROM lastpass_audit_digest_queue.job WHERE singleton_key = $1`,
          [`rollup ${at.toISOString()}`],
        )
        .finally(() => client.end());
      expect(rows.rows.length).toBeGreaterThanOrEqual(3);
      expect(rows.rows.every((r) => r.retry_limit === 1)).toBe(true);
      const model = buildRollup(sends[0]!, new Date());
      expect(model.accounts.map((a) => [a.id, a.status])).toEqual([
        ['slow', 'failed'],
        ['fast', 'quiet'],
      ]);
    } finally {
      releaseSlow();
      for (const r of replicas) await r.stop(2000);
    }
  }, 40_000);

  it('past the bound it is sent with the unfinished account not yet reported', async () => {
    const { replicas, sends, logger, releaseSlow } = deployment(4000);
    for (const r of replicas) await r.start();
    try {
      const at = new Date(Date.now() - 1000);
      await replicas[0]!.tick('schedule', at);
      await until(() => sends.length === 1, 'sent at the bound');
      expect(logger.records().some((r) => r.msg === 'rollup.bound_passed')).toBe(true);
      const model = buildRollup(sends[0]!, new Date());
      expect(model.accounts.map((a) => [a.id, a.status])).toEqual([
        ['slow', 'not-reported'],
        ['fast', 'quiet'],
      ]);
      expect(model.level).toBe('attention');
    } finally {
      releaseSlow();
      for (const r of replicas) await r.stop(2000);
    }
  }, 40_000);
});
