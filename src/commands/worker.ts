/**
 * `worker`: the long-running scheduler (src/worker.ts) with the real adapters, the heartbeat and the
 * optional health endpoint; SIGTERM/SIGINT stop it gracefully (an in-flight run gets 30 s). With
 * WORKER_REPLICAS=on (and DATABASE_URL) it is one replica of several (src/replica-worker.ts): each
 * scheduled time enqueues one job per account in the pg-boss queue, and any replica runs it.
 */
import { parseArgs } from 'node:util';
import { startHealthServer, type HealthServer, type HealthStatus } from '../adapters/health-server.js';
import { createLocalAccountRunner, type LocalAccountRunner } from '../accounts/local-runner.js';
import { loadAccounts } from '../accounts/load-accounts.js';
import { sendRollup } from '../accounts/send-rollup.js';
import { loadConfig } from '../config/load-config.js';
import { describeError } from '../errors.js';
import { VERSION } from '../version.js';
import { healthVerdict } from '../core/health-verdict.js';
import type { Store } from '../ports.js';
import type { RunOutcome } from '../run-report.js';
import { DEFAULT_RUN_DEADLINE_MINUTES } from '../core/send-outcome-rules.js';
import { createWorker, type Worker } from '../worker.js';
import { createReplicaWorker, type ReplicaJob } from '../replica-worker.js';
import { EXIT_FAILED, EXIT_OK, type CommandIo, type ExitCode, type StopSignal } from './io.js';
import { createCommandLogger, ephemeralDiskWarning } from './wiring.js';

const STOP_GRACE_MS = 30_000;

/** What the command needs of either scheduler: the single worker (node-cron) or a replica (job queue). */
type ScheduledWorker = Pick<Worker, 'start' | 'stop' | 'nextRun' | 'previousRun' | 'busy'>;

