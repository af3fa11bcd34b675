/**
 * `npm run bench -- --accounts 200 --events-per-account 20000 --replicas 1,2,3`: many accounts on 1, 2
 * and 3 worker replicas sharing one PostgreSQL queue (pg-boss), then a fault run that SIGKILLs a replica
 * at random points of a round (bench.ts hands over here when `--accounts` is given).
 *
 *   --accounts N (200) · --events-per-account E (20,000) · --replicas 1,2,3 (one round each) ·
 *   --concurrency C (4: WORKER_CONCURRENCY of each replica) · --latency-ms L (300: LastPass's time per page) ·
 *   --send-latency-ms S (200: SendGrid's time to answer; a kill during it is a kill mid-send) ·
 *   --kills K (3: replicas killed during the fault run, each replaced at once; 0 skips the fault run) ·
 *   --database-url URL (BENCH_DATABASE_URL, else TEST_DATABASE_URL: a server where databases may be created;
 *   each round gets a throwaway database, dropped after) · --json PATH (bench/results/replicas.json)
 *
 * This is the parent. It hosts one LastPass simulator (the same day for every account: one account number,
 * so pages are built once and served to all; the accounts differ in their state, their run and their
 * recipient) and a loopback SendGrid stand-in (records each mail: recipient, window, marker, notice), seeds
 * N accounts (each scoped by its account id in the round's database, as ACCOUNTS_FILE accounts are,
 * delivered up to 24 h before the window end), spawns the replicas (bench/replica-child.ts), and enqueues
 * one job per account as a scheduled tick does.
 *
 * Round time: from the enqueue to the last account's digest. Peak RSS: each replica's VmHWM. A round is
 * complete when every account's digest arrived and no job is waiting or running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createPgBossQueue, QUEUE_SCHEMA } from '../src/adapters/queue/pg-boss-queue.js';
import type { DeliveredWindow } from '../src/core/run-state.js';
import { createLogger } from '../src/logger.js';
import type { ReplicaJob } from '../src/replica-worker.js';
import { generateDemoDay } from '../src/simulator/demo-day.js';
import { createLastPassSimulator } from '../src/simulator/lastpass-simulator.js';
import { createPostgresStore } from '../src/store/postgres-store.js';
import { VERSION } from '../src/version.js';
import {
  ACCOUNT,
  accountId,
  DAY_MS,
  DUPLICATE_NOTICE,
  MARK,
  READY,
  type ReplicaSpec,
  SECRET,
  TAKEOVER_SECONDS,
  WINDOW_END,
} from './replica-common.js';

interface Mail {
  to: string;
  window: string | null;
  marker: string | null;
  failure: boolean;
  duplicateNotice: boolean;
}

/** Records each mail as it arrives and answers 202 after `latencyMs` (SendGrid takes a few hundred ms). */
function startSendGridStandIn(latencyMs: number): Promise<{ url: string; mails: Mail[]; server: Server }> {
  const mails: Mail[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          personalizations?: { to?: { email: string }[] }[];
          custom_args?: Record<string, string>;
          content?: { type: string; value: string }[];
        };
        const args = body.custom_args ?? {};
        mails.push({
          to: body.personalizations?.[0]?.to?.[0]?.email ?? '',
          window: args.digest_window ?? null,
          marker: args.digest_marker ?? null,
          failure: args.digest_failure !== undefined,
          duplicateNotice: (body.content ?? []).some((c) => c.type === 'text/html' && c.value.includes(DUPLICATE_NOTICE)),
        });
      } catch {
        // counted nowhere: a body that does not parse is no digest
      }
      const id = `bench-${++n}`;
      setTimeout(() => {
        res.writeHead(202, { 'x-message-id': id });
        res.end();
      }, latencyMs);
    });
  });
  return new Promise((resolvePromise) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolvePromise({ url: `http://127.0.0.1:${port}`, mails, server });
    }),
  );
}

