/**
 * The replicas' job queue (the `JobQueue` port) on pg-boss 12, in its own schema of DATABASE_URL.
 *
 * One pg-boss queue with the `stately` policy: per singleton key (the account id) at most one job is
 * active, one queued and one waiting to be retried, so a key is run by exactly one replica at a time and
 * a tick that comes while a run is active waits behind it instead of being lost. A job enqueued `once`
 * (per scheduled time) gets an id derived from key and name, so the same scheduled time enqueued by every
 * replica is one job even when the first is already done. Each replica's handler
 * heartbeats its job (pg-boss `heartbeatSeconds`, refreshed every half of it); a replica that dies stops
 * heartbeating, pg-boss's supervisor (every `monitorSeconds` in every replica) fails the job and it is
 * retried by whichever replica polls first. So a dead replica's job is claimed again within
 * `heartbeatSeconds + 2 × monitorSeconds + pollSeconds` (`takeoverBoundMs`), which `queueTimings` keeps
 * at or under WORKER_TAKEOVER_SECONDS.
 */
import { createHash } from 'node:crypto';
import { PgBoss } from 'pg-boss';
import type { Logger } from '../../logger.js';
import type { JobQueue, QueuedJob } from '../../ports.js';

export const QUEUE_SCHEMA = 'lastpass_audit_digest_queue';
export const QUEUE_NAME = 'account-run';

export interface QueueTimings {
  heartbeatSeconds: number;
  monitorSeconds: number;
  pollSeconds: number;
  /** heartbeat + 2 × monitor + poll, in ms. */
  boundMs: number;
}

/** pg-boss's intervals for a takeover bound of `takeoverSeconds` (≥ 15; pg-boss wants a heartbeat ≥ 10 s). */
export function queueTimings(takeoverSeconds: number): QueueTimings {
  const heartbeatSeconds = Math.max(10, Math.floor(takeoverSeconds / 2));
  const pollSeconds = takeoverSeconds < 60 ? 1 : 2;
  const monitorSeconds = Math.max(1, Math.floor((takeoverSeconds - heartbeatSeconds - pollSeconds) / 2));
  return {
    heartbeatSeconds,
    monitorSeconds,
    pollSeconds,
    boundMs: (heartbeatSeconds + 2 * monitorSeconds + pollSeconds) * 1000,
  };
}

/** A UUID that is a function of the text (pg-boss job ids are UUIDs; a second insert of one is dropped). */
export function onceId(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  const variant = ((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The id of the job of `key` enqueued `once` with this name. */
const jobIdOf = (key: string, once: string): string => onceId(`${QUEUE_NAME}\u0000${key}\u0000${once}`);

export interface PgBossQueueOptions {
  connectionString: string;
  logger: Logger;
  /** WORKER_TAKEOVER_SECONDS. */
  takeoverSeconds: number;
  /** How long one job may run before it is given up and retried (a hung run): the run deadline and a margin. */
  expireInSeconds: number;
  /** Tries of one job before it is failed for good (a takeover counts as one). */
  retryLimit?: number;
  /** Seconds before a job whose handler threw (or whose replica died) is run again: 0, a takeover waits for nothing more. */
  retryDelaySeconds?: number;
  /** Connections of this replica's pg-boss pool. */
  maxConnections?: number;
}

export function createPgBossQueue<T extends object>(options: PgBossQueueOptions): JobQueue<T> {
  const timings = queueTimings(options.takeoverSeconds);
  const { logger } = options;
  const boss = new PgBoss({
    connectionString: options.connectionString,
    schema: QUEUE_SCHEMA,
    application_name: 'lastpass-audit-digest-queue',
    max: options.maxConnections ?? 4,
    superviseIntervalSeconds: timings.monitorSeconds,
    monitorIntervalSeconds: timings.monitorSeconds,
    // pg-boss's own cron is not used: each replica's node-cron enqueues (keys make that idempotent).
    schedule: false,
  });
  // pg-boss reports background failures (a lost connection while polling) as events; it keeps retrying.
  boss.on('error', (error) => logger.error('queue.error', { error: error.message }));
  boss.on('warning', (warning) => logger.warn('queue.warning', { warning: warning.message }));
  let started = false;

  return {
    takeoverBoundMs: timings.boundMs,
    async start() {
      await boss.start();
      started = true;
      const queue = {
        policy: 'stately' as const,
        heartbeatSeconds: timings.heartbeatSeconds,
        expireInSeconds: options.expireInSeconds,
        retryLimit: options.retryLimit ?? 5,
        retryDelay: options.retryDelaySeconds ?? 0,
        // Finished jobs are kept a week, for `SELECT … FROM lastpass_audit_digest_queue.job` when asking what ran where.
        deleteAfterSeconds: 7 * 86_400,
      };
      const existing = await boss.getQueue(QUEUE_NAME);
      if (!existing) {
        try {
          await boss.createQueue(QUEUE_NAME, queue);
        } catch (error) {
          // Replicas starting together: another one created it first.
          if (!(await boss.getQueue(QUEUE_NAME))) throw error;
        }
      } else {
        // Retries and expiry follow this replica's settings (the heartbeat is set on each job, see enqueue).
        await boss.updateQueue(QUEUE_NAME, {
          expireInSeconds: queue.expireInSeconds,
          retryLimit: queue.retryLimit,
          retryDelay: queue.retryDelay,
          deleteAfterSeconds: queue.deleteAfterSeconds,
        });
      }
      logger.info('queue.started', {
        engine: 'pg-boss',
        schema: QUEUE_SCHEMA,
        heartbeatSeconds: existing?.heartbeatSeconds ?? timings.heartbeatSeconds,
        takeoverBoundSeconds: timings.boundMs / 1000,
      });
    },
    async enqueue(key, data, enqueueOptions) {
      // A number is seconds from now, on the database's clock.
      const startAfter = enqueueOptions?.startAfterMs ? Math.ceil(enqueueOptions.startAfterMs / 1000) : undefined;
      // `once`: the job's id is derived from it, and pg-boss drops a second insert of an id it keeps.
      const id = enqueueOptions?.once ? jobIdOf(key, enqueueOptions.once) : undefined;
      // Heartbeat and expiry on each job too: the queue's heartbeat is fixed when it is created, and a changed
      // WORKER_TAKEOVER_SECONDS must hold for the jobs enqueued from then on.
      return boss.send(QUEUE_NAME, data, {
        singletonKey: key,
        heartbeatSeconds: timings.heartbeatSeconds,
        expireInSeconds: options.expireInSeconds,
        ...(startAfter ? { startAfter } : {}),
        ...(id ? { id } : {}),
        ...(enqueueOptions?.retryLimit !== undefined ? { retryLimit: enqueueOptions.retryLimit } : {}),
      });
    },
    async onceState(key, once) {
      const job = await boss.getJobById(QUEUE_NAME, jobIdOf(key, once));
      return job ? String(job.state) : null;
    },
    async work(concurrency, handler) {
      await boss.work<T>(
        QUEUE_NAME,
        { localConcurrency: concurrency, batchSize: 1, pollingIntervalSeconds: timings.pollSeconds },
        async (jobs) => {
          for (const job of jobs) {
            const queued: QueuedJob<T> = { id: job.id, data: job.data, retryCount: job.retryCount, signal: job.signal };
            await handler(queued);
          }
        },
      );
    },
    async stop(graceMs) {
      if (!started) return;
      started = false;
      await boss.stop({ graceful: true, timeout: Math.max(1000, graceMs), close: true });
    },
  };
}
