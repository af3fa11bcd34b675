/**
 * kill -9 at every step of a run, then restart: nothing is lost, nothing is sent twice unmarked.
 *
 * The built CLI (`node dist/cli.js run`) runs in a child process against the embedded LastPass
 * simulator (~25,000 events, so the fetch takes 3 pages of 10,000) and the loopback fake SendGrid.
 * `LAD_CRASH_AT=<step>[#n]` makes the child SIGKILL itself the n-th time it reaches a checkpoint of the
 * run (run-report.ts) or of the store's writes (file-store.ts / postgres-store.ts); the "during send" point
 * is made here: the fake SendGrid takes the message and holds its answer, and the test kills the child.
 * After each kill, one or two normal runs, then the invariants of test/support/digest-coverage.ts.
 *
 * The CLI has no clock injection, so the clock is the real one: coverage is seeded to end 24 h before the
 * test, and each run covers from the cursor to its own "now".
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RawEvent } from '../src/core/types.js';
import { generateDemoDay } from '../src/simulator/demo-day.js';
import { createLastPassSimulator, type LastPassSimulator } from '../src/simulator/lastpass-simulator.js';
import { createFileStore } from '../src/store/file-store.js';
import { createPostgresStore } from '../src/store/postgres-store.js';
import { thisProcess } from './support/process-info.js';
import type { DeliveredWindow } from '../src/core/run-state.js';
import { runCli, startCli, type CliResult } from './support/cli.js';
import { coverageViolations, sentDigests, sentFailureNotices, stateViolations, type StateView } from './support/digest-coverage.js';
import { startFakeSendGrid, type FakeSendGrid } from './support/fake-sendgrid.js';
import { testDatabaseUrl } from './support/postgres.js';
import type { Store } from '../src/ports.js';

const SECRET = 'crash-secret-5e4d3c2b1a';
const SG_KEY = 'SG.crash-test-key-9f8e7d';
const DAY_MS = 86_400_000;
/** The "during send" point: SendGrid has the message, the sender never hears back. */
const DURING_SEND = 'during-send';

interface CrashCase {
  /** LAD_CRASH_AT values (or DURING_SEND) of the runs that get killed, in order. */
  crashes: string[];
  /** Normal runs after the kills (the first one is the repair run). */
  restarts: 1 | 2;
  what: string;
}

// The file store's write lock: #1 is taken by init(), #2 by beginDelivery, #3 by completeDelivery.
// Its state.json replacements: #1 is the delivery intent, #2 the delivered window.
const FILE_CASES: CrashCase[] = [
  { crashes: ['run.locked'], restarts: 2, what: 'holding the run lock, before reading state' },
  { crashes: ['fetch.page.1'], restarts: 1, what: 'fetch, after page 1' },
  { crashes: ['fetch.page.2'], restarts: 1, what: 'fetch, after page 2' },
  { crashes: ['fetch.page.3'], restarts: 1, what: 'fetch, after page 3 (the last)' },
  { crashes: ['analysis.done'], restarts: 1, what: 'analysis done' },
  { crashes: ['render.done'], restarts: 1, what: 'rendered, before the intent' },
  { crashes: ['store.write_lock.held#2'], restarts: 1, what: 'state write lock held for the intent (state.lock left behind)' },
  { crashes: ['store.state.tmp_written#1'], restarts: 1, what: 'intent: temp file written, not renamed' },
  { crashes: ['store.state.renamed#1'], restarts: 1, what: 'intent: state.json renamed, directory not synced' },
  { crashes: ['store.intent.written'], restarts: 1, what: 'intent recorded (store)' },
  { crashes: ['delivery.intent_recorded'], restarts: 2, what: 'before send, intent recorded' },
  { crashes: [DURING_SEND], restarts: 2, what: 'during send: SendGrid has it, no answer yet' },
  { crashes: ['delivery.sent'], restarts: 2, what: 'after send (202), before recording' },
  { crashes: ['store.write_lock.held#3'], restarts: 1, what: 'recording: write lock held, nothing written' },
  { crashes: ['store.history.tmp_written'], restarts: 1, what: 'recording: history temp file written, not renamed' },
  { crashes: ['store.history.renamed'], restarts: 1, what: 'recording: history.json renamed, not synced' },
  { crashes: ['store.history.written'], restarts: 2, what: 'recording: history applied, state.json not yet' },
  { crashes: ['store.state.tmp_written#2'], restarts: 1, what: 'recording: state temp file written, not renamed' },
  { crashes: ['store.state.renamed#2'], restarts: 1, what: 'recording: state.json renamed, not synced' },
  { crashes: ['store.delivery.written'], restarts: 1, what: 'recording done (store)' },
  { crashes: ['delivery.recorded'], restarts: 1, what: 'recorded, before releasing the run lock' },
  { crashes: ['fetch.page.2', 'delivery.intent_recorded'], restarts: 1, what: 'killed twice: mid-fetch, then the repair run before send' },
];

