/**
 * No secret leaks, whatever an upstream sends back. Every failing path we have runs through the real
 * pipeline (the CLI in process: the real LastPass client against the simulator on loopback, the real
 * @sendgrid/mail client against test/support/fake-sendgrid.ts, the real file store and PostgreSQL store,
 * the real evidence archive, the worker with its heartbeat) with distinctive secrets, while the upstreams
 * echo the request back in their error bodies (as some gateways do). Then EVERY artifact is scanned for
 * every form of every secret: stdout, stderr (the log lines), every file under DATA_DIR (outbox,
 * state.json, history, evidence, gzip decompressed), every row of every table of the PostgreSQL store
 * (evidence chunks reassembled and decompressed), every request SendGrid received (the mail bodies,
 * attachments decoded) and every heartbeat body. The forms are computed here, independently of the
 * redactor: raw, encodeURIComponent, form encoding, lower-case hex, base64/base64url at every offset,
 * JSON-escaped (also with \/), HTML-escaped.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli as dispatch } from '../src/commands/dispatch.js';
import { generateDemoDay } from '../src/simulator/demo-day.js';
import { createLastPassSimulator, type LastPassSimulator, type SimulatorOverride } from '../src/simulator/lastpass-simulator.js';
import { createFileStore } from '../src/store/file-store.js';
import { createTestIo, runInProcess } from './support/command-io.js';
import { startFakeSendGrid, type FakeSendGrid } from './support/fake-sendgrid.js';
import { thisProcess } from './support/process-info.js';

// Distinctive secrets, with the characters that make their encodings differ ('/', '+', '=').
const LP_SECRET = 'Lp7f3a/9c1e+5b2d=8046ScanSecretQx';
const SG_KEY = 'SG.scanKey1a2b3c4d5e6f.Zx9Yw8Vu7Ts6Rq5Po4Nm3';
const HEARTBEAT_TOKEN = '5ca1ab1e-0000-4b1d-8e57-c0ffee5ec2e7';
const SIGNING_KEY = 'evidence-hmac-ScanSecret-0042-xyz';
const URL_PASSWORD = 'UrlPassw0rdScan';
const WEBHOOK_TOKEN = 'B0WEBHOOK7scan/XyZ9tokenQ42';

/** Every form of `secret` an artifact could hold it in (computed here, not by the redactor under test). */
function formsOf(secret: string): string[] {
  const forms = new Set<string>([secret]);
  const uri = encodeURIComponent(secret);
  forms.add(uri);
  forms.add(uri.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()));
  forms.add(new URLSearchParams({ k: secret }).toString().slice(2));
  const json = JSON.stringify(secret).slice(1, -1);
  forms.add(json);
  forms.add(json.replace(/\//g, '\\/'));
  forms.add(secret.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;'));
  for (let offset = 0; offset < 3; offset++) {
    const b64 = Buffer.concat([Buffer.alloc(offset), Buffer.from(secret)]).toString('base64');
    const core = b64.slice(Math.ceil((offset * 8) / 6), Math.floor(((offset + secret.length) * 8) / 6));
    forms.add(core);
    forms.add(core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return [...forms];
}

const SECRETS: Record<string, string> = {
  'LastPass API secret': LP_SECRET,
  'SendGrid key': SG_KEY,
  'heartbeat token': HEARTBEAT_TOKEN,
  'evidence signing key': SIGNING_KEY,
  'URL password': URL_PASSWORD,
  'alarm webhook token': WEBHOOK_TOKEN,
};

/** Where each secret form was found: [] when none. */
function leaks(artifacts: Record<string, string>): string[] {
  const found: string[] = [];
  for (const [name, secret] of Object.entries(SECRETS)) {
    for (const form of formsOf(secret)) {
      for (const [where, text] of Object.entries(artifacts)) if (text.includes(form)) found.push(`${name} (${form}) in ${where}`);
    }
  }
  return found;
}

const isGzip = (b: Buffer) => b.length > 2 && b[0] === 0x1f && b[1] === 0x8b;
const textOf = (b: Buffer) => (isGzip(b) ? gunzipSync(b) : b).toString('utf8');

async function filesUnder(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  let entries: string[] = [];
  try {
    entries = (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name));
  } catch {
    return out;
  }
  for (const path of entries) out[`file ${path.slice(dir.length)}`] = textOf(await readFile(path));
  return out;
}

/** Every row of every table in the database (bytea evidence chunks reassembled per file, gunzipped). */
async function databaseRows(url: string): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: url });
  // DROP DATABASE … WITH (FORCE) in afterEach ends this session if it is still closing: not an error here.
  client.on('error', () => {});
  await client.connect();
  const out: Record<string, string> = {};
  try {
    const tables = await client.query<{ s: string; t: string }>(
      "SELECT table_schema AS s, table_name AS t FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')",
    );
    expect(tables.rows.length).toBeGreaterThan(3);
    for (const { s, t } of tables.rows) {
      const rows = await client.query(`SELECT * FROM ${pg.escapeIdentifier(s)}.${pg.escapeIdentifier(t)}`);
      const files = new Map<string, Buffer[]>();
      const plain: unknown[] = [];
      for (const row of rows.rows as Record<string, unknown>[]) {
        if (Buffer.isBuffer(row.data) && typeof row.path === 'string') {
          const key = `${String(row.run_id)}/${row.path}`;
          const chunks = files.get(key) ?? [];
          chunks[Number(row.chunk_no)] = row.data;
          files.set(key, chunks);
        } else {
          plain.push(row);
        }
      }
      out[`table ${s}.${t}`] = JSON.stringify(plain);
      for (const [key, chunks] of files) out[`table ${s}.${t} file ${key}`] = textOf(Buffer.concat(chunks));
    }
  } finally {
    await client.end();
  }
  return out;
}