interface Child {
  process: ChildProcess;
  ready: Promise<void>;
  result: Promise<{ peakRssKiB: number; runs: number } | null>;
}

function spawnReplica(script: string, spec: ReplicaSpec): Child {
  const child = spawn(process.execPath, [script, 'replica', JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (onReady = r));
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes(READY)) onReady();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
    if (process.env.BENCH_REPLICA_LOG) process.stderr.write(d);
  });
  const result = new Promise<{ peakRssKiB: number; runs: number } | null>((r) =>
    child.on('close', (code, signal) => {
      const line = out.split('\n').find((l) => l.startsWith(MARK));
      if (!line && signal !== 'SIGKILL') process.stderr.write(`replica exited ${code ?? signal} without a result:\n${err}\n`);
      r(line ? (JSON.parse(line.slice(MARK.length)) as { peakRssKiB: number; runs: number }) : null);
    }),
  );
  return { process: child, ready, result };
}

async function seedAccounts(databaseUrl: string, accounts: number): Promise<void> {
  const end = WINDOW_END - DAY_MS;
  const seedWindow: DeliveredWindow = {
    key: 'seed',
    start: new Date(end - DAY_MS).toISOString(),
    end: new Date(end).toISOString(),
    deliveredAt: new Date(end).toISOString(),
    messageId: 'seed',
    marker: 'seed',
    summary: { eventsReviewed: 0, high: 0, medium: 0, low: 0, info: 0, byCategory: {} },
  };
  let next = 0;
  const lane = async () => {
    while (next < accounts) {
      const store = createPostgresStore({
        connectionString: databaseUrl,
        accountId: accountId(next++),
        maxConnections: 2,
        now: () => new Date(end),
      });
      await store.init();
      await store.completeDelivery(seedWindow);
      await store.close();
    }
  };
  await Promise.all(Array.from({ length: 6 }, lane));
}

interface RoundResult {
  replicas: number;
  roundMs: number;
  peakRssMiB: (number | null)[];
  runs: number[];
  kills: number;
  counts: { deliveredOnce: number; withNotice: number; duplicatedWithoutNotice: number; missing: number; failureNotices: number };
}