export async function workerCommand(args: string[], io: CommandIo): Promise<ExitCode> {
  parseArgs({ args, options: {}, strict: true });
  const { config, warnings } = loadConfig(io.env);
  const accounts = loadAccounts(config, io.env, io.cwd);
  // Every account's secret is redacted from every line.
  const logger = createCommandLogger(io, config.logLevel, accounts[0]!.config.secrets);
  for (const w of warnings) logger.warn('config.warning', { warning: w });
  const ephemeral = ephemeralDiskWarning(io.env, config);
  if (ephemeral) logger.error('storage.ephemeral_disk', { warning: ephemeral });
  if (accounts.length > 1 && config.worker.heartbeatUrl && !config.worker.heartbeatUrl.includes('{account}')) {
    logger.warn('config.warning', {
      warning:
        'HEARTBEAT_URL has no {account}: every account pings the same check, so one account succeeding hides another failing. Put {account} in it (one check per account).',
    });
  }
  // Each account's store stays open between rounds; one that cannot be set up fails its runs loudly (FAILED notice, /fail).
  const runner = createLocalAccountRunner({ io, accounts, keepOpen: true });
  // A store that cannot be set up at start is loud at once, and the worker stays up: that account's FAILED
  // notice and /fail go out now (a run that tries the store again), and each of its later runs sets it up
  // again, so a database back after a restart is picked up without restarting the worker, and a
  // supervisor restarting a crashed worker can never flood the inbox with one notice per restart.
  for (const a of accounts) {
    await runner.init(a.id).catch(async (error: unknown) => {
      logger.error('account.store_init_failed', { account: a.id, error: describeError(error) });
      await runner.runWith(a.id, {});
    });
  }
  const replicas = config.worker.replicas && config.databaseUrl ? { ...config.worker.replicas, databaseUrl: config.databaseUrl } : null;
  const readCursor = async (accountId: string): Promise<Date | null> => {
    const state = await (await runner.store(accountId)).readState().catch(() => null);
    return state?.cursor ? new Date(state.cursor) : null;
  };
  // pg-boss is loaded only by a replica: it costs a single worker about 26 MiB of RSS it never uses.
  const pgBoss = replicas ? await import('../adapters/queue/pg-boss-queue.js') : null;
  const worker: ScheduledWorker = replicas
    ? // One job per account and scheduled time, run by whichever replica takes it; one roll-up job per
      // scheduled time, sent from the stores once every account's job is done (or the bound has passed).
      createReplicaWorker({
        schedule: config.report.schedule,
        timeZone: config.report.timeZone,
        logger,
        now: io.now,
        retryDelaysMs: config.worker.retryDelaysMs,
        concurrency: replicas.concurrency,
        queue: pgBoss!.createPgBossQueue<ReplicaJob>({
          connectionString: replicas.databaseUrl,
          logger,
          takeoverSeconds: replicas.takeoverSeconds,
          // A run gives up at RUN_DEADLINE_MINUTES; its job is declared hung 5 minutes later.
          expireInSeconds: (config.report.runDeadlineMinutes ?? DEFAULT_RUN_DEADLINE_MINUTES) * 60 + 300,
          maxConnections: Math.min(10, replicas.concurrency + 2),
        }),
        runner,
        readCursor,
        ...(accounts.length > 1 && config.rollupTo?.length
          ? {
              rollup: {
                readState: async (accountId: string) => (await runner.store(accountId)).readState(),
                send: async (records) => {
                  await sendRollup({ io, config: { ...config, secrets: accounts[0]!.config.secrets }, logger, records, dryRun: false });
                },
                // The round's runs end by RUN_DEADLINE_MINUTES; a dead replica's is taken over within WORKER_TAKEOVER_SECONDS.
                boundMs: (config.report.runDeadlineMinutes ?? DEFAULT_RUN_DEADLINE_MINUTES) * 60_000 + replicas.takeoverSeconds * 1000,
              },
            }
          : {}),
      })
    : createWorker({
        schedule: config.report.schedule,
        timeZone: config.report.timeZone,
        logger,
        now: io.now,
        retryDelaysMs: config.worker.retryDelaysMs,
        // One round: every account in turn, each isolated; then the roll-up (several accounts and ROLLUP_TO).
        runDue: (deadline) => runRound(runner, deadline, { io, config: { ...config, secrets: accounts[0]!.config.secrets }, logger }),
        readCursor: async () => {
          // The earliest cursor of all accounts: a round is caught up when any account missed it.
          let earliest: Date | null = null;
          for (const a of accounts) {
            const cursor = await readCursor(a.id);
            if (!cursor) return null;
            if (!earliest || cursor < earliest) earliest = cursor;
          }
          return earliest;
        },
      });
  let health: HealthServer | null = null;
  if (config.worker.port !== null) {
    health = await startHealthServer({
      port: config.worker.port,
      status: () => accountsHealth(runner, worker, io.now()),
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
      await runner.close();
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

/** One scheduled round over every account, then the roll-up; the worker retries the round when any account failed. */
export async function runRound(
  runner: LocalAccountRunner,
  deadline: number | undefined,
  rollup: Omit<Parameters<typeof sendRollup>[0], 'records' | 'dryRun'>,
): Promise<RunOutcome> {
  const records = await runner.runAll(deadline === undefined ? {} : { deadline });
  if (records.length > 1 && rollup.config.rollupTo?.length) await sendRollup({ ...rollup, records, dryRun: false });
  const outcomes = records.map((r) => r.outcome);
  if (outcomes.length === 1) return outcomes[0]!;
  const status = outcomes.some((o) => o.status === 'failed')
    ? 'failed'
    : outcomes.some((o) => o.status === 'ok')
      ? 'ok'
      : outcomes.every((o) => o.status === 'locked')
        ? 'locked'
        : 'nothing-due';
  return { status, windows: outcomes.flatMap((o) => o.windows), skipped: null };
}

/**
 * /healthz with a line per account: one account alone is answered as before; with several, the body has
 * `accounts` (id, status, reason, covered until, failures) and the status is 503 when any account is not ok.
 */
export async function accountsHealth(
  runner: LocalAccountRunner,
  worker: Pick<Worker, 'nextRun' | 'previousRun' | 'busy'>,
  now: Date,
): Promise<HealthStatus> {
  const lines: (HealthStatus & { account: string })[] = [];
  for (const a of runner.accounts()) {
    try {
      lines.push({ account: a.id, ...(await workerHealth(await runner.store(a.id), worker, now)) });
    } catch (error) {
      lines.push({
        account: a.id,
        status: 'failing',
        reason: `its store cannot be read: ${describeError(error)}`,
        lastSuccessAt: null,
        coveredUntil: null,
        nextRun: worker.nextRun()?.toISOString() ?? null,
        consecutiveFailures: 0,
        running: worker.busy(),
        version: VERSION,
      });
    }
  }
  if (lines.length === 1) {
    const { account: _account, ...only } = lines[0]!;
    return only;
  }
  const bad = lines.filter((l) => l.status !== 'ok');
  const worst = bad.find((l) => l.status === 'failing') ?? bad[0];
  return {
    status: worst ? worst.status : 'ok',
    reason: bad.length
      ? `${bad.length} of ${lines.length} accounts not ok: ${bad.map((l) => `${l.account} (${l.reason ?? l.status})`).join('; ')}`
      : null,
    // The oldest of the accounts' (null when any has none): the worst one is what an operator must see.
    lastSuccessAt: earliest(lines.map((l) => l.lastSuccessAt)),
    coveredUntil: earliest(lines.map((l) => l.coveredUntil)),
    nextRun: worker.nextRun()?.toISOString() ?? null,
    consecutiveFailures: Math.max(...lines.map((l) => l.consecutiveFailures)),
    running: worker.busy(),
    version: VERSION,
    accounts: lines.map(({ version: _v, nextRun: _n, running: _r, ...line }) => line),
  };
}

/** The earliest ISO instant, or null when any is null. */
function earliest(values: readonly (string | null)[]): string | null {
  if (values.some((v) => v === null)) return null;
  return [...(values as string[])].sort()[0] ?? null;
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