/** What SendGrid received, as sent and with the attachments (base64) decoded. */
function sendgridArtifacts(sendgrid: FakeSendGrid): Record<string, string> {
  const out: Record<string, string> = {};
  sendgrid.requests.forEach((r, i) => {
    out[`sendgrid request ${i} ${r.path}`] = JSON.stringify({
      headers: { ...r.headers, authorization: '(our own request)' },
      body: r.body,
    });
    const body = r.body as { attachments?: { content: string; filename: string }[] } | null;
    for (const a of body?.attachments ?? [])
      out[`sendgrid request ${i} attachment ${a.filename}`] = Buffer.from(a.content, 'base64').toString('utf8');
  });
  return out;
}

/** The request LastPass received, echoed in every way a gateway might. */
function echoes(body: Readonly<Record<string, unknown>> | null): { json: string; form: string; b64: string } {
  const json = JSON.stringify(body);
  const form = new URLSearchParams(
    Object.entries(body ?? {}).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
  ).toString();
  return { json, form, b64: Buffer.from(json).toString('base64') };
}

const LASTPASS_ECHOES: Record<string, SimulatorOverride> = {
  'a 500 echoing the request (text/plain)': (body) => ({
    status: 500,
    headers: { 'content-type': 'text/plain', 'retry-after': '0' },
    body: `Internal error while handling ${echoes(body).json}`,
  }),
  'a 400 echoing the request (JSON, form-encoded, base64)': (body) => {
    const e = echoes(body);
    return { status: 400, headers: { 'content-type': 'text/plain' }, body: `Bad request: ${e.json} | ${e.form} | ${e.b64}` };
  },
  'an HTML error page echoing the request (502)': (body) => {
    const e = echoes(body);
    const html = e.json.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
    return {
      status: 502,
      headers: { 'content-type': 'text/html; charset=utf-8', 'retry-after': '0' },
      body: `<html><body><p>${e.form}</p><pre>${html}</pre><!-- ${e.b64} --><h1>502 Bad Gateway</h1></body></html>`,
    };
  },
  'a {"status":"FAIL","error":…} body echoing the request': (body) => ({
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ status: 'FAIL', error: `Invalid request ${echoes(body).json} (provhash=${String(body?.provhash)})` }),
  }),
};

/** SendGrid's answers echoing the request: the Authorization header and the key in several forms. */
const sendgridEcho = (status: number) => ({
  status,
  headers: status >= 500 ? { 'retry-after': '0' } : {},
  body: {
    errors: [
      {
        message: `Request rejected: Authorization: Bearer ${SG_KEY}; key=${encodeURIComponent(SG_KEY)}; b64=${Buffer.from(`Bearer ${SG_KEY}`).toString('base64')}`,
        field: `headers ${JSON.stringify({ authorization: `Bearer ${SG_KEY}` })}`,
      },
    ],
  },
});
const SENDGRID_ECHOES: Record<string, { status: number; headers: Record<string, string>; body: unknown }[]> = {
  'a 400 echoing the request': [sendgridEcho(400)],
  'a 401 echoing the key as text': [
    { status: 401, headers: {}, body: `Unauthorized: Bearer ${SG_KEY} (${Buffer.from(SG_KEY).toString('base64')})` },
  ],
  'a 500 echoing the request, every attempt': Array.from({ length: 6 }, () => sendgridEcho(500)),
};

