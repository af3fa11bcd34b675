/**
 * The worker as one of N replicas (WORKER_REPLICAS=on, DATABASE_URL): every replica keeps the schedule
 * with node-cron, and on each scheduled (or missed, or caught-up) time enqueues one job per account in
 * the shared PostgreSQL queue (the `JobQueue` port, pg-boss), keyed by the account id and named after
 * the scheduled time. The queue lets one job per key run at a time in the whole deployment and at most
 * one more wait behind it, and queues one job per key and scheduled time ever, so N replicas enqueueing
 * the same scheduled time yield one run per account; whichever replica polls first runs it, at most
 * WORKER_CONCURRENCY at once per replica. An account's run covers all its due windows (windows come
 * from its state, as in the single worker), and a second job that finds nothing due sends nothing.
 *
 * A replica that dies mid-run stops heartbeating its job; the queue gives it to another replica within
 * `queue.takeoverBoundMs`, and the run there repairs from the store as any restart does (a send that
 * may have happened is repeated with the same marker and the "Possible duplicate" notice; the store's
 * run lock keeps two runs of one account apart). A run that ends `failed` is retried after
 * REPORT_RETRY_MINUTES as in the single worker, as a delayed job (any replica may take it); one that
 * found the account's run lock taken, a minute later. A handler that throws (a bug) has its job retried
 * by the queue at once, at most 5 times.
 *
 * The roll-up (ROLLUP_TO, several accounts): at each scheduled time every replica also enqueues one roll-up
 * job, its id derived from the scheduled time (N replicas make one job). It runs once every account's job
 * for that time has finished (asked of the queue) or `rollup.boundMs` after the scheduled time, whichever
 * comes first; until then it queues itself again `recheckMs` later and completes (nothing held open). It is
 * built from the stores (accounts/rollup-round.ts). A replica killed while running it: the queue gives it
 * to another (retried once), which sends it again, so it is sent at most twice, twice only when it may have
 * been sent.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { AccountRunner } from './accounts/account-runner.js';
import type { AccountRunRecord } from './accounts/local-runner.js';
import { type RoundAccount, roundRecords } from './accounts/rollup-round.js';
import type { RunState } from './core/run-state.js';
import { describeError } from './errors.js';
import type { Logger } from './logger.js';
import type { Clock, JobQueue, QueuedJob } from './ports.js';
import { cachedPreviousRun, previousScheduledTime, type Worker } from './worker.js';

/** A job that found its account's run lock taken is run again this much later. */
const LOCKED_RETRY_MS = 60_000;
/** The roll-up job's `accountId` (not an account: its key is `rollup <scheduled time>`). */
const ROLLUP_JOB = '(rollup)';

/** The `once` name of an account's job for a scheduled time (its id derives from it and the account). */
export const scheduledOnce = (scheduledFor: Date | string): string =>
  `scheduled ${typeof scheduledFor === 'string' ? scheduledFor : scheduledFor.toISOString()}`;

export interface ReplicaJob {
  accountId: string;
  /** schedule, missed, catch-up, retry. */
  reason: string;
  /** Epoch ms retries give up at (the next scheduled run less a minute), when known. */
  deadline?: number;
  /** Index into the retry delays of the next retry. */
  attempt: number;
  /** Set on the roll-up job: the scheduled time (ISO) whose round it reports. */
  rollupFor?: string;
}

/** The roll-up in replica mode (ROLLUP_TO and several accounts). */
export interface ReplicaRollup {
  /** An account's state, from its store. */
  readState(accountId: string): Promise<RunState>;
  /** Renders and sends the roll-up (never throws: a roll-up that cannot be sent is logged). */
  send(records: AccountRunRecord[], scheduledFor: Date): Promise<void>;
  /** Sent this long after the scheduled time even if some account's job has not finished. */
  boundMs: number;
  /** The wait before checking again (default 15 s). */
  recheckMs?: number;
}

export interface ReplicaWorkerOptions {
  schedule: string;
  timeZone: string;
  queue: JobQueue<ReplicaJob>;
  runner: AccountRunner;
  /** WORKER_CONCURRENCY: jobs run at once in this replica. */
  concurrency: number;
  logger: Logger;
  now: Clock;
  /** End of an account's delivered coverage (for the catch-up at start); absent: no catch-up for it. */
  readCursor?: (accountId: string) => Promise<Date | null>;
  /** After a failed run: retry after these delays, one after the other, while well before the next scheduled run. */
  retryDelaysMs?: readonly number[];
  /** The roll-up: one per scheduled time for the deployment; absent, none is sent. */
  rollup?: ReplicaRollup;
}

