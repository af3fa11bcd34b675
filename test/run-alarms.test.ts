/**
 * `run` as system cron users run it, in process with the real adapters: LastPass = the embedded simulator
 * SendGrid and the heartbeat's monitor = loopback fakes (on 127.0.0.1, let through nock), the alarm webhook
 * = nock. The FAILED notice reaches the webhook when SendGrid answers 401; a delivered digest with high
 * findings is summarised there; the heartbeat gets /start, then the plain ping or /fail; neither URL (both
 * secrets) appears in the output, the state or the evidence.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateDemoDay } from '../src/simulator/demo-day.js';
import { createLastPassSimulator, type LastPassSimulator } from '../src/simulator/lastpass-simulator.js';
import { createFileStore } from '../src/store/file-store.js';
import { runInProcess } from './support/command-io.js';
import { startFakeSendGrid, type FakeSendGrid } from './support/fake-sendgrid.js';
import { thisProcess } from './support/process-info.js';

const SECRET = 'alarm-secret-5f4e3d2c1b';
const SLACK_PATH = '/services/T0AL/B0RM/webhookToken7q8w9e';
const HC_PATH = '/ping/0b7c8d9e-hc-uuid-4711';

let dir: string;
let simulator: LastPassSimulator;
let sendgrid: FakeSendGrid;
let monitor: { url: string; pings: string[]; close(): Promise<void> };

/** A Healthchecks-like monitor on loopback: records each ping's path after the check's own. */
async function startMonitor(): Promise<typeof monitor> {
  const pings: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const path = req.url ?? '';
      pings.push(path.startsWith(HC_PATH) ? path.slice(HC_PATH.length) || '(success)' : `unexpected ${path}`);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('OK');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    pings,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lpad-alarm-'));
  const day = generateDemoDay({ end: new Date(), benignCount: 3_000 });
  simulator = await createLastPassSimulator({ accountNumber: '8771234', apiSecret: SECRET, events: day.events });
  sendgrid = await startFakeSendGrid();
  monitor = await startMonitor();
  nock.disableNetConnect();
  nock.enableNetConnect(/^127\.0\.0\.1(:\d+)?$/);
});
afterEach(async () => {
  nock.cleanAll();
  nock.enableNetConnect();
  await simulator.close();
  await sendgrid.close();
  await monitor.close();
  await rm(dir, { recursive: true, force: true });
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    LASTPASS_ACCOUNT_NUMBER: '8771234',
    LASTPASS_API_KEY: SECRET,
    LASTPASS_API_URL: simulator.url,
    SENDGRID_API_KEY: 'SG.alarm-test-key-9a8b',
    SENDGRID_API_URL: sendgrid.url,
    REPORT_FROM: 'Digest <digest@example.org>',
    REPORT_TO: 'secops@example.org',
    DATA_DIR: join(dir, 'data'),
    NOTIFY_WEBHOOK_URL: `https://hooks.slack.com${SLACK_PATH}`,
    HEARTBEAT_URL: `${monitor.url}${HC_PATH}`,
    ...extra,
  };
}

/** The webhook's requests (Slack payloads, nock) and the heartbeat's paths (loopback monitor), in arrival order. */
function recordOutside() {
  const webhook: { text: string; blocks: unknown[] }[] = [];
  nock('https://hooks.slack.com')
    .persist()
    .post(SLACK_PATH, (b: { text: string; blocks: unknown[] }) => webhook.push(b) > 0)
    .reply(200, 'ok');
  return { webhook, pings: monitor.pings };
}

