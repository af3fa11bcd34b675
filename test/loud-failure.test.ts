/**
 * Every failure is loud (issue #13): a store or evidence failure at any stage of `run` (setting the store
 * up, reading state, recording the delivery, writing the bundle) sends the FAILED notice through SendGrid
 * (the loopback fake) and pings HEARTBEAT_URL/fail (a loopback server), and exits 1; when the notice itself
 * cannot go out, stderr says so in one plain line. The commands run in process with the real adapters; the
 * failures are real: DATA_DIR replaced by a file, PostgreSQL on a closed port, and PostgreSQL going away
 * mid-run behind a TCP proxy that the test cuts at a named step of the run.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/commands/dispatch.js';
import { generateDemoDay } from '../src/simulator/demo-day.js';
import { createLastPassSimulator, type LastPassSimulator } from '../src/simulator/lastpass-simulator.js';
import { createTestIo } from './support/command-io.js';
import { startFakeSendGrid, type FakeSendGrid } from './support/fake-sendgrid.js';

const SECRET = 'loud-secret-7f6e5d4c';
const SG_KEY = 'SG.loud-failure-key-0a1b2c';

interface Heartbeats {
  url: string;
  paths: string[];
  close(): Promise<void>;
}

async function startHeartbeats(): Promise<Heartbeats> {
  const paths: string[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      paths.push(req.url ?? '');
      res.writeHead(200);
      res.end('OK');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/ping/check-uuid`,
    paths,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A TCP proxy in front of PostgreSQL that `cut()` takes away at once: open connections reset, new ones refused. */
async function startProxy(target: { host: string; port: number }): Promise<{ port: number; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let open = true;
  const cut = () => {
    if (!open) return;
    open = false;
    server.close();
    for (const s of sockets) s.destroy();
  };
  return { port, cut, close: async () => cut() };
}

async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let dir: string;
let simulator: LastPassSimulator;
let sendgrid: FakeSendGrid;
let heartbeats: Heartbeats;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lpad-loud-'));
  simulator = await createLastPassSimulator({
    accountNumber: '8771234',
    apiSecret: SECRET,
    events: generateDemoDay({ end: new Date(), benignCount: 300 }).events,
  });
  sendgrid = await startFakeSendGrid();
  heartbeats = await startHeartbeats();
});
afterEach(async () => {
  await simulator.close();
  await sendgrid.close();
  await heartbeats.close();
  await rm(dir, { recursive: true, force: true });
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    LASTPASS_ACCOUNT_NUMBER: '8771234',
    LASTPASS_API_KEY: SECRET,
    LASTPASS_API_URL: simulator.url,
    SENDGRID_API_KEY: SG_KEY,
    SENDGRID_API_URL: sendgrid.url,
    REPORT_FROM: 'digest@example.org',
    REPORT_TO: 'secops@example.org',
    DATA_DIR: join(dir, 'data'),
    HEARTBEAT_URL: heartbeats.url,
    ...extra,
  };
}

interface Mail {
  subject: string;
  content: { type: string; value: string }[];
  custom_args: Record<string, string>;
}
const mails = () => sendgrid.requests.filter((r) => r.path === '/v3/mail/send').map((r) => r.body as Mail);
const notices = () => mails().filter((m) => m.custom_args.digest_failure !== undefined);
const digests = () => mails().filter((m) => m.custom_args.digest_failure === undefined);
/** The plain-text part with its line wrapping undone. */
const text = (m: Mail) => (m.content.find((c) => c.type === 'text/plain')?.value ?? '').replace(/\s+/g, ' ');

/** `run` in process; `at` names a step of the run (src/run-report.ts checkpoints) where `fault` strikes. */
async function run(environment: Record<string, string>, at?: string, fault?: () => void) {
  const io = createTestIo({ env: environment, cwd: dir });
  if (at && fault) {
    let struck = false;
    io.checkpoint = (name) => {
      if (name === at && !struck) {
        struck = true;
        fault();
      }
    };
  }
  const code = await runCli(['run'], io);
  return { code, stdout: io.stdout.text(), stderr: io.stderr.text() };
}

function expectLoud(result: { code: number; stdout: string; stderr: string }, says: RegExp): void {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stdout).toContain('FAILED');
  expect(notices()).toHaveLength(1);
  expect(notices()[0]!.subject).toMatch(/^FAILED/);
  expect(text(notices()[0]!)).toMatch(says);
  expectFailPings(heartbeats.paths);
  for (const out of [result.stdout, result.stderr, JSON.stringify(mails())]) {
    expect(out).not.toContain(SECRET);
    expect(out).not.toContain(SG_KEY);
  }
}

/** Replaces DATA_DIR by a plain file: every read and write under it fails (ENOTDIR), also for root. */
const replaceDataDirByFile = () => {
  rmSync(join(dir, 'data'), { recursive: true, force: true });
  writeFileSync(join(dir, 'data'), 'not a directory');
};

