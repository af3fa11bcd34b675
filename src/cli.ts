#!/usr/bin/env node
/**
 * The command line, and the only module that touches `process`: argv, env (and .env), signals, exit codes.
 * It wires the real adapters and hands them to the orchestrator.
 *   exit 0: success · 1: the run failed (upstream, delivery, storage) · 2: bad usage or configuration
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs, parseEnv } from 'node:util';
import { createLastPassClient } from './adapters/lastpass/lastpass-client.js';
import { createOutboxMailer } from './adapters/mail/outbox-mailer.js';
import { createHeartbeat } from './adapters/notify/heartbeat.js';
import { startHealthServer, type HealthServer } from './adapters/health-server.js';
import { createRenderer } from './adapters/renderer.js';
import { createSendGridMailer } from './adapters/mail/sendgrid-mailer.js';
import { loadConfig, loadEvidenceSettings, secretVariants, type Config, type Env } from './config/load-config.js';
import { createEvidence } from './evidence/create-evidence-archive.js';
import { formatVerifyReport } from './evidence/evidence-report.js';
import { isDay } from './evidence/evidence-archive.js';
import { ConfigError, describeError } from './errors.js';
import { createLogger, createRedactor, type Logger, type LogLevel } from './logger.js';
import { runReport, type RunDeps, type RunOutcome } from './run-report.js';
import { createStore } from './store/create-store.js';
import { createProcessInfo } from './store/process-info.js';
import { VERSION } from './version.js';
import { createWorker } from './worker.js';
import type { Clock, Mailer, Store } from './ports.js';

const USAGE = `lastpass-audit-digest ${VERSION}

Usage:
  lastpass-audit-digest worker                       run on REPORT_SCHEDULE until stopped (SIGTERM/SIGINT)
  lastpass-audit-digest run [--from ISO] [--to ISO] [--dry-run] [--force]
                                                     report what is due now (or the given window)
  lastpass-audit-digest demo                         the whole pipeline offline against a simulator
  lastpass-audit-digest check                        validate config and reach LastPass and SendGrid
  lastpass-audit-digest backfill --from ISO --to ISO [--send] [--force]
                                                     digests for a past range, one per day (dry run unless --send)
  lastpass-audit-digest migrate                      create or upgrade the store's schema (also done at start-up)
  lastpass-audit-digest verify [--from DAY] [--to DAY]
                                                     check the evidence archive (hashes, chain, signatures, days)
  lastpass-audit-digest export --from DAY --to DAY --out FILE.tar.gz
                                                     the evidence of those days for an auditor

Configuration comes from environment variables (and ./.env); see README.md.
Exit codes: 0 success, 1 the run failed, 2 bad usage or configuration.`;

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

function readEnv(): Env {
  const path = resolve('.env');
  let fromFile: Record<string, string> = {};
  if (existsSync(path)) fromFile = parseEnv(readFileSync(path, 'utf8')) as Record<string, string>;
  // Real environment variables (Replit Secrets) win over .env.
  return { ...fromFile, ...process.env };
}

function makeLogger(level: LogLevel, secrets: readonly string[]): Logger {
  return createLogger({
    level,
    redact: createRedactor(secretVariants(secrets)),
    write: (line) => process.stderr.write(`${line}\n`),
  });
}

/** This process, for the file store's lock files; and the real clock. */
const processInfo = createProcessInfo({ pid: process.pid, hostname: hostname(), kill: (pid, signal) => process.kill(pid, signal) });
const systemClock: Clock = () => new Date();

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

function parseInstant(value: string | undefined, flag: string): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  if (Number.isNaN(d.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(value)) {
    throw new ConfigError([
      `${flag} "${value}" is not an ISO-8601 time: use e.g. 2025-03-09T07:00:00Z (or a date, 2025-03-09, meaning midnight UTC).`,
    ]);
  }
  return d;
}

function buildDeps(config: Config, logger: Logger, store: Store, dryRun: boolean): RunDeps {
  const checkpoint = crashCheckpoint();
  const outbox = createOutboxMailer({ dataDir: config.dataDir, logger });
  const mailer: Mailer =
    config.sendgrid.apiKey && !dryRun
      ? createSendGridMailer({ apiKey: config.sendgrid.apiKey, apiUrl: config.sendgrid.apiUrl, logger })
      : outbox;
  return {
    config,
    store,
    lastpass: createLastPassClient({ ...config.lastpass, logger }),
    mailer,
    outbox,
    renderer: createRenderer(),
    logger,
    now: () => new Date(),
    version: VERSION,
    owner: `${hostname()}:${process.pid}`,
    ...(checkpoint ? { checkpoint } : {}),
    // Dry runs are not deliveries: they leave no evidence bundle.
    ...(dryRun
      ? {}
      : {
          evidence: createEvidence({
            dataDir: config.dataDir,
            databaseUrl: config.databaseUrl,
            version: VERSION,
            settings: config.evidence,
            now: systemClock,
          }),
        }),
  };
}