const PG_CASES: CrashCase[] = [
  { crashes: ['run.locked'], restarts: 2, what: 'holding the advisory run lock' },
  { crashes: ['fetch.page.2'], restarts: 1, what: 'fetch, after page 2' },
  { crashes: ['store.delivery.uncommitted'], restarts: 1, what: 'recording: rows written, before COMMIT' },
  { crashes: ['store.delivery.written'], restarts: 1, what: 'recording committed' },
];

let events: RawEvent[];
beforeAll(() => {
  // ~25,000 events over the last 24 h: 3 pages of 10,000 for a run that starts now.
  events = generateDemoDay({ end: new Date(Date.now() + 120_000), benignCount: 25_000 }).events;
});

interface Backend {
  env: Record<string, string>;
  /** A store on the same data, for seeding and reading the state in the test process. */
  openStore(): Store;
  /** Extra checks: no lock or temp file left behind. */
  leftovers(): Promise<string[]>;
}

interface Harness {
  dir: string;
  simulator: LastPassSimulator;
  sendgrid: FakeSendGrid;
}

async function startHarness(): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'lpad-crash-'));
  const simulator = await createLastPassSimulator({ accountNumber: '8771234', apiSecret: SECRET, events });
  const sendgrid = await startFakeSendGrid();
  return { dir, simulator, sendgrid };
}

async function stopHarness(h: Harness | undefined): Promise<void> {
  if (!h) return;
  await h.simulator.close();
  await h.sendgrid.close();
  await rm(h.dir, { recursive: true, force: true });
}

function baseEnv(h: Harness): Record<string, string> {
  return {
    LASTPASS_ACCOUNT_NUMBER: '8771234',
    LASTPASS_API_KEY: SECRET,
    LASTPASS_API_URL: h.simulator.url,
    SENDGRID_API_KEY: SG_KEY,
    SENDGRID_API_URL: h.sendgrid.url,
    REPORT_FROM: 'Digest <digest@example.org>',
    REPORT_TO: 'secops@example.org',
    DATA_DIR: join(h.dir, 'data'),
    LOG_LEVEL: 'warn',
  };
}

/** Coverage delivered up to 24 h ago (a seed window), so the crashed run's window has a fixed start. */
async function seed(store: Store): Promise<number> {
  await store.init();
  const end = Date.now() - DAY_MS;
  const seedWindow: DeliveredWindow = {
    key: 'seed',
    start: new Date(end - DAY_MS).toISOString(),
    end: new Date(end).toISOString(),
    deliveredAt: new Date(end).toISOString(),
    messageId: 'seed',
    marker: 'seed',
    summary: { eventsReviewed: 0, high: 0, medium: 0, low: 0, info: 0, byCategory: {} },
  };
  await store.completeDelivery(seedWindow);
  await store.close();
  return end;
}

