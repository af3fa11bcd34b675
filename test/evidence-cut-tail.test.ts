/**
 * A cut evidence tail through the command line (issue #13): `run` records each delivered window's bundle
 * in the store (state.json, or PostgreSQL's delivered_windows), and `verify` cross-checks the store against
 * the archive, so the newest bundle deleted with the chain head rewritten (here: the only one, leaving an
 * empty archive) fails verify, naming the bundle. Files always; PostgreSQL with TEST_DATABASE_URL (a
 * throwaway database per case).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateDemoDay } from '../src/simulator/demo-day.js';
import { createLastPassSimulator, type LastPassSimulator } from '../src/simulator/lastpass-simulator.js';
import { runInProcess } from './support/command-io.js';
import { startFakeSendGrid, type FakeSendGrid } from './support/fake-sendgrid.js';

const SECRET = 'cut-tail-secret-3c2b1a';
let dir: string;
let simulator: LastPassSimulator;
let sendgrid: FakeSendGrid;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lpad-cut-tail-'));
  simulator = await createLastPassSimulator({
    accountNumber: '8771234',
    apiSecret: SECRET,
    events: generateDemoDay({ end: new Date(), benignCount: 300 }).events,
  });
  sendgrid = await startFakeSendGrid();
});
afterEach(async () => {
  await simulator.close();
  await sendgrid.close();
  await rm(dir, { recursive: true, force: true });
});

const env = (extra: Record<string, string> = {}) => ({
  LASTPASS_ACCOUNT_NUMBER: '8771234',
  LASTPASS_API_KEY: SECRET,
  LASTPASS_API_URL: simulator.url,
  SENDGRID_API_KEY: 'SG.cut-tail',
  SENDGRID_API_URL: sendgrid.url,
  REPORT_FROM: 'digest@example.org',
  REPORT_TO: 'secops@example.org',
  DATA_DIR: join(dir, 'data'),
  ...extra,
});

/** The content SHA-256 the sent digest's footer shows. */
function footerHash(): string {
  const mail = sendgrid.requests.find((r) => r.path === '/v3/mail/send')?.body as { content: { type: string; value: string }[] };
  const html = mail.content.find((c) => c.type === 'text/html')?.value ?? '';
  const match = /content SHA-256 ([0-9a-f]{64})/.exec(html);
  return match![1]!;
}

describe('verify notices a cut tail through the store', () => {
  it('files: state.json keeps the bundle; deleting it and chain.json head fails verify naming the bundle', async () => {
    expect((await runInProcess(['run'], env(), dir)).code).toBe(0);
    const state = JSON.parse(await readFile(join(dir, 'data', 'state.json'), 'utf8')) as {
      delivered: { evidence?: { bundle: string; contentSha256: string } }[];
    };
    const evidence = state.delivered[0]!.evidence!;
    expect(evidence.contentSha256).toBe(footerHash());
    const ok = await runInProcess(['verify'], env(), dir);
    expect(ok.stdout).toContain('Deliveries: 1 of 1 delivered window(s) in the store found in the archive');
    expect(ok.code, ok.stdout).toBe(0);

    const evidenceDir = join(dir, 'data', 'evidence');
    // Bundles are filed as YYYY/MM/DD/<run id>.
    const [day, runId] = evidence.bundle.split('/') as [string, string];
    const bundleDir = join(evidenceDir, ...day.split('-'), runId);
    expect(await readdir(bundleDir)).toContain('manifest.json');
    await rm(bundleDir, { recursive: true, force: true });
    await writeFile(join(evidenceDir, 'chain.json'), `${JSON.stringify({ head: null, checkpoint: null })}\n`);
    const cut = await runInProcess(['verify'], env(), dir);
    expect(cut.code).toBe(1);
    expect(cut.stdout).not.toContain('[chain]'); // the chain alone sees nothing wrong
    expect(cut.stdout).toContain(`[delivery] ${evidence.bundle}:`);
    expect(cut.stdout).toMatch(/\[delivery\] archive: the archive holds no bundle, but the store records 1 delivered window/);
  });

  const serverUrl = process.env.TEST_DATABASE_URL;
  it.skipIf(!serverUrl)('PostgreSQL: delivered_windows keeps the bundle; deleting the newest bundle fails verify naming it', async () => {
    const admin = new pg.Pool({ connectionString: serverUrl!, max: 1 });
    const database = `lpad_cut_${randomBytes(5).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
    const url = new URL(serverUrl!);
    url.pathname = `/${database}`;
    const db = new pg.Client({ connectionString: url.toString() });
    try {
      await db.connect();
      const withDb = env({ DATABASE_URL: url.toString() });
      expect((await runInProcess(['run'], withDb, dir)).code).toBe(0);
      const row = (
        await db.query<{ evidence_bundle: string; evidence_sha256: string }>(
          'SELECT evidence_bundle, evidence_sha256 FROM lastpass_audit_digest.delivered_windows',
        )
      ).rows[0]!;
      expect(row.evidence_sha256).toBe(footerHash());
      expect((await runInProcess(['verify'], withDb, dir)).code).toBe(0);
      await db.query('DELETE FROM lastpass_audit_digest.evidence_bundles');
      const cut = await runInProcess(['verify'], withDb, dir);
      expect(cut.code).toBe(1);
      expect(cut.stdout).toContain(`[delivery] ${row.evidence_bundle}:`);
    } finally {
      await db.end();
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
      await admin.end();
    }
  });
});
