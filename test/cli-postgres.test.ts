/**
 * The command line on the PostgreSQL store (what a Replit deployment uses): the state lives in the
 * database, so a restart on a new, empty DATA_DIR continues exactly where it stopped. The commands run in
 * process (test/support/command-io.ts). Needs a real server (TEST_DATABASE_URL): each case creates and
 * drops a whole database, which PGlite cannot.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateDemoDay } from '../src/simulator/demo-day.js';
import { createLastPassSimulator, type LastPassSimulator } from '../src/simulator/lastpass-simulator.js';
import { runInProcess } from './support/command-io.js';
import { startFakeSendGrid, type FakeSendGrid } from './support/fake-sendgrid.js';

const serverUrl = process.env.TEST_DATABASE_URL;
if (!serverUrl) console.warn('[cli-postgres.test] TEST_DATABASE_URL is unset: the CLI-on-PostgreSQL cases are SKIPPED.');

describe.skipIf(!serverUrl)('the CLI on PostgreSQL', () => {
  const SECRET = 'pg-cli-secret-5d4c3b2a';
  let admin: pg.Pool;
  let database: string;
  let databaseUrl: string;
  let dir: string;
  let simulator: LastPassSimulator;
  let sendgrid: FakeSendGrid;

  beforeAll(() => {
    admin = new pg.Pool({ connectionString: serverUrl!, max: 1 });
  });
  afterAll(() => admin.end());
  beforeEach(async () => {
    database = `lpad_cli_${randomBytes(5).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
    const url = new URL(serverUrl!);
    url.pathname = `/${database}`;
    databaseUrl = url.toString();
    dir = await mkdtemp(join(tmpdir(), 'lpad-cli-pg-'));
    simulator = await createLastPassSimulator({
      accountNumber: '8771234',
      apiSecret: SECRET,
      events: generateDemoDay({ end: new Date(), benignCount: 12_000 }).events,
    });
    sendgrid = await startFakeSendGrid();
  });
  afterEach(async () => {
    await simulator.close();
    await sendgrid.close();
    await rm(dir, { recursive: true, force: true });
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
  });

  const env = (dataDir: string, extra: Record<string, string> = {}) => ({
    LASTPASS_ACCOUNT_NUMBER: '8771234',
    LASTPASS_API_KEY: SECRET,
    LASTPASS_API_URL: simulator.url,
    SENDGRID_API_KEY: 'SG.pg-cli-test',
    SENDGRID_API_URL: sendgrid.url,
    REPORT_FROM: 'digest@example.org',
    REPORT_TO: 'secops@example.org',
    DATA_DIR: join(dir, dataDir),
    DATABASE_URL: databaseUrl,
    ...extra,
  });
  const digests = () =>
    sendgrid.requests
      .filter((r) => r.path === '/v3/mail/send')
      .map((r) => r.body as { subject: string; custom_args: Record<string, string> })
      .filter((b) => !b.custom_args.digest_failure);

  it('run, no resend from a fresh DATA_DIR, --force, dry run, migrate, evidence verify — all from the database', async () => {
    expect((await runInProcess(['migrate'], env('a'), dir)).stdout).toMatch(/schema version \d+/);
    const first = await runInProcess(['run'], env('a'), dir);
    expect(first.code).toBe(0);
    expect(digests()).toHaveLength(1);
    const key = digests()[0]!.custom_args.digest_window!;

    // A new container: empty DATA_DIR, same database. Nothing is due, nothing is re-sent.
    const again = await runInProcess(['run'], env('b'), dir);
    expect(again.code).toBe(0);
    expect(digests()).toHaveLength(1);

    // The delivered window asked for explicitly: skipped; with --force: sent again.
    const [start, end] = key.split('_').map((k) => k.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
    const skipped = await runInProcess(['run', '--from', start!, '--to', end!], env('c'), dir);
    expect(skipped.stdout).toContain('already delivered');
    expect(digests()).toHaveLength(1);
    expect((await runInProcess(['run', '--from', start!, '--to', end!, '--force'], env('c'), dir)).code).toBe(0);
    expect(digests()).toHaveLength(2);

    // A dry run sends nothing and changes no state.
    const db = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    const snapshot = async () =>
      (
        await db.query<{ state: string }>(
          `SELECT (SELECT row_to_json(r)::text FROM lastpass_audit_digest.run_state r) ||
                  (SELECT count(*)::text FROM lastpass_audit_digest.delivered_windows) AS state`,
        )
      ).rows[0]!.state;
    try {
      const before = await snapshot();
      const dry = await runInProcess(['run', '--dry-run', '--force', '--from', start!, '--to', end!], env('d'), dir);
      expect(dry.code).toBe(0);
      expect(dry.stdout).toContain('dry run');
      expect(digests()).toHaveLength(2);
      expect(await snapshot()).toBe(before);
    } finally {
      await db.end();
    }

    // The evidence chain lives in the database too: it verifies from yet another empty DATA_DIR.
    const verify = await runInProcess(['verify'], env('e'), dir);
    expect(verify.stdout).toContain('RESULT: OK');
    expect(verify.code).toBe(0);

    for (const r of [first, again, skipped, verify]) expect(r.stdout + r.stderr).not.toContain(SECRET);
  });
});