/** One run that must die at the crash point (exit by SIGKILL, so `code` is null). */
async function crashRun(h: Harness, backend: Backend, point: string): Promise<CliResult & { point: string }> {
  if (point === DURING_SEND) {
    const held = h.sendgrid.holdNextSend();
    const cli = startCli(['run'], backend.env, h.dir);
    const timeout = setTimeout(() => cli.child.kill('SIGKILL'), 30_000);
    await Promise.race([held, cli.exited]);
    cli.child.kill('SIGKILL');
    const code = await cli.exited;
    clearTimeout(timeout);
    return { code, stdout: cli.output(), stderr: '', point };
  }
  return { ...(await runCli(['run'], { ...backend.env, LAD_CRASH_AT: point }, h.dir, 30_000)), point };
}

async function crashAndRecover(h: Harness, backend: Backend, c: CrashCase): Promise<void> {
  const store = backend.openStore();
  const coveredFrom = await seed(store);

  for (const point of c.crashes) {
    const crashed = await crashRun(h, backend, point);
    // Reaching the point is part of the test: a run that finishes normally crashed nowhere.
    expect(
      crashed.code,
      `the run was to be killed at ${point}, but it exited with ${crashed.code}:\n${crashed.stdout}\n${crashed.stderr}`,
    ).toBeNull();
  }
  // Window keys have second resolution: a restart within the same second as the killed run would plan the
  // very same key by luck. A real restart takes longer; make the next "now" fall in a later second.
  await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));

  for (let i = 0; i < c.restarts; i++) {
    const run = await runCli(['run'], backend.env, h.dir, 30_000);
    expect(run.stdout, 'the restart was refused: a lock was left blocking').not.toContain('Another run holds the lock');
    expect(run.code, `restart ${i + 1} failed:\n${run.stdout}\n${run.stderr}`).toBe(0);
  }

  const reader = backend.openStore();
  let state: StateView;
  try {
    state = await reader.readState();
    // And the lock is free for whoever comes next.
    const lock = await reader.tryLock('crash-test-probe');
    expect(lock, 'the run lock is still held after the repair run').not.toBeNull();
    await lock?.release();
  } finally {
    await reader.close();
  }

  const digests = sentDigests(h.sendgrid.requests);
  const problems = [
    ...coverageViolations(digests, coveredFrom, Date.parse(state.cursor ?? '1970-01-01T00:00:00Z')),
    ...stateViolations({ ...state, delivered: state.delivered.filter((d) => d.key !== 'seed') }, digests),
    ...sentFailureNotices(h.sendgrid.requests).map((s) => `a failure notice was sent: ${s}`),
    ...(await backend.leftovers()),
  ];
  expect(
    problems,
    `after a kill at ${c.crashes.join(' then ')} (${c.what}); digests sent: ${digests.map((d) => `${d.key} marker=${d.marker} attempt=${d.attempt}`).join(', ')}`,
  ).toEqual([]);
  expect(digests.length).toBeGreaterThan(0);
}

describe('kill -9 at any point, then restart (file store)', () => {
  let h: Harness | undefined;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await stopHarness(h);
    h = undefined;
  });

  function fileBackend(harness: Harness): Backend {
    const dataDir = join(harness.dir, 'data');
    return {
      env: baseEnv(harness),
      openStore: () => createFileStore({ dir: dataDir, processInfo: thisProcess(), now: () => new Date() }),
      leftovers: async () => {
        const names = await readdir(dataDir);
        const problems = names
          .filter((n) => n === 'run.lock' || n === 'state.lock' || n.endsWith('.break') || n.endsWith('.tmp'))
          .map((n) => `${n} was left in DATA_DIR after the repair run`);
        try {
          JSON.parse(await readFile(join(dataDir, 'state.json'), 'utf8'));
        } catch (error) {
          problems.push(`state.json does not parse: ${String(error)}`);
        }
        return problems;
      },
    };
  }

  it('the fetch really takes 3 pages (so fetch.page.3 is a point inside the fetch)', async () => {
    const backend = fileBackend(h!);
    await seed(backend.openStore());
    const run = await runCli(['run'], backend.env, h!.dir, 30_000);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    // The run's own checks (clock probes, zone self-check) are not the window's fetch.
    const ok = windowFetch(h!.simulator.requests.filter((r) => r.kind === 'ok'));
    expect(ok.length).toBe(3);
    expect(ok.slice(0, 2).every((r) => r.eventCount === 10_000)).toBe(true);
  });

  for (const c of FILE_CASES) {
    const label = c.crashes.map((p) => (p === DURING_SEND ? 'during send (test kills it)' : `LAD_CRASH_AT=${p}`)).join(', then ');
    it(`${label} — ${c.what}: ${c.restarts} restart(s) deliver every window once, state repaired`, async () => {
      await crashAndRecover(h!, fileBackend(h!), c);
    }, 60_000);
  }
});