/**
 * Fault injection for the crash tests: LAD_CRASH_AT=<step>[#n] kills this process with SIGKILL the n-th
 * time (default first) the run reaches that step. Never set in production.
 */
function crashCheckpoint(): ((name: string) => void) | null {
  const spec = process.env.LAD_CRASH_AT;
  if (!spec) return null;
  const [step, nth] = spec.split('#');
  let seen = 0;
  return (name) => {
    if (name === step && ++seen === Number(nth ?? '1')) process.kill(process.pid, 'SIGKILL');
  };
}

function reportOutcome(outcome: RunOutcome): number {
  for (const w of outcome.windows) {
    const span = `${w.window.start.toISOString()} → ${w.window.end.toISOString()}`;
    if (w.evidenceError) print(`EVIDENCE FAILED ${span}: ${w.evidenceError}`);
    else if (w.evidence) print(`evidence ${span}: bundle seq ${w.evidence.seq} at ${w.evidence.location}`);
    if (w.status === 'failed') print(`FAILED   ${span}: ${w.error ?? 'unknown error'}`);
    else if (w.status === 'already-delivered') print(`skipped  ${span}: already delivered (use --force to send it again)`);
    else
      print(
        `${w.status === 'dry-run' ? 'dry run ' : 'sent    '} ${span}: ${w.subject ?? ''}${w.destination && w.destination !== 'sendgrid' ? `\n         ${w.destination}` : w.messageId ? ` (message id ${w.messageId})` : ''}`,
      );
  }
  if (outcome.status === 'locked') {
    print('Another run holds the lock (a worker or another `run` on the same store); nothing was done.');
    return EXIT_FAILED;
  }
  if (outcome.status === 'nothing-due') print('Nothing is due: the last delivered window ends now.');
  return outcome.status === 'failed' ? EXIT_FAILED : EXIT_OK;
}

async function commandRun(args: string[], env: Env): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const dryRun = values['dry-run'] ?? false;
  const from = parseInstant(values.from, '--from');
  const to = parseInstant(values.to, '--to');
  if (from && to && from >= to) throw new ConfigError(['--from must be before --to.']);
  const { config, warnings } = loadConfig(env, { dryRun });
  const logger = makeLogger(config.logLevel, config.secrets);
  for (const w of warnings) logger.warn('config.warning', { warning: w });
  const store = createStore({
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    logger,
    checkpoint: crashCheckpoint(),
    processInfo,
    now: systemClock,
  });
  try {
    await store.init();
    const deps = buildDeps(config, logger, store, dryRun);
    try {
      const outcome = await runReport(deps, {
        ...(from ? { from } : {}),
        ...(to ? { to } : {}),
        dryRun,
        force: values.force ?? false,
      });
      return reportOutcome(outcome);
    } finally {
      await deps.evidence?.close();
    }
  } finally {
    await store.close();
  }
}

/** Day-sized windows from `from` to `to` (the last one shorter when the range is not whole days). */
function backfillWindows(from: Date, to: Date): { start: Date; end: Date }[] {
  const out: { start: Date; end: Date }[] = [];
  for (let s = from.getTime(); s < to.getTime(); s += 86_400_000) {
    out.push({ start: new Date(s), end: new Date(Math.min(to.getTime(), s + 86_400_000)) });
  }
  return out;
}

function progressBar(done: number, total: number, label: string): string {
  const width = 24;
  const filled = Math.round((done / Math.max(1, total)) * width);
  return `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${label}`.padEnd(90);
}

/**
 * `backfill --from --to [--send] [--force]`: digests for a past range, one per day, oldest first. Dry run
 * (to the outbox) unless --send; already delivered days are skipped unless --force. A progress bar on a
 * terminal; one line per day otherwise.
 */