describe('a storage failure on the file store is loud', () => {
  it('DATA_DIR that cannot be created (its parent is a file): FAILED notice, /fail, exit 1', async () => {
    await writeFile(join(dir, 'blocker'), 'a file where a directory should be');
    const result = await run(env({ DATA_DIR: join(dir, 'blocker', 'data') }));
    expectLoud(result, /could not read or write its store/);
    expect(text(notices()[0]!)).toMatch(/DATA_DIR/);
    expect(digests()).toHaveLength(0);
  });

  it('worker: a store that cannot be set up at start sends the FAILED notice and /fail at once, and the worker stays up', async () => {
    await writeFile(join(dir, 'blocker'), 'a file where a directory should be');
    const io = createTestIo({ env: env({ DATA_DIR: join(dir, 'blocker', 'data'), REPORT_RETRY_MINUTES: 'off' }), cwd: dir });
    const exited = runCli(['worker'], io);
    await expect.poll(() => notices().length, { timeout: 20_000 }).toBe(1);
    await expect.poll(() => heartbeats.paths.includes('/ping/check-uuid/fail'), { timeout: 10_000 }).toBe(true);
    expect(text(notices()[0]!)).toMatch(/could not read or write its store/);
    expect(io.stderr.text()).toMatch(/"msg":"account\.store_init_failed"/);
    // Still running (a supervisor's restart loop would send a notice per restart): it stops when told to.
    expect(io.raise('SIGTERM')).toBe(true);
    expect(await exited).toBe(0);
    expect(notices()).toHaveLength(1);
    expect(digests()).toHaveLength(0);
  });

  it('DATA_DIR removed while the run reads its state: FAILED notice, /fail, exit 1', async () => {
    const result = await run(env(), 'run.locked', replaceDataDirByFile);
    expectLoud(result, /could not read or write its store/);
    expect(digests()).toHaveLength(0);
  });

  it('DATA_DIR removed after the digest was sent, before it was recorded: the notice says it was sent and will be re-sent', async () => {
    const result = await run(env(), 'delivery.sent', replaceDataDirByFile);
    expect(digests()).toHaveLength(1);
    expectLoud(result, /digest was sent \(SendGrid message id fake-msg-1\), but the store could not record it as delivered/);
  });

  it('the evidence bundle cannot be written: the digest is delivered, then a FAILED notice about the evidence, /fail, exit 1', async () => {
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(join(dir, 'data', 'evidence'), 'not a directory');
    const result = await run(env());
    expect(digests()).toHaveLength(1);
    expect(result.stdout).toContain('EVIDENCE FAILED');
    expect(result.code).toBe(1);
    expect(notices()).toHaveLength(1);
    expect(text(notices()[0]!)).toMatch(
      /digest was delivered \(SendGrid message id fake-msg-1\), but its compliance evidence bundle could not be written/,
    );
    expect(text(notices()[0]!)).toMatch(/^FAILED AFTER DELIVERY: THE DIGEST WAS SENT/);
    expect(notices()[0]!.subject).toMatch(/^FAILED after delivery: /);
    expect(text(notices()[0]!)).toContain('it records that this run failed after the digest of this window was sent');
    expect(text(notices()[0]!)).not.toMatch(/NOT PRODUCED|not reviewed/);
    expectFailPings(heartbeats.paths);
  });

  it('when the FAILED notice cannot be sent either (SendGrid answers 401): one plain stderr line, and /fail', async () => {
    sendgrid.script.push({ status: 401, body: { errors: [{ message: 'The provided authorization grant is invalid' }] } });
    const result = await run(env(), 'run.locked', replaceDataDirByFile);
    expect(result.code).toBe(1);
    expect(mails()).toHaveLength(1); // the notice was tried, and refused
    expectFailPings(heartbeats.paths);
    const plain = result.stderr.split('\n').filter((l) => l.startsWith('lastpass-audit-digest: '));
    expect(plain).toEqual([
      expect.stringMatching(/FAILED and the FAILED notice could not be sent either \(.*SendGrid.*\); a \/fail ping was sent/),
    ]);
  });
});

describe('a storage failure on PostgreSQL is loud', () => {
  it('DATABASE_URL on a closed port: FAILED notice, /fail, exit 1, no password shown', async () => {
    const port = await closedPort();
    const result = await run(env({ DATABASE_URL: `postgresql://digest:pw-9d8c7b@127.0.0.1:${port}/digest` }));
    expectLoud(result, /could not read or write its store/);
    expect(text(notices()[0]!)).toMatch(/PostgreSQL is unreachable/);
    for (const out of [result.stdout, result.stderr, JSON.stringify(mails())]) expect(out).not.toContain('pw-9d8c7b');
  });

  const serverUrl = process.env.TEST_DATABASE_URL;
  describe.skipIf(!serverUrl)('PostgreSQL going away mid-run (a throwaway database behind a proxy that is cut)', () => {
    let admin: pg.Pool;
    let database: string;
    let proxy: Awaited<ReturnType<typeof startProxy>>;
    let url: string;
    beforeEach(async () => {
      admin = new pg.Pool({ connectionString: serverUrl!, max: 1 });
      database = `lpad_loud_${randomBytes(5).toString('hex')}`;
      await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
      const target = new URL(serverUrl!);
      proxy = await startProxy({ host: target.hostname, port: Number(target.port || 5432) });
      target.host = `127.0.0.1:${proxy.port}`;
      target.pathname = `/${database}`;
      url = target.toString();
    });
    afterEach(async () => {
      await proxy.close();
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
      await admin.end();
    });

    it('gone while the run reads its state: FAILED notice, /fail, exit 1', async () => {
      const result = await run(env({ DATABASE_URL: url }), 'run.locked', () => proxy.cut());
      expectLoud(result, /could not read or write its store/);
      expect(digests()).toHaveLength(0);
    });

    it('gone after the digest was sent, before it was recorded: FAILED notice saying so, /fail, exit 1', async () => {
      const result = await run(env({ DATABASE_URL: url }), 'delivery.sent', () => proxy.cut());
      expect(digests()).toHaveLength(1);
      expectLoud(result, /digest was sent \(SendGrid message id fake-msg-1\), but the store could not record it as delivered/);
    });
  });
});

/** A run that held the lock pinged /start first (one whose store could not even be set up did not); then only /fail. */
function expectFailPings(paths: readonly string[]): void {
  expect(paths.filter((p) => p !== '/ping/check-uuid/start')).toEqual(['/ping/check-uuid/fail']);
  expect(paths.at(-1)).toBe('/ping/check-uuid/fail');
}
