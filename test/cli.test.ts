/**
 * The command line as users run it, in process through the command functions (src/commands/) with a
 * captured io: LastPass = the embedded simulator on loopback, SendGrid = a loopback fake, a real file store
 * in a temp dir. A few cases spawn the built CLI (dist/cli.js) end to end: real exit codes, real signals.
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli as dispatch } from '../src/commands/dispatch.js';
import { generateDemoDay } from '../src/simulator/demo-day.js';
import { createLastPassSimulator, type LastPassSimulator } from '../src/simulator/lastpass-simulator.js';
import { createFileStore } from '../src/store/file-store.js';
import type { Store } from '../src/ports.js';
import { runCli, startCli } from './support/cli.js';
import { thisProcess } from './support/process-info.js';
import { createTestIo, runInProcess } from './support/command-io.js';
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
  headers?: Record<string, string>;
}
const mails = () => sendgrid.requests.filter((r) => r.path === '/v3/mail/send').map((r) => r.body as SentMail);

/** Coverage delivered up to two days ago: the scheduled 07:00 runs since then were missed. */
async function seedTwoDaysAgo(store: Store): Promise<void> {
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
}

describe('the CLI, in process', () => {
  it('reports every configuration problem at once and exits 2, without echoing a secret', async () => {
    const result = await runInProcess(
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
    expect(await readdir(dir)).toEqual([]);
  });

  it('unknown commands and flags are usage errors (exit 2) that print the usage', async () => {
    const unknown = await runInProcess(['frobnicate'], {}, dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown command "frobnicate"');
    expect(unknown.stderr).toContain('Usage:');
    expect((await runInProcess(['toString'], {}, dir)).code).toBe(2);
    const flag = await runInProcess(['run', '--yesterday'], env(), dir);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("Unknown option '--yesterday'");
    expect((await runInProcess(['worker', '--now'], env(), dir)).code).toBe(2);
    expect(simulator.requests).toHaveLength(0);
  });

  it('no command prints the usage and exits 2; help and --version exit 0', async () => {
    const none = await runInProcess([], {}, dir);
    expect(none.code).toBe(2);
    expect(none.stdout).toMatch(/^lastpass-audit-digest \S+\n\nUsage:/);
    expect((await runInProcess(['help'], {}, dir)).code).toBe(0);
    const version = await runInProcess(['--version'], {}, dir);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('run: sends one digest, then nothing is due; the same window is not re-sent without --force', async () => {
    const first = await runInProcess(['run'], env(), dir);
    expect(first.code, first.stderr).toBe(0);
    expect(mails()).toHaveLength(1);
    expect(mails()[0]!.subject).toMatch(
      /^LastPass security digest \d{4}-\d{2}-\d{2} — \d+ findings? \(\d+ high\) · \d+ high-severity events?$/,
    );
    expect(first.stdout).toMatch(/^sent {5}\S+ → \S+: LastPass security digest .*\(message id fake-msg-1\)$/m);
    // RFC 3834, in the request SendGrid received: auto-responders do not answer a digest.
    expect(mails()[0]!.headers).toEqual({ 'Auto-Submitted': 'auto-generated' });

    const state = JSON.parse(await readFile(join(dir, 'data', 'state.json'), 'utf8')) as { delivered: { start: string; end: string }[] };
    const delivered = state.delivered[0]!;
    const again = await runInProcess(['run', '--from', delivered.start, '--to', delivered.end], env(), dir);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already delivered');
    expect(mails()).toHaveLength(1);

    const forced = await runInProcess(['run', '--from', delivered.start, '--to', delivered.end, '--force'], env(), dir);
    expect(forced.code).toBe(0);
    expect(mails()).toHaveLength(2);

    for (const r of [first, again, forced]) {
      expect(r.stdout + r.stderr).not.toContain(SECRET);
      expect(r.stdout + r.stderr).not.toContain(SG_KEY);
    }
  });

  it('run with a wrong secret: exit 1, a FAILED notice is emailed, no digest', async () => {
    const result = await runInProcess(['run'], env({ LASTPASS_API_KEY: 'wrong-secret-abc' }), dir);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('FAILED');
    expect(result.stderr).toContain('"level":"error"');
    expect(mails().map((m) => m.subject)).toEqual([expect.stringMatching(/^FAILED: /)]);
    expect(mails()[0]!.headers).toEqual({ 'Auto-Submitted': 'auto-generated' });
    expect(result.stdout + result.stderr).not.toContain('wrong-secret-abc');
  });

  it('run --dry-run: writes the outbox and sends nothing; works without a SendGrid key; a relative DATA_DIR is under the cwd', async () => {
    const { SENDGRID_API_KEY: _unused, ...noKey } = env({ DATA_DIR: 'relative-data' });
    const result = await runInProcess(['run', '--dry-run'], noKey, dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('dry run');
    expect(mails()).toHaveLength(0);
    const path = /\S+message\.html/.exec(result.stdout)![0];
    expect(path.startsWith(join(dir, 'relative-data', 'outbox'))).toBe(true);
    expect(await readFile(path, 'utf8')).toContain('LastPass security digest');
  });

  it('run --from after --to and a malformed instant are usage errors', async () => {
    const reversed = await runInProcess(['run', '--from', '2025-03-02', '--to', '2025-03-01'], env(), dir);
    expect(reversed.code).toBe(2);
    expect(reversed.stderr).toContain('--from must be before --to');
    const bad = await runInProcess(['run', '--from', 'yesterday'], env(), dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('is not an ISO-8601 time');
    expect(simulator.requests).toHaveLength(0);
  });

  it('backfill: one digest per past day, dry run unless --send, delivered days skipped', async () => {
    const to = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000);
    const from = new Date(to.getTime() - 2 * 86_400_000);
    const args = ['backfill', '--from', from.toISOString(), '--to', to.toISOString()];
    const dry = await runInProcess(args, env(), dir);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout.match(/ {2}dry run: \//g)).toHaveLength(2);
    expect(dry.stdout).toContain('2 day(s): 2 done, 0 failed (dry run');
    expect(mails()).toHaveLength(0);

    const sent = await runInProcess([...args, '--send'], env(), dir);
    expect(sent.code).toBe(0);
    expect(mails()).toHaveLength(2);
    const again = await runInProcess([...args, '--send'], env(), dir);
    expect(again.stdout.match(/skipped \(already delivered/g)).toHaveLength(2);
    expect(mails()).toHaveLength(2);
    expect((await runInProcess(['backfill', '--from', from.toISOString()], env(), dir)).code).toBe(2);
  });

  it('backfill refuses a range that ends after the injected clock', async () => {
    const now = new Date('2025-03-10T07:00:00Z');
    const io = createTestIo({ env: env(), cwd: dir, now: () => now });
    expect(await dispatch(['backfill', '--from', '2025-03-08', '--to', '2025-03-11'], io)).toBe(2);
    expect(io.stderr.text()).toContain('--to lies in the future');
    expect(simulator.requests).toHaveLength(0);
  });

  it('check: validates config and reaches both APIs without sending', async () => {
    const result = await runInProcess(['check'], env(), dir);
    expect(result.stdout).toMatch(/ok\s+lastpass/);
    expect(result.stdout).toMatch(/ok\s+sendgrid .*mail\.send/);
    expect(result.stdout).toMatch(/^ok {3}sender +REPORT_FROM digest@example\.org is a verified single sender in SendGrid$/m);
    expect(result.stdout).toMatch(/ok\s+storage/);
    expect(result.code).toBe(0);
    expect(mails()).toHaveLength(0);
    // The one-minute probe, then the last 24 hours (12,000 events: two pages) for the API callers line.
    expect(simulator.requests.length).toBeGreaterThanOrEqual(3);
  });

  it('check: lists the API callers of the last 24 hours with how LASTPASS_KNOWN_API_CALLERS rates each, and what to add', async () => {
    const unknown = await runInProcess(['check'], env(), dir);
    expect(unknown.code, unknown.stderr).toBe(0);
    const line = unknown.stdout.split('\n').find((l) => /^ok\s+callers/.test(l)) ?? '';
    expect(line).toMatch(/"backup-script" 1 call from 203\.0\.113\.250: unknown \(a finding\)/);
    expect(line).toMatch(/\(no label\) 1 call from 203\.0\.113\.250: unknown \(a finding\)/);
    expect(line).toContain('add "-", "backup-script" to LASTPASS_KNOWN_API_CALLERS');

    const known = await runInProcess(['check'], env({ LASTPASS_KNOWN_API_CALLERS: 'backup-script@203.0.113.0/24,-@192.0.2.0/24' }), dir);
    const knownLine = known.stdout.split('\n').find((l) => /^ok\s+callers/.test(l)) ?? '';
    expect(knownLine).toMatch(/"backup-script" 1 call from 203\.0\.113\.250: known(;|\.)/);
    expect(knownLine).toMatch(/\(no label\) 1 call from 203\.0\.113\.250: known label, but from outside its networks/);
    expect(knownLine).not.toContain('add "');
  });

  it('check on a Replit deployment without DATABASE_URL fails the storage line (the disk does not survive a republish)', async () => {
    const result = await runInProcess(['check'], env({ REPLIT_DEPLOYMENT: '1' }), dir);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/FAIL storage +DATA_DIR .* is on the deployment's own disk/);
  });

  it('migrate: creates the file store and prints its version', async () => {
    const result = await runInProcess(['migrate'], { DATA_DIR: join(dir, 'm') }, dir);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/schema version \d+/);
    expect((await stat(join(dir, 'm'))).isDirectory()).toBe(true);
  });

  it('worker: hears SIGTERM from before it starts, logs the next run, catches up the scheduled times missed while down, and stops with exit 0', async () => {
    await seedTwoDaysAgo(createFileStore({ dir: join(dir, 'data'), processInfo: thisProcess(), now: () => new Date() }));
    let listenersWhenScheduled = -1;
    const io = createTestIo({
      env: env({ REPORT_SCHEDULE: '0 7 * * *' }),
      cwd: dir,
      onStderr: (text) => {
        if (text.includes('"msg":"worker.scheduled"')) listenersWhenScheduled = io.listeners('SIGTERM');
      },
    });
    const exited = dispatch(['worker'], io);
    const logged = (msg: string) => io.stderr.text().includes(`"msg":"${msg}"`);
    await expect.poll(() => logged('worker.run_end'), { timeout: 30_000 }).toBe(true);
    expect(io.stderr.text()).toMatch(/"msg":"worker\.scheduled"[^\n]*"nextRun":"\d{4}-/);
    expect(mails().length).toBeGreaterThanOrEqual(2); // two missed days, one digest each
    expect(listenersWhenScheduled).toBe(1); // a SIGTERM during start-up already stops it gracefully
    expect(io.raise('SIGTERM')).toBe(true);
    expect(await exited).toBe(0);
    expect(logged('worker.stopped')).toBe(true);
    expect(io.listeners('SIGINT')).toBe(0); // both handlers removed
  });
});

describe('the built CLI, spawned', () => {
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

  it('run: exit 0 and one digest sent; a configuration problem exits 2', async () => {
    const first = await runCli(['run'], env(), dir);
    expect(first.code, first.stderr).toBe(0);
    expect(mails()).toHaveLength(1);
    expect((await runCli(['run'], { DATA_DIR: join(dir, 'data') }, dir)).code).toBe(2);
  });

  it('worker: a real SIGTERM as soon as it logs the next run stops it gracefully (exit 0)', async () => {
    const worker = startCli(['worker'], env({ REPORT_SCHEDULE: '0 7 * * *' }), dir);
    await worker.waitFor(/"msg":"worker\.scheduled"[^\n]*"nextRun":"\d{4}-/);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.output()).toContain('worker.stopped');
  });
});
