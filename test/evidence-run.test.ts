/**
 * Evidence wired into the orchestrator: the real client against the simulator, SendGrid against nock,
 * the file evidence backend. A delivered run, a dry run, a failed run and an evidence write failure.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEvidenceArchive } from '../src/evidence/evidence-archive.js';
import { createFileEvidenceBackend } from '../src/evidence/file-evidence-backend.js';
import { runReport, type RunDeps } from '../src/run-report.js';
import { generateDemoDay } from '../src/simulator/demo-day.js';
import { createLastPassSimulator, type LastPassSimulator } from '../src/simulator/lastpass-simulator.js';
import { createFileStore } from '../src/store/file-store.js';
import { thisProcess } from './support/process-info.js';
import { createTestRunDeps } from './support/run-deps.js';
import type { EvidenceArchive, Store } from '../src/ports.js';

const SECRET = 'lp-secret-ev-4f9d2c7a1b';
const SG_URL = 'https://sendgrid.example.test';
const NOW = new Date('2025-03-10T07:00:00Z');
let dir: string;
let store: Store;
let archive: EvidenceArchive;
let simulator: LastPassSimulator | null = null;

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterAll(() => nock.enableNetConnect());
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lpad-ev-run-'));
  store = createFileStore({ dir, processInfo: thisProcess(), now: () => NOW });
  await store.init();
  archive = createEvidenceArchive({
    backend: createFileEvidenceBackend({ dir: join(dir, 'evidence') }),
    version: '0.0.0-test',
    catalogueVersion: 'test',
    now: () => NOW,
  });
});
afterEach(async () => {
  nock.cleanAll();
  await simulator?.close();
  simulator = null;
  await archive.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

function deps(sim: LastPassSimulator, evidence: EvidenceArchive | undefined = archive): RunDeps {
  const d = createTestRunDeps({
    sim,
    store,
    dataDir: dir,
    apiSecret: SECRET,
    sendgridKey: 'SG.test-key-ev',
    sendgridUrl: SG_URL,
    now: NOW,
  });
  return evidence ? { ...d, evidence } : d;
}

function interceptSendGrid(sent: { content: { type: string; value: string }[]; subject: string }[]) {
  return nock(SG_URL)
    .post('/v3/mail/send', (body: (typeof sent)[number]) => {
      sent.push(body);
      return true;
    })
    .reply(202, '', { 'x-message-id': 'msg-ev-1' });
}

async function allFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(join(e.parentPath, e.name));
  return out;
}

describe('runReport with evidence', () => {
  it('a delivered run leaves a verifiable bundle whose content hash is in the digest footer, with no secret in it', async () => {
    const day = generateDemoDay({ end: NOW, timeZone: 'America/New_York', benignCount: 25_000 });
    simulator = await createLastPassSimulator({
      accountNumber: '8771234',
      apiSecret: SECRET,
      events: day.events,
      timeZone: 'America/New_York',
    });
    const sent: Parameters<typeof interceptSendGrid>[0] = [];
    interceptSendGrid(sent);
    const outcome = await runReport(deps(simulator));
    expect(outcome.status).toBe('ok');
    const w = outcome.windows[0]!;
    expect(w.evidence?.seq).toBe(1);
    expect(w.evidence?.location).toContain(join('evidence', '2025', '03', '10'));
    const manifest = JSON.parse(await readFile(join(w.evidence!.location, 'manifest.json'), 'utf8')) as {
      contentManifestSha256: string;
      files: { path: string; contentSha256?: string }[];
      status: string;
    };
    expect(manifest.status).toBe('delivered');
    const html = sent[0]!.content.find((c) => c.type === 'text/html')!.value;
    expect(html).toContain(`content SHA-256 ${manifest.contentManifestSha256}`);
    // One raw page per response of the window, each exactly the body the simulator sent (the run's own
    // checks are not pages of the window: two clock probes before it, the zone self-check after it).
    const pages = manifest.files.filter((f) => f.path.startsWith('raw/'));
    expect(pages.length).toBe(simulator.requests.length - 3);
    const first = gunzipSync(await readFile(join(w.evidence!.location, 'raw/page-0001.json.gz'))).toString('utf8');
    expect(JSON.parse(first)).toHaveProperty('status', 'OK');
    const request = JSON.parse(await readFile(join(w.evidence!.location, 'request.json'), 'utf8')) as Record<string, unknown>;
    expect(request.cid).toBe('8771234');
    expect(request).not.toHaveProperty('provhash');
    for (const f of await allFiles(join(dir, 'evidence'))) {
      const data = await readFile(f);
      expect(data.includes(SECRET), f).toBe(false);
      if (f.endsWith('.gz')) expect(gunzipSync(data).includes(SECRET), f).toBe(false);
    }
    const report = await archive.verify();
    expect(report.problems).toEqual([]);
  });

  it('a dry run leaves no bundle', async () => {
    simulator = await createLastPassSimulator({ accountNumber: '8771234', apiSecret: SECRET, events: [], timeZone: 'America/New_York' });
    const outcome = await runReport(deps(simulator), { dryRun: true });
    expect(outcome.windows[0]!.status).toBe('dry-run');
    expect(outcome.windows[0]!.evidence).toBeUndefined();
    const report = await archive.verify();
    expect(report.bundlesChecked).toBe(0);
    expect(report.incomplete).toEqual([]);
  });

  it('a run that fails at LastPass leaves a bundle recording the failure and the FAILED notice that was sent', async () => {
    simulator = await createLastPassSimulator({
      accountNumber: '8771234',
      apiSecret: 'another-secret',
      events: [],
      timeZone: 'America/New_York',
    });
    const sent: Parameters<typeof interceptSendGrid>[0] = [];
    interceptSendGrid(sent); // the FAILED notice
    const outcome = await runReport(deps(simulator));
    expect(outcome.status).toBe('failed');
    const w = outcome.windows[0]!;
    expect(w.evidence?.seq).toBe(1);
    const delivery = JSON.parse(await readFile(join(w.evidence!.location, 'delivery.json'), 'utf8')) as {
      sent: boolean;
      error: string;
      notice: { sent: boolean; subject: string; messageId: string };
    };
    expect(delivery.sent).toBe(false);
    expect(delivery.error).toMatch(/LastPass/);
    // What the recipients got instead of a digest is in the bundle, byte for byte.
    expect(sent).toHaveLength(1);
    expect(delivery.notice).toMatchObject({ sent: true, subject: sent[0]!.subject, messageId: 'msg-ev-1' });
    const html = sent[0]!.content.find((c) => c.type === 'text/html')!.value;
    expect(await readFile(join(w.evidence!.location, 'failure-notice.html'), 'utf8')).toBe(html);
    expect(await readFile(join(w.evidence!.location, 'failure-notice.txt'), 'utf8')).toBe(
      sent[0]!.content.find((c) => c.type === 'text/plain')!.value,
    );
    const manifest = JSON.parse(await readFile(join(w.evidence!.location, 'manifest.json'), 'utf8')) as { files: { path: string }[] };
    expect(manifest.files.map((f) => f.path)).toEqual(
      expect.arrayContaining(['failure-notice.html', 'failure-notice.txt', 'delivery.json']),
    );
    expect((await archive.verify()).ok).toBe(true);
  });

  it('a catch-up stops at a window whose evidence failed: its failure stays the last word (no later delivery resets it)', async () => {
    simulator = await createLastPassSimulator({ accountNumber: '8771234', apiSecret: SECRET, events: [], timeZone: 'America/New_York' });
    // Two days due; the first bundle cannot be written, the second could.
    await store.repairCursor(null, new Date(NOW.getTime() - 2 * 86_400_000).toISOString());
    let begun = 0;
    const flaky: EvidenceArchive = {
      ...archive,
      begin: async (input) => (begun++ === 0 ? Promise.reject(new Error('disk full')) : archive.begin(input)),
    };
    const sent: Parameters<typeof interceptSendGrid>[0] = [];
    interceptSendGrid(sent);
    interceptSendGrid(sent);
    const outcome = await runReport(deps(simulator, flaky));
    expect(outcome.status).toBe('failed');
    expect(outcome.windows).toHaveLength(1);
    expect(outcome.windows[0]!.evidenceError).toMatch(/disk full/);
    const state = await store.readState();
    expect(state.consecutiveFailures).toBeGreaterThan(0);
    expect(state.lastFailure?.message).toMatch(/disk full|evidence/i);
    // The second day is still due: the next run delivers it.
    expect(Date.parse(state.cursor!)).toBeLessThan(NOW.getTime());
  });

  it('an evidence write failure still delivers the digest, says so in it, and fails the run', async () => {
    simulator = await createLastPassSimulator({ accountNumber: '8771234', apiSecret: SECRET, events: [], timeZone: 'America/New_York' });
    const broken: EvidenceArchive = { ...archive, begin: async () => Promise.reject(new Error('disk full')) };
    const sent: Parameters<typeof interceptSendGrid>[0] = [];
    interceptSendGrid(sent);
    const outcome = await runReport(deps(simulator, broken));
    expect(sent).toHaveLength(1);
    expect(sent[0]!.content.find((c) => c.type === 'text/plain')!.value).toContain('Evidence for this run could NOT be recorded');
    expect(outcome.windows[0]!.status).toBe('delivered');
    expect(outcome.windows[0]!.evidenceError).toMatch(/disk full/);
    expect(outcome.status).toBe('failed');
    expect((await store.readState()).cursor).toBe(NOW.toISOString());
  });
});
