/**
 * The command line end to end, as users run it: the built CLI in a child process, LastPass = the embedded
 * simulator on loopback, SendGrid = a loopback fake (nock cannot reach into a child process).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateDemoDay } from '../src/simulator/demo-day.js';
import { createLastPassSimulator, type LastPassSimulator } from '../src/simulator/lastpass-simulator.js';
import { createFileStore } from '../src/store/file-store.js';
import { thisProcess } from './support/process-info.js';
import { runCli, startCli } from './support/cli.js';
import { startFakeSendGrid, type FakeSendGrid } from './support/fake-sendgrid.js';

const SECRET = 'cli-secret-9a8b7c6d5e';
const SG_KEY = 'SG.cli-test-key-1f2e3d';

let dir: string;
let simulator: LastPassSimulator;
let sendgrid: FakeSendGrid;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lpad-cli-'));
  const day = generateDemoDay({ end: new Date(), benignCount: 12_000 });
  simulator = await createLastPassSimulator({ accountNumber: '8771234', apiSecret: SECRET, events: day.events });
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
    LASTPASS_API_KEY: SECRET,
    LASTPASS_API_URL: simulator.url,
    SENDGRID_API_KEY: SG_KEY,
    SENDGRID_API_URL: sendgrid.url,
    REPORT_FROM: 'Digest <digest@example.org>',
    REPORT_TO: 'secops@example.org',
    DATA_DIR: join(dir, 'data'),
    ...extra,
  };
}

interface SentMail {
  subject: string;
  content: { type: string; value: string }[];
}
const mails = () => sendgrid.requests.filter((r) => r.path === '/v3/mail/send').map((r) => r.body as SentMail);

describe('the CLI', () => {
  it('demo: runs offline with no configuration and prints the digest path; the digest shows the planted incidents', async () => {
    const result = await runCli(['demo'], { DATA_DIR: join(dir, 'data') }, dir);
    expect(result.code).toBe(0);
    const path = /\S+message\.html/.exec(result.stdout)?.[0];
    expect(path).toBeDefined();
    const html = await readFile(path!, 'utf8');
    for (const text of [
      'Make Admin',
      'Delete Policy',
      'Data export',
      'backup-script',
      'Disabled Multifactor Authentication',
      'Admin:yes',
      'Vault Health Report Viewed',
    ]) {
      expect(html).toContain(text);
    }
    expect(html).toContain('&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<script>alert');
  });

  it('reports every configuration problem at once and exits 2', async () => {
    const result = await runCli(
      ['run'],
      { REPORT_SCHEDULE: 'every day', LASTPASS_TIMEZONE: 'Mars/Olympus', LASTPASS_API_KEY: 'has space' },
      dir,
    );
    expect(result.code).toBe(2);
    for (const name of [
      'LASTPASS_ACCOUNT_NUMBER',
      'LASTPASS_API_KEY',
      'SENDGRID_API_KEY',
      'REPORT_FROM',
      'REPORT_TO',
      'REPORT_SCHEDULE',
      'LASTPASS_TIMEZONE',
    ]) {
      expect(result.stderr).toContain(name);
    }
    expect(result.stderr).not.toContain('has space');
  });

  it('unknown commands and flags are usage errors (exit 2)', async () => {
    expect((await runCli(['frobnicate'], {}, dir)).code).toBe(2);
    expect((await runCli(['run', '--yesterday'], env(), dir)).code).toBe(2);
  });

  it('run: sends one digest, then nothing is due; the same window is not re-sent without --force', async () => {
    const first = await runCli(['run'], env(), dir);
    expect(first.code).toBe(0);
    expect(mails()).toHaveLength(1);
    expect(mails()[0]!.subject).toMatch(
      /^LastPass security digest \d{4}-\d{2}-\d{2} — \d+ findings? \(\d+ high\) · \d+ high-severity events?$/,
    );
    expect(first.stdout).toContain('sent');

    const state = JSON.parse(await readFile(join(dir, 'data', 'state.json'), 'utf8')) as { delivered: { start: string; end: string }[] };
    const delivered = state.delivered[0]!;
    const again = await runCli(['run', '--from', delivered.start, '--to', delivered.end], env(), dir);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already delivered');
    expect(mails()).toHaveLength(1);

    const forced = await runCli(['run', '--from', delivered.start, '--to', delivered.end, '--force'], env(), dir);
    expect(forced.code).toBe(0);
    expect(mails()).toHaveLength(2);

    for (const r of [first, again, forced]) {
      expect(r.stdout + r.stderr).not.toContain(SECRET);
      expect(r.stdout + r.stderr).not.toContain(SG_KEY);
    }
  });

  it('run with a wrong secret: exit 1, a FAILED notice is emailed, no digest', async () => {
    const result = await runCli(['run'], env({ LASTPASS_API_KEY: 'wrong-secret-abc' }), dir);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('FAILED');
    expect(result.stderr).toContain('"level":"error"');
    expect(mails().map((m) => m.subject)).toEqual([expect.stringMatching(/^FAILED: /)]);
    expect(result.stdout + result.stderr).not.toContain('wrong-secret-abc');
  });

  it('run --dry-run: writes the outbox and sends nothing; works without a SendGrid key', async () => {
    const { SENDGRID_API_KEY: _unused, ...noKey } = env();
    const result = await runCli(['run', '--dry-run'], noKey, dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('dry run');
    expect(mails()).toHaveLength(0);
    const path = /\S+message\.html/.exec(result.stdout)![0];
    expect(await readFile(path, 'utf8')).toContain('LastPass security digest');
  });

  it('backfill: one digest per past day, dry run unless --send, delivered days skipped', async () => {
    const to = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000);
    const from = new Date(to.getTime() - 2 * 86_400_000);
    const args = ['backfill', '--from', from.toISOString(), '--to', to.toISOString()];
    const dry = await runCli(args, env(), dir);
    expect(dry.code).toBe(0);
    expect(dry.stdout.match(/ {2}dry run: \//g)).toHaveLength(2);
    expect(dry.stdout).toContain('2 day(s): 2 done, 0 failed (dry run');
    expect(mails()).toHaveLength(0);

    const sent = await runCli([...args, '--send'], env(), dir);
    expect(sent.code).toBe(0);
    expect(mails()).toHaveLength(2);
    const again = await runCli([...args, '--send'], env(), dir);
    expect(again.stdout.match(/skipped \(already delivered/g)).toHaveLength(2);
    expect(mails()).toHaveLength(2);
    expect((await runCli(['backfill', '--from', from.toISOString()], env(), dir)).code).toBe(2);
  });

  it('check: validates config and reaches both APIs without sending', async () => {
    const result = await runCli(['check'], env(), dir);
    expect(result.stdout).toMatch(/ok\s+lastpass/);
    expect(result.stdout).toMatch(/ok\s+sendgrid .*mail\.send/);
    expect(result.stdout).toMatch(/ok\s+storage/);
    expect(result.code).toBe(0);
    expect(mails()).toHaveLength(0);
    expect(simulator.requests).toHaveLength(1);
  });

  it('worker: logs the next run, catches up a scheduled time missed while down, and exits 0 on SIGTERM', async () => {
    // State says the last window ended two days ago: the scheduled 07:00 runs since then were missed.
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
    const worker = startCli(['worker'], env({ REPORT_SCHEDULE: '0 7 * * *' }), dir);
    await worker.waitFor(/"msg":"worker\.scheduled"[^\n]*"nextRun":"\d{4}-/);
    await worker.waitFor(/"msg":"worker\.run_end"/);
    expect(mails().length).toBeGreaterThanOrEqual(2); // two missed days, one digest each
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.output()).toContain('worker.stopped');
  });
});