let dir: string;
let simulator: LastPassSimulator;
let sendgrid: FakeSendGrid;
let override: SimulatorOverride | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lpad-scan-'));
  override = undefined;
  simulator = await createLastPassSimulator({
    accountNumber: '8771234',
    apiSecret: LP_SECRET,
    events: generateDemoDay({ end: new Date(), benignCount: 300 }).events,
    override: (body, index) => override?.(body, index),
  });
  sendgrid = await startFakeSendGrid();
});
afterEach(async () => {
  await simulator.close();
  await sendgrid.close();
  await rm(dir, { recursive: true, force: true });
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    LASTPASS_ACCOUNT_NUMBER: '8771234',
    LASTPASS_API_KEY: LP_SECRET,
    LASTPASS_API_URL: simulator.url,
    SENDGRID_API_KEY: SG_KEY,
    SENDGRID_API_URL: sendgrid.url,
    REPORT_FROM: 'Digest <digest@example.org>',
    REPORT_TO: 'secops@example.org',
    HEARTBEAT_URL: `http://127.0.0.1:9/ping/${HEARTBEAT_TOKEN}`,
    EVIDENCE_SIGNING_KEY: SIGNING_KEY,
    DATA_DIR: join(dir, 'data'),
    ...extra,
  };
}

/** One failing `run`, then every artifact it left. */
async function failingRun(extraEnv: Record<string, string> = {}, databaseUrl?: string): Promise<Record<string, string>> {
  const result = await runInProcess(['run'], env({ ...extraEnv, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) }), dir);
  expect(result.code, result.stderr).toBe(1);
  return {
    stdout: result.stdout,
    stderr: result.stderr,
    ...(await filesUnder(join(dir, 'data'))),
    ...(databaseUrl ? await databaseRows(databaseUrl) : {}),
    ...sendgridArtifacts(sendgrid),
  };
}

/** The run reached the place where the leak would be: the FAILED notice went out and the error was recorded. */
function expectFailedNotice(artifacts: Record<string, string>, text: RegExp): void {
  const notices = sendgrid.requests.filter((r) => r.path === '/v3/mail/send' && JSON.stringify(r.body).includes('FAILED'));
  expect(notices.length).toBeGreaterThanOrEqual(1);
  expect(JSON.stringify(notices.at(-1)!.body)).toMatch(text);
  expect(artifacts.stderr).toMatch(/"msg":"run\.window_failed"/);
}

describe('secret scan: the file store', () => {
  it.each(Object.entries(LASTPASS_ECHOES))('LastPass answers %s: no secret in any artifact', async (_name, answer) => {
    override = answer;
    const artifacts = await failingRun();
    expectFailedNotice(artifacts, /LastPass/);
    expect(artifacts['file /state.json'] ?? '', 'state.json was written').toMatch(/LastPass/);
    expect(Object.keys(artifacts).some((k) => k.includes('delivery.json'))).toBe(true);
    expect(Object.keys(artifacts).some((k) => k.includes('failure-notice'))).toBe(true);
    expect(leaks(artifacts)).toEqual([]);
  });

  it.each(Object.entries(SENDGRID_ECHOES))('SendGrid answers %s: no secret in any artifact', async (_name, script) => {
    sendgrid.script.push(...script);
    const artifacts = await failingRun();
    expectFailedNotice(artifacts, /SendGrid/);
    expect(leaks(artifacts)).toEqual([]);
  });

  it.each(Object.entries(LASTPASS_ECHOES))('check, while LastPass answers %s: its output holds no secret', async (_name, answer) => {
    override = answer;
    const result = await runInProcess(['check'], env(), dir);
    expect(result.code, result.stdout).toBe(1);
    expect(result.stdout).toMatch(/FAIL lastpass/);
    expect(leaks({ stdout: result.stdout, stderr: result.stderr, ...(await filesUnder(join(dir, 'data'))) })).toEqual([]);
  });

  it.each(Object.entries(LASTPASS_ECHOES))(
    'run --dry-run, while LastPass answers %s: the outbox notice holds no secret',
    async (_name, answer) => {
      override = answer;
      const result = await runInProcess(['run', '--dry-run'], env(), dir);
      expect(result.code, result.stderr).toBe(1);
      const files = await filesUnder(join(dir, 'data'));
      expect(Object.keys(files).some((k) => k.includes('outbox') && k.endsWith('.html'))).toBe(true);
      expect(leaks({ stdout: result.stdout, stderr: result.stderr, ...files })).toEqual([]);
    },
  );

  it('a capped error: an upstream body of 100 kB reaches the state and the notice as at most 4 KB', async () => {
    override = (body) => ({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'FAIL', error: `${'x'.repeat(100_000)} ${echoes(body).json}` }),
    });
    const artifacts = await failingRun();
    const state = JSON.parse(artifacts['file /state.json']!) as { lastFailure?: { message?: string } };
    const recorded = JSON.stringify(state);
    expect(recorded).toMatch(/… \(\d+ bytes cut\)/);
    expect(recorded.length).toBeLessThan(10_000);
    expect(leaks(artifacts)).toEqual([]);
  });
});

