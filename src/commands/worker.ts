/**
 * `worker`: the long-running scheduler (src/worker.ts) with the real adapters, the heartbeat and the
 * optional health endpoint; SIGTERM/SIGINT stop it gracefully (an in-flight run gets 30 s).
 */
import { parseArgs } from 'node:util';
import { startHealthServer, type HealthServer, type HealthStatus } from '../adapters/health-server.js';
import { createHeartbeat } from '../adapters/notify/heartbeat.js';
import { loadConfig } from '../config/load-config.js';
import { describeError } from '../errors.js';
import { VERSION } from '../version.js';
import { healthVerdict } from '../core/health-verdict.js';
import type { Store } from '../ports.js';
import { createWorker, type Worker } from '../worker.js';
import { runWithHeartbeat } from './heartbeat-run.js';
import { EXIT_FAILED, EXIT_OK, type CommandIo, type ExitCode, type StopSignal } from './io.js';
import { createCommandLogger, createRunDeps, ephemeralDiskWarning, openStore } from './wiring.js';

const STOP_GRACE_MS = 30_000;

export async function workerCommand(args: string[], io: CommandIo): Promise<ExitCode> {
  parseArgs({ args, options: {}, strict: true });
  const { config, warnings } = loadConfig(io.env);
  const logger = createCommandLogger(io, config.logLevel, config.secrets);
  for (const w of warnings) logger.warn('config.warning', { warning: w });
  const ephemeral = ephemeralDiskWarning(io.env, config);
  if (ephemeral) logger.error('storage.ephemeral_disk', { warning: ephemeral });
  const store = openStore(io, config, logger);
  await store.init();
  const deps = createRunDeps(io, config, logger, store, false);
  const heartbeat = config.worker.heartbeatUrl
    ? createHeartbeat({ url: config.worker.heartbeatUrl, logger, secrets: config.secrets })
    : null;
  const worker = createWorker({
    schedule: config.report.schedule,
    timeZone: config.report.timeZone,
    logger,
    now: io.now,
    retryDelaysMs: config.worker.retryDelaysMs,
    runDue: (deadline) => runWithHeartbeat(deps, deadline === undefined ? {} : { deadline }, heartbeat),
    readCursor: async () => {
      const state = await store.readState();
      return state.cursor ? new Date(state.cursor) : null;
    },
  });
  let health: HealthServer | null = null;
  if (config.worker.port !== null) {
    health = await startHealthServer({
      port: config.worker.port,
      status: () => workerHealth(store, worker, io.now()),
    });
    logger.info('health.listening', { port: health.port, path: '/healthz' });
  }
  // The stop signals are heard from before the start: a SIGTERM during start-up (catch-up run included)
  // stops the worker gracefully once it has started.
  return new Promise<ExitCode>((resolvePromise, rejectPromise) => {
    let stopping = false;
    const removers: (() => void)[] = [];
    const release = async () => {
      await health?.close();
      await deps.evidence?.close();
      await store.close();
    };
    let started: Promise<void> = Promise.resolve();
    const shutdown = (signal: StopSignal) => {
      if (stopping) return;
      stopping = true;
      for (const remove of removers) remove();
      logger.info('worker.stopping', { signal });
      void started
        .then(() => worker.stop(STOP_GRACE_MS))
        .then(async (finished) => {
          if (!finished) logger.warn('worker.stopped_with_run_in_flight', {});
          await release();
          logger.info('worker.stopped', { signal });
          resolvePromise(EXIT_OK);
        })
        .catch((error: unknown) => {
          logger.error('worker.stop_failed', { error: describeError(error) });
          resolvePromise(EXIT_FAILED);
        });
    };
    removers.push(io.onSignal('SIGTERM', () => shutdown('SIGTERM')));
    removers.push(io.onSignal('SIGINT', () => shutdown('SIGINT')));
    started = worker.start();
    started.catch(async (error: unknown) => {
      if (stopping) return; // the shutdown reports it
      stopping = true;
      for (const remove of removers) remove();
      await worker.stop(0).catch(() => false);
      await release().catch(() => undefined);
      rejectPromise(error);
    });
  });
}

/** What /healthz says of this worker now: the store's state judged against the schedule (core/health-verdict.ts). */
export async function workerHealth(
  store: Pick<Store, 'readState'>,
  worker: Pick<Worker, 'nextRun' | 'previousRun' | 'busy'>,
  now: Date,
): Promise<HealthStatus> {
  const state = await store.readState();
  const last = worker.previousRun(now);
  const secondLast = last ? worker.previousRun(new Date(last.getTime() - 60_000)) : null;
  const verdict = healthVerdict({ consecutiveFailures: state.consecutiveFailures, cursor: state.cursor, secondLastScheduled: secondLast });
  return {
    status: verdict.status,
    reason: verdict.reason,
    lastSuccessAt: state.lastSuccessAt,
    coveredUntil: state.cursor,
    nextRun: worker.nextRun()?.toISOString() ?? null,
    consecutiveFailures: state.consecutiveFailures,
    running: worker.busy(),
    version: VERSION,
  };
}