// ---- PostgreSQL ------------------------------------------------------------------------------------

const serverUrl = testDatabaseUrl();
if (!serverUrl) {
  console.warn(
    '[crash.test] TEST_DATABASE_URL is unset: the PostgreSQL crash cases are SKIPPED (the CLI child needs a real server; PGlite lives inside the test process).',
  );
}

describe.skipIf(!serverUrl)('kill -9 at any point, then restart (PostgreSQL, a throwaway database)', () => {
  let admin: pg.Pool;
  let h: Harness | undefined;
  let database: string | undefined;
  let databaseUrl: string;

  beforeAll(() => {
    admin = new pg.Pool({ connectionString: serverUrl!, max: 1 });
  });
  afterAll(async () => {
    await admin.end();
  });
  beforeEach(async () => {
    h = await startHarness();
    // createStore uses the default schema and DATABASE_URL cannot choose another: one database per case.
    database = `lpad_crash_${randomBytes(5).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
    const url = new URL(serverUrl!);
    url.pathname = `/${database}`;
    databaseUrl = url.toString();
  });
  afterEach(async () => {
    await stopHarness(h);
    h = undefined;
    if (database) await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
    database = undefined;
  });

  function pgBackend(harness: Harness): Backend {
    return {
      env: { ...baseEnv(harness), DATABASE_URL: databaseUrl },
      openStore: () => createPostgresStore({ connectionString: databaseUrl, maxConnections: 2, now: () => new Date() }),
      leftovers: async () => {
        const problems: string[] = [];
        const open = async () =>
          (
            await admin.query<{ n: string }>(
              "SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'lastpass-audit-digest'",
              [database],
            )
          ).rows[0]?.n ?? '0';
        // The server ends a killed client's backend when it reads the closed socket, and its row leaves
        // pg_stat_activity when that backend has exited: on a loaded machine that can take a moment after
        // the process is gone. A connection still open after 10 s is a leak.
        let n = await open();
        for (let waited = 0; n !== '0' && waited < 10_000; waited += 100) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          n = await open();
        }
        if (n !== '0') problems.push(`${n} connection(s) of a dead run are still open`);
        return problems;
      },
    };
  }

  for (const c of PG_CASES) {
    it(`LAD_CRASH_AT=${c.crashes.join(', then ')} — ${c.what}: restart delivers every window once, state repaired`, async () => {
      await crashAndRecover(h!, pgBackend(h!), c);
    }, 60_000);
  }
});

/**
 * The requests of the window's fetch: not the run's clock probes (one second each, before the window is
 * planned) nor its zone self-check (from the run's start on); all of the fetch asks from the window's start.
 */
function windowFetch<T extends { body: unknown }>(requests: T[]): T[] {
  const range = (r: T) => (r.body as { data?: { from?: string; to?: string } } | null)?.data ?? {};
  const fetches = requests.filter((r) => range(r).from !== range(r).to);
  const from = fetches[0] ? range(fetches[0]).from : undefined;
  return fetches.filter((r) => range(r).from === from);
}
