/**
 * `/healthz` as monitors read it: the status code. 503 when the last run failed or the coverage is stale
 * (two scheduled runs delivered nothing), 200 otherwise, the same JSON body either way; HEAD gives the same
 * status without a body. Judged from a real file store and the real scheduler's schedule.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type HealthServer, startHealthServer } from '../src/adapters/health-server.js';
import { workerHealth } from '../src/commands/worker.js';
import { HEALTH_GRACE_MS, healthVerdict } from '../src/core/health-verdict.js';
import type { Store } from '../src/ports.js';
import { createFileStore } from '../src/store/file-store.js';
import { createWorker, type Worker } from '../src/worker.js';
import { thisProcess } from './support/process-info.js';
import { recordingLogger } from './support/recording-logger.js';

describe('the health verdict', () => {
  const secondLast = new Date('2025-03-09T07:00:00Z');
  it('failing when the last run failed, whatever the coverage', () => {
    expect(healthVerdict({ consecutiveFailures: 1, cursor: '2025-03-10T07:00:00Z', secondLastScheduled: secondLast })).toMatchObject({
      healthy: false,
      status: 'failing',
    });
  });
  it('stale when the coverage ends before the second last scheduled run by more than the grace', () => {
    const justStale = new Date(secondLast.getTime() - HEALTH_GRACE_MS - 1).toISOString();
    const justFine = new Date(secondLast.getTime() - HEALTH_GRACE_MS).toISOString();
    expect(healthVerdict({ consecutiveFailures: 0, cursor: justStale, secondLastScheduled: secondLast })).toMatchObject({
      healthy: false,
      status: 'stale',
      reason: expect.stringContaining('two scheduled runs delivered nothing'),
    });
    expect(healthVerdict({ consecutiveFailures: 0, cursor: justFine, secondLastScheduled: secondLast }).healthy).toBe(true);
  });
  it('healthy before the first delivery (nothing to judge) and when no schedule time is in reach', () => {
    expect(healthVerdict({ consecutiveFailures: 0, cursor: null, secondLastScheduled: secondLast }).status).toBe('ok');
    expect(healthVerdict({ consecutiveFailures: 0, cursor: '2020-01-01T00:00:00Z', secondLastScheduled: null }).status).toBe('ok');
  });
});

/** A raw request (fetch cannot show a HEAD's absent body as bytes). */
function call(
  port: number,
  method: string,
  path = '/healthz',
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('/healthz of the worker', () => {
  // 2025-03-12 10:00 UTC; the schedule runs daily at 07:00, so the second last scheduled time is 03-11 07:00.
  const NOW = new Date('2025-03-12T10:00:00Z');
  let dir: string;
  let store: Store;
  let worker: Worker;
  let server: HealthServer;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lpad-health-'));
    store = createFileStore({ dir, now: () => NOW, processInfo: thisProcess() });
    await store.init();
    worker = createWorker({
      schedule: '0 7 * * *',
      timeZone: 'UTC',
      logger: recordingLogger(),
      now: () => NOW,
      runDue: async () => ({ status: 'ok', windows: [], skipped: null }),
    });
    await worker.start();
    server = await startHealthServer({ port: 0, host: '127.0.0.1', status: () => workerHealth(store, worker, NOW) });
  });
  afterEach(async () => {
    await server.close();
    await worker.stop(0);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const deliver = (end: string) =>
    store.completeDelivery({
      key: `w-${end}`,
      start: new Date(Date.parse(end) - 86_400_000).toISOString(),
      end,
      deliveredAt: end,
      messageId: 'm',
      marker: 'm',
      summary: { eventsReviewed: 1, high: 0, medium: 0, low: 0, info: 1, byCategory: {} },
    });

  it('200 with the JSON body when this morning was delivered; HEAD: the same status and headers, no body', async () => {
    await deliver('2025-03-12T07:00:03Z');
    const get = await call(server.port, 'GET');
    expect(get.status).toBe(200);
    const body = JSON.parse(get.body) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: 'ok',
      reason: null,
      coveredUntil: '2025-03-12T07:00:03.000Z',
      consecutiveFailures: 0,
      nextRun: expect.any(String),
      running: false,
    });
    const head = await call(server.port, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['content-type']).toBe('application/json');
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(get.body)));
    expect((await call(server.port, 'HEAD', '/elsewhere')).status).toBe(404);
    expect((await call(server.port, 'POST')).status).toBe(404);
  });

  it('one missed morning is still 200; two missed scheduled runs are 503 "stale" (GET and HEAD)', async () => {
    await deliver('2025-03-11T07:00:02Z'); // yesterday's run delivered, this morning's not (yet)
    expect((await call(server.port, 'GET')).status).toBe(200);
    await deliver('2025-03-10T07:00:02Z'); // an older window does not move the cursor back: still fine
    expect((await call(server.port, 'GET')).status).toBe(200);

    const dir2 = await mkdtemp(join(tmpdir(), 'lpad-health-'));
    const old = createFileStore({ dir: dir2, now: () => NOW, processInfo: thisProcess() });
    await old.init();
    await old.completeDelivery({
      key: 'old',
      start: '2025-03-09T07:00:00Z',
      end: '2025-03-10T07:00:02Z',
      deliveredAt: '2025-03-10T07:00:02Z',
      messageId: 'm',
      marker: 'm',
      summary: { eventsReviewed: 1, high: 0, medium: 0, low: 0, info: 1, byCategory: {} },
    });
    const staleServer = await startHealthServer({ port: 0, host: '127.0.0.1', status: () => workerHealth(old, worker, NOW) });
    try {
      const get = await call(staleServer.port, 'GET');
      expect(get.status).toBe(503);
      expect(JSON.parse(get.body)).toMatchObject({ status: 'stale', coveredUntil: '2025-03-10T07:00:02.000Z', consecutiveFailures: 0 });
      const head = await call(staleServer.port, 'HEAD');
      expect(head.status).toBe(503);
      expect(head.body).toBe('');
    } finally {
      await staleServer.close();
      await old.close();
      await rm(dir2, { recursive: true, force: true });
    }
  });

  it('503 "failing" as soon as the last run failed, 200 again after a delivery', async () => {
    await deliver('2025-03-12T07:00:03Z');
    await store.recordFailure({
      key: 'k',
      start: '2025-03-12T07:00:03Z',
      end: '2025-03-12T09:00:00Z',
      at: NOW.toISOString(),
      message: 'LastPass did not answer',
    });
    const failing = await call(server.port, 'GET');
    expect(failing.status).toBe(503);
    expect(JSON.parse(failing.body)).toMatchObject({ status: 'failing', consecutiveFailures: 1 });
    expect((await call(server.port, 'HEAD')).status).toBe(503);
    await deliver('2025-03-12T09:30:00Z');
    expect((await call(server.port, 'GET')).status).toBe(200);
  });
});
