/**
 * The scheduler around runReport: retries within the day after a failure, never past the next scheduled
 * run; missed-tick detection helpers; plus the heartbeat and the health endpoint it wires.
 */
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { createHeartbeat } from '../src/adapters/notify/heartbeat.js';
import { startHealthServer } from '../src/adapters/health-server.js';
import type { RunOutcome } from '../src/run-report.js';
import { createWorker, previousScheduledTime } from '../src/worker.js';
import { recordingLogger } from './support/recording-logger.js';

const outcome = (status: RunOutcome['status']): RunOutcome => ({ status, windows: [], skipped: null });

function manualTimers() {
  const timers: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  return {
    timers,
    setTimer: (fn: () => void, ms: number) => {
      const t = { fn, ms, cancelled: false };
      timers.push(t);
      return { cancel: () => (t.cancelled = true) };
    },
    fireNext: async () => {
      const t = timers.find((x) => !x.cancelled && x.fn);
      if (!t) throw new Error('no timer');
      t.cancelled = true;
      t.fn();
      await new Promise((r) => setImmediate(r));
    },
  };
}

afterEach(() => nock.cleanAll());

describe('worker retries within the day', () => {
  it('retries a failed run after each configured delay until one succeeds, then stops retrying', async () => {
    const results: RunOutcome['status'][] = ['failed', 'failed', 'ok'];
    const reasons: string[] = [];
    const timers = manualTimers();
    const logger = recordingLogger();
    const worker = createWorker({
      schedule: '0 7 * * *',
      timeZone: 'UTC',
      logger,
      // 06:59:00 just before the 07:00 run; the next run after that is tomorrow 07:00.
      now: () => new Date('2025-03-10T07:00:30Z'),
      retryDelaysMs: [600_000, 1_800_000, 3_600_000],
      setTimer: timers.setTimer,
      runDue: async () => {
        reasons.push('run');
        return outcome(results.shift() ?? 'ok');
      },
    });
    await worker.start();
    await worker.tick('schedule');
    await new Promise((r) => setImmediate(r));
    expect(timers.timers.map((t) => t.ms)).toEqual([600_000]);
    await timers.fireNext();
    await new Promise((r) => setImmediate(r));
    expect(timers.timers.map((t) => t.ms)).toEqual([600_000, 1_800_000]);
    await timers.fireNext();
    await new Promise((r) => setImmediate(r));
    expect(reasons).toHaveLength(3);
    expect(timers.timers.filter((t) => !t.cancelled)).toHaveLength(0); // success: no more retries
    expect(logger.records().filter((r) => r.msg === 'worker.retry_scheduled')).toHaveLength(2);
    await worker.stop(1000);
  });

  it('does not schedule a retry that would start within 5 minutes of the next scheduled run', async () => {
    const timers = manualTimers();
    const worker = createWorker({
      schedule: '0 7 * * *',
      timeZone: 'UTC',
      logger: recordingLogger(),
      now: () => new Date(),
      retryDelaysMs: [25 * 3_600_000],
      setTimer: timers.setTimer,
      runDue: async () => outcome('failed'),
    });
    await worker.start();
    await worker.tick('schedule');
    await new Promise((r) => setImmediate(r));
    expect(timers.timers).toHaveLength(0);
    await worker.stop(1000);
  });

  it('never runs two at once: a tick while a run is in flight is skipped', async () => {
    let release!: () => void;
    let runs = 0;
    const worker = createWorker({
      schedule: '0 7 * * *',
      timeZone: 'UTC',
      logger: recordingLogger(),
      now: () => new Date('2025-03-10T12:00:00Z'),
      runDue: () => {
        runs++;
        return new Promise<RunOutcome>((r) => (release = () => r(outcome('ok'))));
      },
    });
    await worker.start();
    const first = worker.tick('schedule');
    expect(await worker.tick('missed')).toBeNull();
    release();
    await first;
    expect(runs).toBe(1);
    await worker.stop(1000);
  });

  it('catches up at start-up when the scheduled time before the injected now is past the cursor, and only then', async () => {
    const started = async (cursor: string) => {
      const reasons: string[] = [];
      const logger = recordingLogger();
      const worker = createWorker({
        schedule: '0 7 * * *',
        timeZone: 'UTC',
        logger,
        now: () => new Date('2025-03-10T08:00:00Z'),
        readCursor: async () => new Date(cursor),
        runDue: async () => {
          reasons.push('run');
          return outcome('ok');
        },
      });
      await worker.start();
      await new Promise((r) => setImmediate(r));
      await worker.stop(1000);
      return { runs: reasons.length, catchUp: logger.records().filter((r) => r.msg === 'worker.catch_up') };
    };
    const missed = await started('2025-03-09T07:00:00Z');
    expect(missed.runs).toBe(1);
    expect(missed.catchUp).toEqual([expect.objectContaining({ missedScheduledTime: '2025-03-10T07:00:00.000Z' })]);
    expect(await started('2025-03-10T07:00:00Z')).toEqual({ runs: 0, catchUp: [] });
  });

  it('finds the last scheduled time before now (for start-up catch-up)', () => {
    const match = (d: Date) => d.getUTCHours() === 7 && d.getUTCMinutes() === 0;
    expect(previousScheduledTime({ match }, new Date('2025-03-10T06:59:00Z'))).toEqual(new Date('2025-03-09T07:00:00Z'));
    expect(previousScheduledTime({ match }, new Date('2025-03-10T07:00:40Z'))).toEqual(new Date('2025-03-10T07:00:00Z'));
  });
});

describe('heartbeat', () => {
  it('pings the URL on success and URL/fail on failure; an unreachable monitor is only a warning', async () => {
    nock.disableNetConnect();
    const bodies: string[] = [];
    const scope = nock('https://hc-ping.example.test')
      .post('/abc-123', (b: string) => bodies.push(b) > 0)
      .reply(200, 'OK')
      .post('/abc-123/fail', (b: string) => bodies.push(b) > 0)
      .reply(200, 'OK');
    const logger = recordingLogger();
    const hb = createHeartbeat({ url: 'https://hc-ping.example.test/abc-123', logger });
    await hb.ping('success', 'ok: 1 window(s)');
    await hb.ping('fail', 'window X failed: LastPass did not answer');
    scope.done();
    expect(bodies).toEqual(['ok: 1 window(s)', 'window X failed: LastPass did not answer']);
    nock('https://hc-ping.example.test')
      .post('/abc-123')
      .replyWithError(Object.assign(new Error('down'), { code: 'ECONNREFUSED' }));
    await hb.ping('success', 'x');
    expect(logger.records().some((r) => r.msg === 'heartbeat.unreachable' && r.level === 'warn')).toBe(true);
    nock.enableNetConnect();
  });
});

describe('health endpoint', () => {
  it('serves GET /healthz as JSON and 404 elsewhere', async () => {
    const server = await startHealthServer({
      port: 0,
      host: '127.0.0.1',
      status: async () => ({
        status: 'ok',
        lastSuccessAt: '2025-03-10T07:00:05.000Z',
        coveredUntil: '2025-03-10T07:00:00.000Z',
        nextRun: '2025-03-11T07:00:00.000Z',
        consecutiveFailures: 0,
        running: false,
        version: '1.2.3',
      }),
    });
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'ok', nextRun: '2025-03-11T07:00:00.000Z', consecutiveFailures: 0 });
      expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