async function openJobs(pool: pg.Pool): Promise<number> {
  const r = await pool.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM ${pg.escapeIdentifier(QUEUE_SCHEMA)}.job WHERE state IN ('created', 'retry', 'active')`,
  );
  return Number(r.rows[0]?.n ?? 0);
}

function countMails(mails: readonly Mail[], accounts: number): RoundResult['counts'] {
  const counts = { deliveredOnce: 0, withNotice: 0, duplicatedWithoutNotice: 0, missing: 0, failureNotices: 0 };
  counts.failureNotices = mails.filter((m) => m.failure).length;
  for (let i = 0; i < accounts; i++) {
    const to = `secops+${accountId(i)}@example.org`;
    const digests = mails.filter((m) => m.to === to && !m.failure && m.window);
    if (digests.length === 0) counts.missing++;
    else if (digests.length === 1) counts.deliveredOnce++;
    else if (digests.slice(1).every((d) => d.marker === digests[0]!.marker && d.window === digests[0]!.window && d.duplicateNotice))
      counts.withNotice++;
    else counts.duplicatedWithoutNotice++;
  }
  return counts;
}

async function runRound(input: {
  serverUrl: string;
  script: string;
  lastpassUrl: string;
  accounts: number;
  concurrency: number;
  replicas: number;
  kills: number;
  killWindowMs: number;
  sendLatencyMs: number;
  say: (s: string) => void;
}): Promise<RoundResult> {
  const admin = new pg.Pool({ connectionString: input.serverUrl, max: 1 });
  const database = `lpad_bench_replicas_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  const url = new URL(input.serverUrl);
  url.pathname = `/${database}`;
  const databaseUrl = url.toString();
  const sendgrid = await startSendGridStandIn(input.sendLatencyMs);
  const logger = createLogger({ level: 'warn', write: (line) => process.stderr.write(`${line}\n`) });
  const queue = createPgBossQueue<ReplicaJob>({
    connectionString: databaseUrl,
    logger,
    takeoverSeconds: TAKEOVER_SECONDS,
    expireInSeconds: 3600,
    maxConnections: 2,
  });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  const children: Child[] = [];
  try {
    await seedAccounts(databaseUrl, input.accounts);
    await queue.start();
    const spec: ReplicaSpec = {
      databaseUrl,
      lastpassUrl: input.lastpassUrl,
      sendgridUrl: sendgrid.url,
      accounts: input.accounts,
      concurrency: input.concurrency,
    };
    for (let i = 0; i < input.replicas; i++) children.push(spawnReplica(input.script, spec));
    await Promise.all(children.map((c) => c.ready));
    const started = performance.now();
    for (let i = 0; i < input.accounts; i++) await queue.enqueue(accountId(i), { accountId: accountId(i), reason: 'bench', attempt: 0 });
    // The fault run: K kills at random instants of the expected round, each replica replaced at once.
    const killAt = Array.from({ length: input.kills }, () => (0.1 + 0.7 * Math.random()) * input.killWindowMs).sort((a, b) => a - b);
    let kills = 0;
    const delivered = () => new Set(sendgrid.mails.filter((m) => m.window && !m.failure).map((m) => m.to)).size;
    let lastDigestAt = started;
    let seen = 0;
    for (;;) {
      const elapsed = performance.now() - started;
      if (kills < killAt.length && elapsed >= killAt[kills]!) {
        const alive = children.filter((c) => c.process.exitCode === null && c.process.signalCode === null);
        const victim = alive[Math.floor(Math.random() * alive.length)];
        if (victim) {
          victim.process.kill('SIGKILL');
          input.say(
            `    killed a replica (pid ${victim.process.pid}) at ${(elapsed / 1000).toFixed(1)} s, ${delivered()} accounts delivered so far`,
          );
          const replacement = spawnReplica(input.script, spec);
          children.push(replacement);
        }
        kills++;
      }
      const count = sendgrid.mails.length;
      if (count !== seen) {
        seen = count;
        lastDigestAt = performance.now();
      }
      if (delivered() >= input.accounts && kills >= killAt.length && (await openJobs(pool)) === 0) break;
      if (performance.now() - lastDigestAt > 120_000)
        throw new Error(`round stalled: ${delivered()} of ${input.accounts} accounts delivered`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const roundMs = lastDigestAt - started;
    for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGTERM');
    const results = await Promise.all(children.map((c) => c.result));
    return {
      replicas: input.replicas,
      roundMs,
      peakRssMiB: results.map((r) => (r ? Math.round((r.peakRssKiB / 1024) * 10) / 10 : null)),
      runs: results.map((r) => r?.runs ?? -1),
      kills,
      counts: countMails(sendgrid.mails, input.accounts),
    };
  } finally {
    for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
    await queue.stop(1000).catch(() => undefined);
    await pool.end();
    sendgrid.server.close();
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
    await admin.end();
  }
}

export async function replicasBench(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      accounts: { type: 'string', default: '200' },
      'events-per-account': { type: 'string', default: '20000' },
      replicas: { type: 'string', default: '1,2,3' },
      concurrency: { type: 'string', default: '4' },
      'latency-ms': { type: 'string', default: '300' },
      'send-latency-ms': { type: 'string', default: '200' },
      kills: { type: 'string', default: '3' },
      'database-url': { type: 'string' },
      json: { type: 'string' },
    },
  });
  const say = (s: string) => process.stdout.write(`${s}\n`);
  const accounts = Number(values.accounts);
  const events = Number(values['events-per-account']);
  const replicaCounts = values.replicas.split(/[,|]/).map(Number);
  const concurrency = Number(values.concurrency);
  const kills = Number(values.kills);
  const sendLatencyMs = Number(values['send-latency-ms']);
  const serverUrl = values['database-url'] ?? env.BENCH_DATABASE_URL ?? env.TEST_DATABASE_URL;
  if (!serverUrl)
    throw new Error(
      'the replica bench needs PostgreSQL: pass --database-url or set BENCH_DATABASE_URL (a server where it may create databases)',
    );
  const script = join(dirname(fileURLToPath(import.meta.url)), 'bench.js');

  say(
    `replicas bench: ${accounts} accounts × ${events.toLocaleString('en-US')} events, replicas ${replicaCounts.join(', ')}, WORKER_CONCURRENCY=${concurrency}, ${values['latency-ms']} ms a page, SendGrid answers in ${sendLatencyMs} ms`,
  );
  say(
    `  machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`,
  );
  const day = generateDemoDay({ end: new Date(WINDOW_END), benignCount: events }).events;
  const simulator = await createLastPassSimulator({
    accountNumber: ACCOUNT,
    apiSecret: SECRET,
    events: day,
    delayMs: Number(values['latency-ms']),
  });
  const rounds: RoundResult[] = [];
  try {
    for (const replicas of replicaCounts) {
      say(`  round: ${replicas} replica(s)…`);
      const r = await runRound({
        serverUrl,
        script,
        lastpassUrl: simulator.url,
        accounts,
        concurrency,
        replicas,
        kills: 0,
        killWindowMs: 0,
        sendLatencyMs,
        say,
      });
      rounds.push(r);
      say(
        `    ${(r.roundMs / 1000).toFixed(1)} s for the round · peak RSS per replica ${r.peakRssMiB.join(', ')} MiB · runs per replica ${r.runs.join(', ')} · ${JSON.stringify(r.counts)}`,
      );
    }
    const base = rounds.find((r) => r.replicas === 1);
    for (const r of rounds) {
      if (base && r !== base)
        say(
          `  throughput ${r.replicas} replicas / 1: ${(base.roundMs / r.roundMs).toFixed(2)}×${r.replicas === 2 ? ' (target ≥ 1.7×)' : ''}`,
        );
    }
    let fault: RoundResult | null = null;
    if (kills > 0) {
      const replicas = Math.max(2, ...replicaCounts);
      const expected = rounds.find((r) => r.replicas === replicas)?.roundMs ?? base?.roundMs ?? 60_000;
      say(
        `  fault run: ${replicas} replicas, ${kills} SIGKILLs at random points (each replaced at once; takeover bound ${TAKEOVER_SECONDS} s)…`,
      );
      fault = await runRound({
        serverUrl,
        script,
        lastpassUrl: simulator.url,
        accounts,
        concurrency,
        replicas,
        kills,
        killWindowMs: expected,
        sendLatencyMs,
        say,
      });
      const c = fault.counts;
      say(
        `    ${(fault.roundMs / 1000).toFixed(1)} s · delivered once ${c.deliveredOnce} · again with the "Possible duplicate" notice ${c.withNotice} · duplicated without it ${c.duplicatedWithoutNotice} · missing ${c.missing} · failure notices ${c.failureNotices}`,
      );
    }
    const jsonPath = resolve(values.json ?? join(dirname(fileURLToPath(import.meta.url)), '../../bench/results/replicas.json'));
    await mkdir(dirname(jsonPath), { recursive: true });
    await writeFile(
      jsonPath,
      `${JSON.stringify({ accounts, events, concurrency, latencyMs: Number(values['latency-ms']), sendLatencyMs, rounds, fault, version: VERSION }, null, 2)}\n`,
    );
    say(`  figures written to ${jsonPath}`);
    const bad = [...rounds, ...(fault ? [fault] : [])].some((r) => r.counts.missing > 0 || r.counts.duplicatedWithoutNotice > 0);
    return bad ? 1 : 0;
  } finally {
    await simulator.close();
  }
}