async function commandBackfill(args: string[], env: Env): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      send: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const from = parseInstant(values.from, '--from');
  const to = parseInstant(values.to, '--to');
  if (!from || !to)
    throw new ConfigError(['backfill needs both --from and --to (ISO dates or times, e.g. --from 2025-03-01 --to 2025-03-08).']);
  if (from >= to) throw new ConfigError(['--from must be before --to.']);
  if (to.getTime() > Date.now()) throw new ConfigError(['--to lies in the future: backfill covers past days only.']);
  const send = values.send ?? false;
  const { config, warnings } = loadConfig(env, { dryRun: !send });
  const logger = makeLogger(config.logLevel, config.secrets);
  for (const w of warnings) logger.warn('config.warning', { warning: w });
  const store = createStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, logger, processInfo, now: systemClock });
  const tty = process.stderr.isTTY === true;
  const windows = backfillWindows(from, to);
  let failed = 0;
  try {
    await store.init();
    const deps = buildDeps(config, logger, store, !send);
    try {
      for (const [i, w] of windows.entries()) {
        const label = `${w.start.toISOString().slice(0, 16)} → ${w.end.toISOString().slice(0, 16)}`;
        if (tty) process.stderr.write(progressBar(i, windows.length, label));
        const outcome = await runReport(deps, { from: w.start, to: w.end, dryRun: !send, force: values.force ?? false });
        if (outcome.status === 'locked') {
          if (tty) process.stderr.write('\n');
          print('Another run holds the lock; backfill stopped.');
          return EXIT_FAILED;
        }
        const r = outcome.windows[0];
        if (r?.status === 'failed') failed++;
        const what =
          r?.status === 'already-delivered'
            ? 'skipped (already delivered; --force re-sends)'
            : r?.status === 'failed'
              ? `FAILED: ${r.error ?? ''}`
              : r?.status === 'dry-run'
                ? `dry run: ${r.destination ?? ''}`
                : `sent${r?.messageId ? ` (message id ${r.messageId})` : ''}`;
        if (tty) process.stderr.write(progressBar(i + 1, windows.length, label));
        if (tty) process.stderr.write('\n');
        print(`${label}  ${what}`);
      }
    } finally {
      await deps.evidence?.close();
    }
  } finally {
    await store.close();
  }
  print(
    `${windows.length} day(s): ${windows.length - failed} done, ${failed} failed${send ? '' : ' (dry run: nothing was sent; add --send to deliver)'}.`,
  );
  return failed > 0 ? EXIT_FAILED : EXIT_OK;
}

/** Deployments whose disk does not survive a republish, where state must live in DATABASE_URL. */
function ephemeralDiskWarning(env: Env, config: Config): string | null {
  if (config.databaseUrl || env.REPLIT_DEPLOYMENT !== '1') return null;
  return `DATA_DIR (${config.dataDir}) is on the deployment's own disk, which Replit replaces at every republish or restart onto a new container: the worker would forget what it delivered (and re-send or skip windows). Add a PostgreSQL database (Tools > Database) so that DATABASE_URL is set.`;
}

