/**
 * `history` and `show` through the real CLI (in process, test/support/command-io.ts) on a store with several
 * delivered days — backfilled with --send to a loopback SendGrid from the embedded LastPass simulator, one day
 * sent twice (--force) — on the file store and on PostgreSQL (TEST_DATABASE_URL). What they print is checked
 * against what SendGrid actually received: the verdict of each subject, each message id, the footer's content
 * hash, and the exact text and HTML parts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateDemoDay } from '../src/simulator/demo-day.js';
import { createLastPassSimulator, type LastPassSimulator } from '../src/simulator/lastpass-simulator.js';
import { runCli } from './support/cli.js';
import { runInProcess } from './support/command-io.js';
import { startFakeSendGrid, type FakeSendGrid } from './support/fake-sendgrid.js';

const SECRET = 'history-secret-3e2d1c0b';
const DAY = 86_400_000;
const serverUrl = process.env.TEST_DATABASE_URL;
if (!serverUrl) console.warn('[history-show.test] TEST_DATABASE_URL is unset: the PostgreSQL cases are SKIPPED.');

interface SentBody {
  subject: string;
  content: { type: string; value: string }[];
  custom_args: Record<string, string>;
}

let dir: string;
let simulator: LastPassSimulator;
let sendgrid: FakeSendGrid;
/** Today's midnight UTC: the backfill covers the three days before it. */
const today = Math.floor(Date.now() / DAY) * DAY;
const iso = (ms: number) => new Date(ms).toISOString();
const dayOf = (ms: number) => iso(ms).slice(0, 10);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lpad-history-'));
  const events = [3, 2, 1].flatMap((n) => generateDemoDay({ end: new Date(today - (n - 1) * DAY), benignCount: 1500, seed: n }).events);
  simulator = await createLastPassSimulator({ accountNumber: '8771234', apiSecret: SECRET, events });
  sendgrid = await startFakeSendGrid();
});
afterEach(async () => {
  await simulator.close();
  await sendgrid.close();
  await rm(dir, { recursive: true, force: true });
});

function envFor(extra: Record<string, string>): Record<string, string> {
  return {
    LASTPASS_ACCOUNT_NUMBER: '8771234',
    LASTPASS_API_KEY: SECRET,
    LASTPASS_API_URL: simulator.url,
    SENDGRID_API_KEY: 'SG.history-test',
    SENDGRID_API_URL: sendgrid.url,
    REPORT_FROM: 'digest@example.org',
    REPORT_TO: 'secops@example.org',
    DATA_DIR: join(dir, 'data'),
    ...extra,
  };
}

const sentDigests = () =>
  sendgrid.requests
    .filter((r) => r.path === '/v3/mail/send')
    .map((r, i) => ({ body: r.body as SentBody, messageId: `fake-msg-${i + 1}` }))
    .filter((m) => !m.body.custom_args.digest_failure);
const part = (b: SentBody, type: string) => b.content.find((c) => c.type === type)?.value ?? '';

/** Three delivered days, the first one sent twice; returns what SendGrid received. */
async function deliverSeveralDays(env: Record<string, string>) {
  const backfill = await runInProcess(['backfill', '--from', iso(today - 3 * DAY), '--to', iso(today), '--send'], env, dir);
  expect(backfill.code, backfill.stdout + backfill.stderr).toBe(0);
  const forced = await runInProcess(
    ['backfill', '--from', iso(today - 3 * DAY), '--to', iso(today - 2 * DAY), '--send', '--force'],
    env,
    dir,
  );
  expect(forced.code, forced.stdout + forced.stderr).toBe(0);
  const sent = sentDigests();
  expect(sent).toHaveLength(4);
  return sent;
}