export type ReplicaWorker = Pick<Worker, 'start' | 'stop' | 'nextRun' | 'previousRun' | 'busy'> & {
  /**
   * Enqueues one job per account now; resolves with how many were queued (the rest already wait, or, with
   * `scheduledFor`, were already queued for that scheduled time by some replica).
   */
  tick(reason: string, scheduledFor?: Date): Promise<number>;
};

export function createReplicaWorker(options: ReplicaWorkerOptions): ReplicaWorker {
  const { logger, queue, runner, now } = options;
  let task: ScheduledTask | null = null;
  let running = 0;

  const deadline = (): number | undefined => {
    const next = task?.getNextRun() ?? null;
    return next ? next.getTime() - 60_000 : undefined;
  };

  const enqueueAccount = async (
    accountId: string,
    job: ReplicaJob,
    options: { startAfterMs?: number; scheduledFor?: Date } = {},
  ): Promise<boolean> => {
    const id = await queue.enqueue(accountId, job, {
      ...(options.startAfterMs ? { startAfterMs: options.startAfterMs } : {}),
      // Every replica enqueues each scheduled time: one job per account and scheduled time, ever.
      ...(options.scheduledFor ? { once: scheduledOnce(options.scheduledFor) } : {}),
    });
    logger.info(id ? 'replica.job_queued' : 'replica.job_already_queued', {
      accountId,
      reason: job.reason,
      jobId: id,
      scheduledFor: options.scheduledFor?.toISOString() ?? null,
      startAfterMs: options.startAfterMs ?? null,
    });
    return id !== null;
  };

  const rollupKey = (iso: string) => `rollup ${iso}`;
  /** Every replica enqueues it; its id is derived from the scheduled time, so there is one per time. */
  const enqueueRollup = async (scheduledFor: Date, reason: string): Promise<void> => {
    if (!options.rollup || runner.accounts().length < 2) return;
    const iso = scheduledFor.toISOString();
    try {
      const job: ReplicaJob = { accountId: ROLLUP_JOB, reason, attempt: 0, rollupFor: iso };
      // Retried once: a replica killed while running it has it taken over (and it may be sent again).
      const id = await queue.enqueue(rollupKey(iso), job, { once: rollupKey(iso), retryLimit: 1 });
      logger.info(id ? 'rollup.job_queued' : 'rollup.job_already_queued', { scheduledFor: iso, jobId: id });
    } catch (error) {
      logger.error('rollup.enqueue_failed', { scheduledFor: iso, error: describeError(error) });
    }
  };

  const handleRollup = async (job: QueuedJob<ReplicaJob>, rollup: ReplicaRollup): Promise<void> => {
    const iso = job.data.rollupFor!;
    const scheduledFor = new Date(iso);
    const unfinished: string[] = [];
    for (const account of runner.accounts()) {
      const state = await queue.onceState(account.id, scheduledOnce(iso));
      // No job (its insert was dropped behind a waiting one, or it was not behind at a catch-up): its store says.
      if (state === 'created' || state === 'retry' || state === 'active') unfinished.push(account.id);
    }
    const boundPassed = now().getTime() >= scheduledFor.getTime() + rollup.boundMs;
    if (unfinished.length > 0 && !boundPassed) {
      const recheckMs = rollup.recheckMs ?? 15_000;
      await queue.enqueue(rollupKey(iso), { ...job.data, reason: 'waiting' }, { startAfterMs: recheckMs, retryLimit: 1 });
      logger.info('rollup.waiting', { scheduledFor: iso, unfinished, recheckMs });
      return;
    }
    if (unfinished.length > 0) logger.warn('rollup.bound_passed', { scheduledFor: iso, unfinished, boundMs: rollup.boundMs });
    if (job.retryCount > 0) {
      logger.warn('rollup.taken_over', { scheduledFor: iso, note: 'the replica that ran it died: it may have been sent already' });
    }
    const accounts: RoundAccount[] = [];
    for (const account of runner.accounts()) {
      try {
        accounts.push({ id: account.id, state: await rollup.readState(account.id) });
      } catch (error) {
        accounts.push({ id: account.id, state: null, readError: describeError(error) });
      }
    }
    await rollup.send(roundRecords(scheduledFor, accounts, now()), scheduledFor);
  };

  const tick = async (reason: string, scheduledFor?: Date): Promise<number> => {
    let queued = 0;
    const due = deadline();
    for (const account of runner.accounts()) {
      try {
        const job: ReplicaJob = { accountId: account.id, reason, attempt: 0, ...(due !== undefined ? { deadline: due } : {}) };
        if (await enqueueAccount(account.id, job, scheduledFor ? { scheduledFor } : {})) queued++;
      } catch (error) {
        logger.error('replica.enqueue_failed', {
          accountId: account.id,
          reason,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
    if (scheduledFor) await enqueueRollup(scheduledFor, reason);
    return queued;
  };

  const scheduleRetry = async (job: ReplicaJob): Promise<void> => {
    const delay = (options.retryDelaysMs ?? [])[job.attempt];
    if (delay === undefined) return;
    if (job.deadline !== undefined && now().getTime() + delay > job.deadline + 60_000 - 5 * 60_000) {
      logger.warn('replica.retry_not_scheduled', { accountId: job.accountId, reason: 'the next scheduled run comes first' });
      return;
    }
    const retry: ReplicaJob = { ...job, reason: 'retry', attempt: job.attempt + 1 };
    await enqueueAccount(job.accountId, retry, { startAfterMs: delay });
  };

  const handle = async (job: QueuedJob<ReplicaJob>): Promise<void> => {
    if (job.data.rollupFor !== undefined) {
      if (options.rollup) await handleRollup(job, options.rollup);
      else logger.warn('rollup.not_configured', { scheduledFor: job.data.rollupFor, note: 'this replica has no ROLLUP_TO: dropped' });
      return;
    }
    const { accountId } = job.data;
    running++;
    const started = now().getTime();
    logger.info('replica.job_start', {
      jobId: job.id,
      accountId,
      reason: job.data.reason,
      takenOver: job.retryCount > 0,
      retryCount: job.retryCount,
    });
    try {
      const outcome = await runner.run(accountId, {
        ...(job.data.deadline !== undefined ? { deadline: job.data.deadline } : {}),
        signal: job.signal,
      });
      logger.info('replica.job_end', {
        jobId: job.id,
        accountId,
        status: outcome.status,
        windows: outcome.windows.length,
        ms: now().getTime() - started,
      });
      // Another run of this account holds its lock (a `run` by hand, or a job given up as hung that still
      // runs): run it again in a minute, when that run is likely over (it covers what is due meanwhile).
      if (outcome.status === 'locked') {
        await enqueueAccount(accountId, { ...job.data, reason: 'locked' }, { startAfterMs: LOCKED_RETRY_MS });
      }
      if (outcome.status === 'failed') await scheduleRetry(job.data);
    } finally {
      running--;
    }
  };

  return {
    async start() {
      await queue.start();
      await queue.work(options.concurrency, handle);
      // The scheduled time a tick is for: the latest matching minute (node-cron fires at its start).
      const scheduledTime = () => (task ? (previousScheduledTime(task, now(), 1) ?? undefined) : undefined);
      task = cron.schedule(options.schedule, () => void tick('schedule', scheduledTime()), {
        timezone: options.timeZone,
        name: 'lastpass-audit-digest-replica',
        noOverlap: true,
        suppressMissedWarning: true,
      });
      task.on('execution:missed', (ctx) => {
        logger.warn('worker.tick_missed', { scheduledFor: ctx.date.toISOString() });
        void tick('missed', new Date(Math.floor(ctx.date.getTime() / 60_000) * 60_000));
      });
      logger.info('worker.scheduled', {
        mode: 'replica',
        schedule: options.schedule,
        timeZone: options.timeZone,
        concurrency: options.concurrency,
        takeoverBoundSeconds: queue.takeoverBoundMs / 1000,
        nextRun: task.getNextRun()?.toISOString() ?? null,
      });
      if (!options.readCursor) return;
      const previous = previousScheduledTime(task, now());
      if (!previous) return;
      const due = deadline();
      let caughtUp = false;
      for (const account of runner.accounts()) {
        const cursor = await options.readCursor(account.id);
        if (cursor && previous.getTime() > cursor.getTime() + 60_000) {
          logger.warn('worker.catch_up', {
            accountId: account.id,
            missedScheduledTime: previous.toISOString(),
            cursor: cursor.toISOString(),
          });
          await enqueueAccount(
            account.id,
            { accountId: account.id, reason: 'catch-up', attempt: 0, ...(due !== undefined ? { deadline: due } : {}) },
            { scheduledFor: previous },
          );
          caughtUp = true;
        }
      }
      if (caughtUp) await enqueueRollup(previous, 'catch-up');
    },
    async stop(graceMs) {
      if (task) {
        await task.stop();
        await task.destroy();
        task = null;
      }
      if (running > 0) logger.info('worker.waiting_for_run', { graceMs, running });
      await queue.stop(graceMs);
      return running === 0;
    },
    tick,
    nextRun: () => task?.getNextRun() ?? null,
    previousRun: cachedPreviousRun(() => task),
    busy: () => running > 0,
  };
}