async function commandWorker(env: Env): Promise<number> {
  const { config, warnings } = loadConfig(env);
  const logger = makeLogger(config.logLevel, config.secrets);
  for (const w of warnings) logger.warn('config.warning', { warning: w });
  const ephemeral = ephemeralDiskWarning(env, config);
  if (ephemeral) logger.error('storage.ephemeral_disk', { warning: ephemeral });
  const store = createStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, logger, processInfo, now: systemClock });
  await store.init();
  const deps = buildDeps(config, logger, store, false);
  const heartbeat = config.worker.heartbeatUrl ? createHeartbeat({ url: config.worker.heartbeatUrl, logger }) : null;
  const worker = createWorker({
    schedule: config.report.schedule,
    timeZone: config.report.timeZone,
    logger,
    retryDelaysMs: config.worker.retryDelaysMs,
    runDue: async (deadline) => {
      const outcome = await runReport(deps, deadline === undefined ? {} : { deadline });
      if (heartbeat && outcome.status !== 'locked') {
        const failed = outcome.windows.find((w) => w.status === 'failed');
        await heartbeat.ping(
          outcome.status === 'failed' ? 'fail' : 'success',
          failed ? `window ${failed.key} failed: ${failed.error ?? ''}` : `${outcome.status}: ${outcome.windows.length} window(s)`,
        );
      }
      return outcome;
    },
    readCursor: async () => {
      const state = await store.readState();
      return state.cursor ? new Date(state.cursor) : null;
    },
  });
  let health: HealthServer | null = null;
  if (config.worker.port !== null) {
    health = await startHealthServer({
      port: config.worker.port,
      status: async () => {
        const state = await store.readState();
        return {
          status: state.consecutiveFailures > 0 ? 'failing' : 'ok',
          lastSuccessAt: state.lastSuccessAt,
          coveredUntil: state.cursor,
          nextRun: worker.nextRun()?.toISOString() ?? null,
          consecutiveFailures: state.consecutiveFailures,
          running: worker.busy(),
          version: VERSION,
        };
      },
    });
    logger.info('health.listening', { port: health.port, path: '/healthz' });
  }
  await worker.start();
  return new Promise<number>((resolvePromise) => {
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info('worker.stopping', { signal });
      void worker
        .stop(30_000)
        .then(async (finished) => {
          if (!finished) logger.warn('worker.stopped_with_run_in_flight', {});
          await health?.close();
          await deps.evidence?.close();
          await store.close();
          logger.info('worker.stopped', { signal });
          resolvePromise(EXIT_OK);
        })
        .catch((error: unknown) => {
          logger.error('worker.stop_failed', { error: describeError(error) });
          resolvePromise(EXIT_FAILED);
        });
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}

async function commandMigrate(env: Env): Promise<number> {
  // Only the storage settings matter here: no LastPass or SendGrid configuration is needed.
  const dataDir = env.DATA_DIR?.trim() || './data';
  const databaseUrl = env.DATABASE_URL?.trim() || null;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl))
    throw new ConfigError(['DATABASE_URL must be a PostgreSQL URL (postgresql://user:password@host:5432/db).']);
  const logger = makeLogger('info', databaseUrl ? [databaseUrl] : []);
  const store = createStore({ dataDir, databaseUrl, logger, processInfo, now: systemClock });
  try {
    await store.init();
    print(`${store.description}: schema version ${await store.schemaVersion()}`);
    return EXIT_OK;
  } finally {
    await store.close();
  }
}

function parseDay(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (!isDay(value))
    throw new ConfigError([`${flag} "${value}" is not a day: use YYYY-MM-DD (the day of the digest window, in REPORT_TIMEZONE).`]);
  return value;
}

/** verify/export need only the storage and EVIDENCE_* settings: no LastPass or SendGrid configuration. */
async function openEvidence(env: Env) {
  const problems: string[] = [];
  const settings = loadEvidenceSettings(env, problems);
  const dataDir = env.DATA_DIR?.trim() || './data';
  const databaseUrl = env.DATABASE_URL?.trim() || null;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl))
    problems.push('DATABASE_URL must be a PostgreSQL URL (postgresql://user:password@host:5432/db).');
  if (problems.length) throw new ConfigError(problems);
  if (databaseUrl) {
    // The evidence tables come with the store's migrations.
    const store = createStore({ dataDir, databaseUrl, logger: makeLogger('error', [databaseUrl]), processInfo, now: systemClock });
    try {
      await store.init();
    } finally {
      await store.close();
    }
  }
  return { archive: createEvidence({ dataDir, databaseUrl, version: VERSION, settings, now: systemClock }), settings };
}

async function commandVerify(args: string[], env: Env): Promise<number> {
  const { values } = parseArgs({ args, options: { from: { type: 'string' }, to: { type: 'string' } }, strict: true });
  const from = parseDay(values.from, '--from');
  const to = parseDay(values.to, '--to');
  const { archive, settings } = await openEvidence(env);
  try {
    const report = await archive.verify({ ...(from ? { from } : {}), ...(to ? { to } : {}), verifyKey: settings.verifyKey });
    print(formatVerifyReport(report).trimEnd());
    return report.ok ? EXIT_OK : EXIT_FAILED;
  } finally {
    await archive.close();
  }
}

async function commandExport(args: string[], env: Env): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { from: { type: 'string' }, to: { type: 'string' }, out: { type: 'string' } },
    strict: true,
  });
  const from = parseDay(values.from, '--from');
  const to = parseDay(values.to, '--to');
  const out = values.out;
  if (!from || !to || !out) throw new ConfigError(['export needs --from DAY --to DAY --out FILE.tar.gz']);
  if (!/\.(tar\.gz|tgz)$/.test(out)) throw new ConfigError([`--out "${out}" must end in .tar.gz (or .tgz).`]);
  const { archive, settings } = await openEvidence(env);
  try {
    const result = await archive.exportTarGz({ from, to, out: resolve(out), verifyKey: settings.verifyKey });
    print(`Exported ${result.bundles} bundle(s), ${result.files} file(s) for ${from} to ${to}:\n  ${resolve(out)}\n`);
    print(formatVerifyReport(result.report).trimEnd());
    return result.report.ok ? EXIT_OK : EXIT_FAILED;
  } finally {
    await archive.close();
  }
}