async function historyAndShow(env: Record<string, string>) {
  const sent = await deliverSeveralDays(env);
  const days = [3, 2, 1].map((n) => dayOf(today - n * DAY));

  const history = await runInProcess(['history'], env, dir);
  expect(history.code, history.stderr).toBe(0);
  expect(history.stdout).toMatch(/^4 delivered digests \(/);
  const blocks = history.stdout.split('\n\n').slice(1, 5);
  expect(blocks.map((b) => b.slice(0, 10))).toEqual([days[0], days[0], days[1], days[2]]);
  // Oldest window first, and for the day sent twice the first delivery first: the order SendGrid saw them in.
  const order = [0, 3, 1, 2];
  blocks.forEach((block, i) => {
    const mail = sent[order[i]!]!;
    const verdict = mail.body.subject.split(' — ')[1]!;
    expect(block).toContain(`  verdict   ${verdict}`);
    expect(block).toContain(`  message   ${mail.messageId}`);
    const footer = /content SHA-256 ([0-9a-f]{64})/.exec(part(mail.body, 'text/html'))?.[1];
    expect(footer).toBeDefined();
    expect(block).toContain(`content SHA-256 ${footer} (as in the digest footer), manifest SHA-256 `);
    expect(block).toMatch(/ {2}counts {4}[\d,]+ events reviewed · high \d+ · medium \d+ · low \d+/);
    expect(block).toContain(
      `  window    ${mail.body.custom_args.digest_window!.split('_')[0]!.replace(/^(\d{4})(\d{2})(\d{2})T/, '$1-$2-$3T')}`.slice(0, 24),
    );
  });

  const oneDay = await runInProcess(['history', '--from', days[1]!, '--to', days[1]!], env, dir);
  expect(oneDay.stdout).toMatch(/^1 delivered digest from \S+ to \S+ day \(/);
  expect(oneDay.stdout).toContain(`\n${days[1]}  `);
  expect(oneDay.stdout).not.toContain(`\n${days[0]}  `);

  // show DAY: the text part exactly as sent; --html writes the HTML part exactly as sent.
  const shown = await runInProcess(['show', days[1]!, '--html', 'sent.html'], env, dir);
  expect(shown.code, shown.stderr).toBe(0);
  expect(shown.stdout).toBe(part(sent[1]!.body, 'text/plain'));
  expect(await readFile(join(dir, 'sent.html'), 'utf8')).toBe(part(sent[1]!.body, 'text/html'));
  expect(shown.stderr).toContain(`SendGrid message id ${sent[1]!.messageId}`);

  // A day delivered twice: the newest is shown, the other named; by KEY the same window.
  const twice = await runInProcess(['show', days[0]!], env, dir);
  expect(twice.code).toBe(0);
  expect(twice.stdout).toBe(part(sent[3]!.body, 'text/plain'));
  expect(twice.stderr).toMatch(/2 digests were delivered for \S+; showing the newest/);
  const key = sent[0]!.body.custom_args.digest_window!;
  const byKey = await runInProcess(['show', key], env, dir);
  expect(byKey.code).toBe(0);
  expect(byKey.stdout).toBe(part(sent[3]!.body, 'text/plain'));

  // Nothing for that day: exit 1 with what to do; a bad argument: exit 2.
  const none = await runInProcess(['show', '2001-01-01'], env, dir);
  expect(none.code).toBe(1);
  expect(none.stderr).toContain('No delivered digest for 2001-01-01 in the evidence');
  expect((await runInProcess(['show', 'yesterday'], env, dir)).code).toBe(2);
  expect((await runInProcess(['show'], env, dir)).code).toBe(2);
  return { days, sent };
}

describe('history and show', () => {
  it('on the file store: every delivered day with its counts, verdict, message id and hashes; show prints what was sent; a tampered digest is said', async () => {
    const env = envFor({});
    const { days } = await historyAndShow(env);
    // The built CLI in a process of its own says the same.
    const spawned = await runCli(['history', '--from', days[1]!], env, dir);
    expect(spawned.code, spawned.stderr).toBe(0);
    const withoutHint = (text: string) => text.replace(/\nShow one: .*\n$/, '');
    expect(spawned.stdout).toMatch(/\nShow one: .*show DAY/);
    expect(withoutHint(spawned.stdout)).toBe(withoutHint((await runInProcess(['history', '--from', days[1]!], env, dir)).stdout));
    const evidence = join(dir, 'data', 'evidence');
    const texts = (await readdir(evidence, { recursive: true })).filter(
      (p) => p.endsWith('digest.txt') && p.includes(days[1]!.replaceAll('-', '/')),
    );
    expect(texts).toHaveLength(1);
    await writeFile(join(evidence, texts[0]!), 'nothing happened\n');
    const tampered = await runInProcess(['show', days[1]!], env, dir);
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toContain('digest.txt of');
    expect(tampered.stderr).toContain('does not match the SHA-256 its manifest records');
  }, 120_000);

  describe.skipIf(!serverUrl)('on PostgreSQL', () => {
    let admin: pg.Pool;
    let database: string;
    let databaseUrl: string;
    beforeAll(() => {
      admin = new pg.Pool({ connectionString: serverUrl!, max: 1 });
    });
    afterAll(() => admin.end());
    beforeEach(async () => {
      database = `lpad_history_${randomBytes(5).toString('hex')}`;
      await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
      const url = new URL(serverUrl!);
      url.pathname = `/${database}`;
      databaseUrl = url.toString();
    });
    afterEach(async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
    });

    it('the same, from the database; a fresh DATA_DIR sees the same history', async () => {
      await historyAndShow(envFor({ DATABASE_URL: databaseUrl, DATA_DIR: join(dir, 'pg-data') }));
      // A new container (an empty DATA_DIR), the same database: the same history.
      const fresh = await runInProcess(['history'], { ...envFor({ DATABASE_URL: databaseUrl }), DATA_DIR: join(dir, 'another') }, dir);
      expect(fresh.stdout).toMatch(/^4 delivered digests \(postgres .*; evidence PostgreSQL tables /);
    }, 120_000);
  });
});