describe('secret scan: the alarm webhook', () => {
  let receiver: Server;
  let bodies: string[];
  let answers: { status: number; echo: boolean }[];
  beforeEach(async () => {
    bodies = [];
    answers = [];
    // A receiver that, when told to, fails and echoes the request back (its path with the token, the body).
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        bodies.push(body);
        const answer = answers.shift() ?? { status: 200, echo: false };
        res.writeHead(answer.status, { 'content-type': 'text/plain', 'retry-after': '0' });
        res.end(answer.echo ? `rejected POST ${req.url} ${encodeURIComponent(req.url ?? '')} ${body}` : 'ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });
  const webhookEnv = () => ({
    NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/${encodeURIComponent(WEBHOOK_TOKEN)}`,
    NOTIFY_WEBHOOK_FORMAT: 'json',
  });

  it('LastPass echoing the request while the webhook carries the FAILED notice: neither the webhook nor any artifact holds a secret', async () => {
    override = LASTPASS_ECHOES['a 500 echoing the request (text/plain)'];
    const artifacts = await failingRun(webhookEnv());
    expectFailedNotice(artifacts, /LastPass/);
    expect(bodies).toHaveLength(1);
    expect(JSON.parse(bodies[0]!)).toMatchObject({ kind: 'failed' });
    expect(leaks({ ...artifacts, ...Object.fromEntries(bodies.map((b, i) => [`webhook body ${i}`, b])) })).toEqual([]);
  });

  it('a webhook that fails echoing its URL and the request: the error logged and recorded holds no secret', async () => {
    override = LASTPASS_ECHOES['a {"status":"FAIL","error":…} body echoing the request'];
    answers.push(...Array.from({ length: 6 }, () => ({ status: 500, echo: true })));
    answers.unshift({ status: 404, echo: true });
    const artifacts = await failingRun(webhookEnv());
    expect(artifacts.stderr).toMatch(/"msg":"notify\.failed"/);
    expect(bodies.length).toBeGreaterThanOrEqual(1);
    expect(leaks({ ...artifacts, ...Object.fromEntries(bodies.map((b, i) => [`webhook body ${i}`, b])) })).toEqual([]);
  });
});

describe('secret scan: configured URLs with credentials', () => {
  it.each(['LASTPASS_API_URL', 'SENDGRID_API_URL', 'HEARTBEAT_URL'])(
    '%s with user:password@ is refused (exit 2) without a trace of them',
    async (name) => {
      const url = new URL(
        name === 'LASTPASS_API_URL' ? simulator.url : name === 'SENDGRID_API_URL' ? sendgrid.url : `http://127.0.0.1:9/ping/x`,
      );
      url.username = 'scanuser';
      url.password = URL_PASSWORD;
      for (const command of ['run', 'check']) {
        const result = await runInProcess([command], env({ [name]: url.toString() }), dir);
        expect(result.code).toBe(2);
        expect(result.stderr).toMatch(new RegExp(`${name} contains credentials`));
        expect(leaks({ stdout: result.stdout, stderr: result.stderr, ...(await filesUnder(join(dir, 'data'))) })).toEqual([]);
      }
      expect(simulator.requests).toHaveLength(0);
    },
  );
});

describe('secret scan: the worker and its heartbeat', () => {
  let heartbeat: Server;
  let pings: { path: string; body: string }[];
  beforeEach(async () => {
    pings = [];
    heartbeat = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        pings.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
        // The heartbeat service failing too, echoing what it got.
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`error for ${req.url}: ${Buffer.concat(chunks).toString('utf8')}`);
      });
    });
    await new Promise<void>((resolve) => heartbeat.listen(0, '127.0.0.1', resolve));
  });
  afterEach(() => new Promise<void>((resolve) => heartbeat.close(() => resolve())));

  it('LastPass echoing the request in a FAIL body: the /fail ping, logs, state and evidence hold no secret', async () => {
    const store = createFileStore({ dir: join(dir, 'data'), processInfo: thisProcess(), now: () => new Date() });
    await store.init();
    const cursor = new Date(Date.now() - 2 * 86_400_000);
    await store.completeDelivery({
      key: 'seed',
      start: new Date(cursor.getTime() - 86_400_000).toISOString(),
      end: cursor.toISOString(),
      deliveredAt: cursor.toISOString(),
      messageId: 'seed',
      marker: 'seed',
      summary: { eventsReviewed: 0, high: 0, medium: 0, low: 0, info: 0, byCategory: {} },
    });
    await store.close();
    override = LASTPASS_ECHOES['a {"status":"FAIL","error":…} body echoing the request'];
    const port = (heartbeat.address() as AddressInfo).port;
    const io = createTestIo({
      env: env({ HEARTBEAT_URL: `http://127.0.0.1:${port}/ping/${HEARTBEAT_TOKEN}`, REPORT_RETRY_MINUTES: 'off' }),
      cwd: dir,
    });
    const exited = dispatch(['worker'], io);
    const failPing = () => pings.find((p) => p.path === `/ping/${HEARTBEAT_TOKEN}/fail`);
    await expect.poll(() => failPing() !== undefined, { timeout: 30_000 }).toBe(true);
    await expect.poll(() => io.stderr.text().includes('"msg":"heartbeat.rejected"'), { timeout: 10_000 }).toBe(true);
    io.raise('SIGTERM');
    expect(await exited).toBe(0);
    // The run began with /start (h18) and ended with /fail, whose body quotes the (redacted) failure.
    expect(pings[0]!.path).toBe(`/ping/${HEARTBEAT_TOKEN}/start`);
    expect(failPing()!.body).toMatch(/failed: LastPass answered status "FAIL"/);
    const artifacts = {
      stdout: io.stdout.text(),
      stderr: io.stderr.text(),
      ...Object.fromEntries(pings.map((p, i) => [`heartbeat body ${i}`, p.body])),
      ...(await filesUnder(join(dir, 'data'))),
      ...sendgridArtifacts(sendgrid),
    };
    // The heartbeat token may be in the ping's own path (that is where it belongs), nowhere else.
    expect(leaks(artifacts)).toEqual([]);
  });
});