async function commandDemo(env: Env): Promise<number> {
  const level = (env.LOG_LEVEL?.trim().toLowerCase() as LogLevel | undefined) ?? 'warn';
  const logger = makeLogger(['debug', 'info', 'warn', 'error'].includes(level) ? level : 'warn', []);
  const dataDir = env.DATA_DIR?.trim() || './data';
  print('Starting the embedded LastPass simulator and running the real pipeline against it…');
  const { runDemo } = await import('./demo.js');
  const result = await runDemo({ dataDir, logger, now: () => new Date(), processInfo, renderer: createRenderer(), version: VERSION });
  const code = reportOutcome(result.outcome);
  print(
    `\n${result.eventsServed.toLocaleString('en-US')} events served by the simulator over ${result.requests} requests; planted incidents: ${result.planted.map((p) => p.id).join(', ')}.`,
  );
  if (result.digestPath) {
    if (result.evidencePath) {
      print(
        `\nEvidence bundle written to:\n  ${resolve(result.evidencePath)}\nVerify it with:\n  DATA_DIR=${resolve(result.folder)} DATABASE_URL= node dist/src/cli.js verify`,
      );
    }
    print(
      `\nDigest written to the outbox:\n  ${resolve(result.digestPath)}\n  ${resolve(result.digestPath.replace(/message\.html$/, 'message.txt'))}\n  ${resolve(result.digestPath.replace(/message\.html$/, 'sendgrid-request.json'))}`,
    );
  }
  return code;
}

async function commandCheck(env: Env): Promise<number> {
  const { config, warnings } = loadConfig(env);
  const logger = makeLogger('error', config.secrets);
  const store = createStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, logger, processInfo, now: systemClock });
  try {
    const { runChecks } = await import('./check.js');
    const lines = await runChecks({
      config,
      lastpass: createLastPassClient({
        ...config.lastpass,
        logger,
        retryPolicy: { retries: 1, baseDelayMs: 1000, maxDelayMs: 2000, maxRetryAfterMs: 5000 },
      }),
      store,
      now: () => new Date(),
      warnings,
    });
    const ephemeral = ephemeralDiskWarning(env, config);
    if (ephemeral) lines.push({ name: 'storage', ok: false, detail: ephemeral });
    const redact = createRedactor(secretVariants(config.secrets));
    for (const l of lines) print(redact(`${l.ok ? 'ok  ' : 'FAIL'} ${l.name.padEnd(9)} ${l.detail}`));
    return lines.every((l) => l.ok) ? EXIT_OK : EXIT_FAILED;
  } finally {
    await store.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const env = readEnv();
  try {
    switch (command) {
      case 'run':
        return await commandRun(rest, env);
      case 'worker':
        return await commandWorker(env);
      case 'demo':
        return await commandDemo(env);
      case 'check':
        return await commandCheck(env);
      case 'backfill':
        return await commandBackfill(rest, env);
      case 'migrate':
        return await commandMigrate(env);
      case 'verify':
        return await commandVerify(rest, env);
      case 'export':
        return await commandExport(rest, env);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        print(USAGE);
        return command === undefined ? EXIT_USAGE : EXIT_OK;
      case '--version':
      case 'version':
        print(VERSION);
        return EXIT_OK;
      default:
        process.stderr.write(`Unknown command "${command}".\n\n${USAGE}\n`);
        return EXIT_USAGE;
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof TypeError && 'code' in error && String((error as { code: unknown }).code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${error.message}\n\n${USAGE}\n`);
      return EXIT_USAGE;
    }
    const secrets = (() => {
      try {
        return loadConfig(env, { dryRun: true }).config.secrets;
      } catch {
        return [env.LASTPASS_API_KEY, env.LASTPASS_PROVISIONING_HASH, env.SENDGRID_API_KEY].filter((s): s is string => !!s);
      }
    })();
    process.stderr.write(`${createRedactor(secretVariants(secrets))(`Error: ${describeError(error)}`)}\n`);
    return EXIT_FAILED;
  }
}

// Exit explicitly: keep-alive sockets of the HTTP clients must not hold a finished command open.
process.exit(await main(process.argv.slice(2)));