/** Every file under `root`, as text. */
async function allFiles(root: string): Promise<string> {
  const names = (await readdir(root, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  const texts = await Promise.all(names.map((e) => readFile(join(e.parentPath, e.name), 'utf8')));
  return texts.join('\n');
}

describe('run with the alarm webhook and the heartbeat', () => {
  it('SendGrid answers 401: the FAILED notice reaches the webhook (the email could not go), /start then /fail', async () => {
    const outside = recordOutside();
    const refused = { status: 401, body: { errors: [{ message: 'The provided authorization grant is invalid, expired, or revoked' }] } };
    sendgrid.script.push(refused, refused);
    const result = await runInProcess(['run'], env(), dir);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('FAILED');
    expect(outside.pings).toEqual(['/start', '/fail']);
    expect(outside.webhook).toHaveLength(1);
    const text = JSON.stringify(outside.webhook[0]);
    expect(outside.webhook[0]!.text).toMatch(/^FAILED: LastPass security digest/);
    expect(text).toContain('The digest was built but could not be delivered.');
    expect(text).toContain('SendGrid');
    expect(text).toContain('401');
    expect(text).toContain('The FAILED email could not be sent either: this message is the only notice.');
    // The evidence records what the webhook did, not where it is.
    const stored = await allFiles(join(dir, 'data'));
    expect(stored).toMatch(/"webhook":\s*\{\s*"sent":\s*true,\s*"format":\s*"slack"\s*\}/);
    // The bundle with the webhook's outcome in it still verifies.
    const verified = await runInProcess(['verify'], env(), dir);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    for (const secretPart of [SLACK_PATH, 'webhookToken7q8w9e', HC_PATH]) {
      expect(result.stdout + result.stderr).not.toContain(secretPart);
      expect(stored).not.toContain(secretPart);
      expect(text).not.toContain(secretPart);
    }
  });

  it('a delivered digest with high findings is summarised to the webhook (verdict, top findings, no link); /start then the plain ping', async () => {
    const outside = recordOutside();
    const result = await runInProcess(['run'], env(), dir);
    expect(result.code, result.stderr).toBe(0);
    expect(sendgrid.requests.filter((r) => r.path === '/v3/mail/send')).toHaveLength(1);
    expect(outside.pings).toEqual(['/start', '(success)']);
    expect(outside.webhook).toHaveLength(1);
    const payload = JSON.stringify(outside.webhook[0]);
    expect(outside.webhook[0]!.text).toMatch(/^LastPass security digest \d{4}-\d{2}-\d{2} — \d+ findings? \(\d+ high\)/);
    expect(payload).toContain('Top findings');
    expect(payload).toContain('[HIGH] ');
    expect(payload).not.toMatch(/https?:\/\//); // link-free: no Admin Console link, no URL at all
    expect(result.stdout + result.stderr).not.toContain(SLACK_PATH);
    expect(await allFiles(join(dir, 'data'))).not.toContain(SLACK_PATH);

    // Nothing is due now: a success ping, and no alarm (no digest was delivered).
    const again = await runInProcess(['run'], env(), dir);
    expect(again.code).toBe(0);
    expect(outside.pings).toEqual(['/start', '(success)', '/start', '(success)']);
    expect(outside.webhook).toHaveLength(1);
  });

  it('LastPass rejects the secret: the FAILED email goes out and the webhook says so too; /start then /fail', async () => {
    const outside = recordOutside();
    const result = await runInProcess(['run'], env({ LASTPASS_API_KEY: 'wrong-secret-abc' }), dir);
    expect(result.code).toBe(1);
    expect(outside.pings).toEqual(['/start', '/fail']);
    expect(outside.webhook).toHaveLength(1);
    const text = JSON.stringify(outside.webhook[0]);
    expect(text).toContain('could not be fetched completely');
    expect(text).not.toContain('The FAILED email could not be sent either');
    expect(text).not.toContain('wrong-secret-abc');
  });

  it('a run that finds the lock taken pings nothing (the run holding it does)', async () => {
    const outside = recordOutside();
    const holder = createFileStore({ dir: join(dir, 'data'), now: () => new Date(), processInfo: thisProcess() });
    await holder.init();
    const lock = await holder.tryLock('another run');
    try {
      const result = await runInProcess(['run'], env(), dir);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('Another run holds the lock');
      expect(outside.pings).toEqual([]);
    } finally {
      await lock?.release();
      await holder.close();
    }
  });

  it('a dry run pings nothing and sends no alarm', async () => {
    const outside = recordOutside();
    const result = await runInProcess(['run', '--dry-run'], env(), dir);
    expect(result.code, result.stderr).toBe(0);
    expect(outside.pings).toEqual([]);
    expect(outside.webhook).toEqual([]);
  });
});