const serverUrl = process.env.TEST_DATABASE_URL;
if (!serverUrl) console.warn('[secret-scan.test] TEST_DATABASE_URL is unset: the PostgreSQL scan is SKIPPED.');

describe.skipIf(!serverUrl)('secret scan: the PostgreSQL store', () => {
  let admin: pg.Pool;
  let databaseUrl: string;
  let database: string;
  beforeAll(() => {
    admin = new pg.Pool({ connectionString: serverUrl!, max: 1 });
  });
  afterAll(() => admin.end());
  beforeEach(async () => {
    database = `lpad_scan_${randomBytes(5).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
    const url = new URL(serverUrl!);
    url.pathname = `/${database}`;
    databaseUrl = url.toString();
  });
  afterEach(() => admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`));

  it.each(Object.entries(LASTPASS_ECHOES))('LastPass answers %s: no secret in any row of any table', async (_name, answer) => {
    override = answer;
    const artifacts = await failingRun({}, databaseUrl);
    expectFailedNotice(artifacts, /LastPass/);
    expect(Object.keys(artifacts).some((k) => k.includes('delivery.json'))).toBe(true);
    expect(leaks(artifacts)).toEqual([]);
  });

  it.each(Object.entries(SENDGRID_ECHOES))('SendGrid answers %s: no secret in any row of any table', async (_name, script) => {
    sendgrid.script.push(...script);
    const artifacts = await failingRun({}, databaseUrl);
    expectFailedNotice(artifacts, /SendGrid/);
    expect(leaks(artifacts)).toEqual([]);
  });
});
