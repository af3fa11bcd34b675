/**
 * The long-running scheduler: node-cron fires `tick` on REPORT_SCHEDULE in REPORT_TIMEZONE. Never two
 * runs at once (in this process: a flag; across processes: the store's lock inside runReport). A tick that
 * node-cron reports as missed (the VM was paused, the event loop blocked) runs at once, and at start-up a
 * scheduled time that passed while the worker was down is caught up. Windows come from state, so a late
 * or extra tick never skips or repeats a window.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from './logger.js';
import type { Clock } from './ports.js';
import type { RunOutcome } from './run-report.js';

export interface WorkerOptions {
  schedule: string;
  timeZone: string;
  /** Runs what is due; `deadline` is the next scheduled time (retries give up before it). */
  runDue: (deadline: number | undefined) => Promise<RunOutcome>;
  logger: Logger;
  /** The clock (main.ts hands in the real one). */
  now: Clock;
  /** End of the last delivered window, to decide whether a scheduled time was missed while down. */
  readCursor?: () => Promise<Date | null>;
  /**
   * After a failed run, try again after these delays (one after the other) as long as the retry starts
   * well before the next scheduled run, so a transient outage at 07:00 still yields a digest that morning.
   */
  retryDelaysMs?: readonly number[];
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
}

export interface Worker {
  start(): Promise<void>;
  /** Stops scheduling and waits (at most `graceMs`) for an in-flight run. Resolves true when it finished. */
  stop(graceMs: number): Promise<boolean>;
  /** Runs now unless a run is in flight (then returns null). */
  tick(reason: string): Promise<RunOutcome | null>;
  nextRun(): Date | null;
  /** The most recent scheduled time at or before `at` (within 16 days), or null; null before start(). */
  previousRun(at: Date): Date | null;
  busy(): boolean;
}

/** The most recent time at or before `now` that matches the schedule, scanning back at most `maxDays`. */
export function previousScheduledTime(task: Pick<ScheduledTask, 'match'>, now: Date, maxDays = 8): Date | null {
  const t = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  for (let i = 0; i < maxDays * 1440; i++) {
    const candidate = new Date(t.getTime() - i * 60_000);
    if (task.match(candidate)) return candidate;
  }
  return null;
}

/**
 * `Worker.previousRun` for a schedule's task (null while stopped), cached per minute: health probes ask every
 * few seconds and the answer changes at most once a minute. Shared by the single worker and a replica.
 */
export function cachedPreviousRun(task: () => Pick<ScheduledTask, 'match'> | null): (at: Date) => Date | null {
  const cache = new Map<number, Date | null>();
  return (at) => {
    const current = task();
    if (!current) return null;
    const minute = Math.floor(at.getTime() / 60_000);
    const hit = cache.get(minute);
    if (hit !== undefined) return hit;
    const found = previousScheduledTime(current, at, 16);
    if (cache.size > 16) cache.clear();
    cache.set(minute, found);
    return found;
  };
}

export function createWorker(options: WorkerOptions): Worker {
  const { logger } = options;
  const { now } = options;
  let task: ScheduledTask | null = null;
  let inFlight: Promise<RunOutcome | null> | null = null;
  let retryIndex = 0;
  let retryTimer: { cancel(): void } | null = null;
  let stopped = false;
  const setTimer =
    options.setTimer ??
    ((fn: () => void, ms: number) => {
      const t = setTimeout(fn, ms);
      return { cancel: () => clearTimeout(t) };
    });

  const scheduleRetry = () => {
    const delays = options.retryDelaysMs ?? [];
    const delay = delays[retryIndex];
    const next = task?.getNextRun() ?? null;
    if (stopped || delay === undefined) return;
    if (next && now().getTime() + delay > next.getTime() - 5 * 60_000) {
      logger.warn('worker.retry_not_scheduled', { reason: 'the next scheduled run comes first', nextRun: next.toISOString() });
      return;
    }
    retryIndex++;
    logger.warn('worker.retry_scheduled', { inMs: delay, attempt: retryIndex, at: new Date(now().getTime() + delay).toISOString() });
    retryTimer?.cancel();
    retryTimer = setTimer(() => {
      retryTimer = null;
      void tick('retry');
    }, delay);
  };

  const tick = (reason: string): Promise<RunOutcome | null> => {
    if (inFlight) {
      logger.warn('worker.tick_skipped_busy', { reason });
      return Promise.resolve(null);
    }
    const next = task?.getNextRun() ?? null;
    logger.info('worker.run_start', { reason });
    inFlight = options
      .runDue(next ? next.getTime() - 60_000 : undefined)
      .then((outcome) => {
        logger.info('worker.run_end', {
          reason,
          status: outcome.status,
          windows: outcome.windows.length,
          nextRun: task?.getNextRun()?.toISOString() ?? null,
        });
        return outcome;
      })
      .catch((error: unknown) => {
        logger.error('worker.run_crashed', { reason, error: error instanceof Error ? error.message : String(error) });
        return null;
      })
      .finally(() => {
        inFlight = null;
      });
    void inFlight.then((outcome) => {
      if (outcome === null || outcome.status === 'failed') scheduleRetry();
      else if (outcome.status !== 'locked') retryIndex = 0;
    });
    return inFlight;
  };

  return {
    async start() {
      task = cron.schedule(options.schedule, () => tick('schedule'), {
        timezone: options.timeZone,
        name: 'lastpass-audit-digest',
        noOverlap: true,
        suppressMissedWarning: true,
      });
      task.on('execution:missed', (ctx) => {
        logger.warn('worker.tick_missed', { scheduledFor: ctx.date.toISOString() });
        void tick('missed');
      });
      logger.info('worker.scheduled', {
        schedule: options.schedule,
        timeZone: options.timeZone,
        nextRun: task.getNextRun()?.toISOString() ?? null,
      });
      if (options.readCursor) {
        const cursor = await options.readCursor();
        const previous = previousScheduledTime(task, now());
        if (cursor && previous && previous.getTime() > cursor.getTime() + 60_000) {
          logger.warn('worker.catch_up', { missedScheduledTime: previous.toISOString(), cursor: cursor.toISOString() });
          void tick('catch-up');
        }
      }
    },
    async stop(graceMs) {
      stopped = true;
      retryTimer?.cancel();
      retryTimer = null;
      if (task) {
        await task.stop();
        await task.destroy();
      }
      if (!inFlight) return true;
      logger.info('worker.waiting_for_run', { graceMs });
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        inFlight.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), graceMs);
        }),
      ]);
      if (timer) clearTimeout(timer);
      return finished;
    },
    tick,
    nextRun: () => task?.getNextRun() ?? null,
    previousRun: cachedPreviousRun(() => task),
    busy: () => inFlight !== null,
  };
}
