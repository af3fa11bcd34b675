/**
 * A message SendGrid accepts, always (issue #13). An attack day (120,000 failed sign-ins from distinct users
 * and IPs, a few high events among them) goes through the LastPass simulator over loopback HTTP, the real
 * pipeline and the real @sendgrid/mail client into a loopback SendGrid that refuses a request over 30 MiB
 * with 413 as SendGrid does: it is delivered at once, under the 20 MB margin, with gzip attachments that
 * hold the stated rows and a notice saying where the rest is. Then the size cut, and the 413 path: the
 * digest is re-sent once without attachments, and a second 413 fails the window instead of looping.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RELEVANT_ROWS_KEPT } from '../src/core/analysis.js';
import { MAX_REQUEST_BYTES } from '../src/core/attachment-plan.js';
import { CSV_COLUMNS } from '../src/core/event-export.js';
import type { RawEvent } from '../src/core/types.js';
import { formatWall } from '../src/core/wall-time.js';
import { createEvidenceArchive } from '../src/evidence/evidence-archive.js';
import { createFileEvidenceBackend } from '../src/evidence/file-evidence-backend.js';
import type { EvidenceArchive, Store } from '../src/ports.js';
import { runReport, type RunDeps, type RunOutcome } from '../src/run-report.js';
import { mulberry32 } from '../src/simulator/demo-day.js';
import { createLastPassSimulator, type LastPassSimulator } from '../src/simulator/lastpass-simulator.js';
import { createFileStore } from '../src/store/file-store.js';
import { parseCsv } from './support/csv.js';
import { type FakeSendGrid, type RecordedRequest, SENDGRID_MAX_REQUEST_BYTES, startFakeSendGrid } from './support/fake-sendgrid.js';
import { thisProcess } from './support/process-info.js';
import { createTestRunDeps } from './support/run-deps.js';

const SECRET = 'lp-secret-attack-7e1f0c';
const SG_KEY = 'SG.attack-day-key-93b1';
const NOW = new Date('2025-03-10T07:00:00Z');
/** windowLabel of the window ending at NOW in UTC: the day `export` takes. */
const DAY = '2025-03-10';
const EXPORT = `lastpass-audit-digest export --from ${DAY} --to ${DAY} --out lastpass-evidence-${DAY}.tar.gz`;
const HIGH_ACTIONS = ['Make Admin', 'Data export', 'Delete Policy'];

interface SentBody {
  subject: string;
  content: { type: string; value: string }[];
  attachments?: { filename: string; type: string; content: string; disposition: string }[];
}

const at = (seconds: number) => formatWall(NOW.getTime() - seconds * 1000, 'America/New_York');

/** `count` failed sign-ins, each from its own user and IP, spread over the day, and the high events. */
function attackDay(count: number, data: (i: number) => string): RawEvent[] {
  const events: RawEvent[] = [];
  for (let i = 0; i < count; i++) {
    events.push({
      Time: at(1 + Math.floor((i * 86_000) / count)),
      Username: `user${i}@target.example`,
      IP_Address: `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
      Action: i % 2 === 0 ? 'Failed Login Attempt' : 'Failed login',
      Data: data(i),
    });
  }
  for (const [i, action] of HIGH_ACTIONS.entries()) {
    events.push({
      Time: at(40_000 + i),
      Username: 'it-admin@target.example',
      IP_Address: '192.0.2.200',
      Action: action,
      Data: `high ${i}`,
    });
  }
  return events;
}

/** What a real attacker's sign-ins log: a reason and a browser string (one with a comma, quoted in the CSV). */
const realistic = (i: number) =>
  `Reason: ${i % 3 === 0 ? 'unknown user' : 'wrong master password'}; UA: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${100 + (i % 30)}.0.${i % 9000}.${i % 97}`;

interface Harness {
  dir: string;
  store: Store;
  archive: EvidenceArchive;
  simulator: LastPassSimulator;
  sendgrid: FakeSendGrid;
  deps: RunDeps;
}

async function harness(events: RawEvent[], sendgridLimit?: number, extra: Partial<RunDeps> = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'lpad-attack-'));
  const store = createFileStore({ dir, processInfo: thisProcess(), now: () => NOW });
  await store.init();
  const archive = createEvidenceArchive({
    backend: createFileEvidenceBackend({ dir: join(dir, 'evidence') }),
    version: '0.0.0-test',
    catalogueVersion: 'test',
    now: () => NOW,
  });
  const simulator = await createLastPassSimulator({ accountNumber: '8771234', apiSecret: SECRET, events });
  const sendgrid = await startFakeSendGrid(sendgridLimit === undefined ? {} : { maxRequestBytes: sendgridLimit });
  const base = createTestRunDeps({
    sim: simulator,
    store,
    dataDir: dir,
    apiSecret: SECRET,
    sendgridKey: SG_KEY,
    sendgridUrl: sendgrid.url,
    now: NOW,
  });
  return { dir, store, archive, simulator, sendgrid, deps: { ...base, evidence: archive, ...extra } };
}

async function close(h: Harness | undefined): Promise<void> {
  if (!h) return;
  await h.sendgrid.close();
  await h.simulator.close();
  await h.archive.close();
  await h.store.close();
  await rm(h.dir, { recursive: true, force: true });
}

const sends = (h: Harness): RecordedRequest[] => h.sendgrid.requests.filter((r) => r.method === 'POST' && r.path === '/v3/mail/send');
const part = (body: SentBody, type: string): string => body.content.find((c) => c.type === type)!.value;
const flat = (text: string) => text.replace(/\s+/g, ' ');

/** The CSV's records: every line counted, the first 2,000 parsed cell by cell (a full RFC 4180 parse of 100,000 rows is slow). */
function readCsv(text: string): { lines: number; head: string[][] } {
  const lines = text.split('\r\n');
  expect(lines.pop()).toBe('');
  return { lines: lines.length, head: parseCsv(`${lines.slice(0, 2_000).join('\r\n')}\r\n`) };
}

function gunzipAttachments(body: SentBody): { csv: { lines: number; head: string[][] }; json: { action: string; severity: string }[] } {
  const [csv, json] = body.attachments!;
  expect(csv!.filename).toBe(`lastpass-security-events-${DAY}.csv.gz`);
  expect(json!.filename).toBe(`lastpass-security-events-${DAY}.json.gz`);
  for (const a of [csv!, json!]) expect(a.type).toBe('application/gzip');
  return {
    csv: readCsv(gunzipSync(Buffer.from(csv!.content, 'base64')).toString('utf8')),
    json: JSON.parse(gunzipSync(Buffer.from(json!.content, 'base64')).toString('utf8')) as { action: string; severity: string }[],
  };
}

/** Rows in the bundle's raw pages (every response as LastPass sent it). */
async function rawRows(dir: string): Promise<number> {
  const files = await readdir(join(dir, 'evidence'), { recursive: true, withFileTypes: true });
  let rows = 0;
  for (const f of files.filter((x) => x.isFile() && /^page-\d+\.json\.gz$/.test(x.name))) {
    const page = JSON.parse(gunzipSync(await readFile(join(f.parentPath, f.name))).toString('utf8')) as { data?: unknown };
    rows += page.data && typeof page.data === 'object' ? Object.keys(page.data).length : 0;
  }
  return rows;
}

async function bundleEvents(dir: string): Promise<unknown[]> {
  const files = await readdir(join(dir, 'evidence'), { recursive: true, withFileTypes: true });
  const file = files.find((f) => f.isFile() && f.name.startsWith('events.json'))!;
  const bytes = await readFile(join(file.parentPath, file.name));
  return JSON.parse((file.name.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8')) as unknown[];
}

describe('an attack day: 120,000 failed sign-ins from distinct users and IPs', () => {
  const FAILED = 120_000;
  let h: Harness;
  let outcome: RunOutcome;
  let body: SentBody;

  beforeAll(async () => {
    h = await harness(attackDay(FAILED, realistic));
    outcome = await runReport(h.deps, {});
    body = sends(h)[0]!.body as SentBody;
  }, 240_000);
  afterAll(() => close(h));

  it('is delivered at once, its request under the 20 MB margin and SendGrid’s 30 MiB limit', () => {
    expect(outcome.windows.map((w) => w.status)).toEqual(['delivered']);
    expect(sends(h)).toHaveLength(1);
    const bytes = sends(h)[0]!.bytes;
    expect(bytes).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    expect(bytes).toBeLessThan(SENDGRID_MAX_REQUEST_BYTES);
  });

  it('attaches gzip CSV and JSON of the rows the analysis keeps (RELEVANT_ROWS_KEPT), the high events among them, readable back', () => {
    const { csv, json } = gunzipAttachments(body);
    // Memory bounded by design (issue #13): the analysis keeps the 25,000 most severe, then newest, rows.
    expect(csv.lines).toBe(RELEVANT_ROWS_KEPT + 1);
    const [header, ...rows] = csv.head;
    expect(header).toEqual([...CSV_COLUMNS]);
    for (const r of rows) expect(r).toHaveLength(CSV_COLUMNS.length);
    expect(rows.some((r) => r[7]!.includes('KHTML, like Gecko'))).toBe(true);
    expect(json).toHaveLength(RELEVANT_ROWS_KEPT);
    expect(json.filter((e) => e.severity === 'high').map((e) => e.action)).toEqual(expect.arrayContaining(HIGH_ACTIONS));
  });

  it('says in both parts how many rows are attached (of the exact total) and how to get the rest', () => {
    const total = (FAILED + HIGH_ACTIONS.length).toLocaleString('en-US');
    const notice = `The attached CSV and JSON hold 25,000 of ${total} security-relevant rows`;
    for (const text of [part(body, 'text/html'), flat(part(body, 'text/plain'))]) {
      expect(text).toContain(notice);
      expect(text).toContain(
        `every row is in the raw LastPass pages of the evidence bundle (raw/page-*.json.gz; its events.json holds the 25,000 rows listed here): ${EXPORT}`,
      );
      expect(text).toContain(`25,000 most severe of ${total} security-relevant events are attached`);
      expect(text).toContain('too large to keep every detail in bounded memory');
    }
  });

  it("keeps the analysis's rows in the evidence bundle's events.json and every row in its raw pages", async () => {
    expect(await bundleEvents(h.dir)).toHaveLength(RELEVANT_ROWS_KEPT);
    expect(await rawRows(h.dir)).toBeGreaterThanOrEqual(FAILED + HIGH_ACTIONS.length);
  });
});

/** Incompressible Data (a random token per row): gzip cannot save these attachments, only leaving rows out can. */
function randomToken(seed: number): (i: number) => string {
  const random = mulberry32(seed);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  return () => {
    let token = 'token=';
    for (let k = 0; k < 400; k++) token += alphabet[Math.floor(random() * 64)];
    return token;
  };
}

describe('attachments over the request limit even compressed', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await close(h);
    h = undefined;
  });

  it('are cut, most severe first, until the encoded request fits, and the digest says how many they hold', async () => {
    const limit = 1_000_000;
    h = await harness(attackDay(6_000, randomToken(7)), undefined, { attachmentLimits: { maxRows: 100_000, maxRequestBytes: limit } });
    const outcome = await runReport(h.deps, {});
    expect(outcome.windows.map((w) => w.status)).toEqual(['delivered']);
    expect(sends(h)).toHaveLength(1);
    expect(sends(h)[0]!.bytes).toBeLessThanOrEqual(limit);
    const body = sends(h)[0]!.body as SentBody;
    const { csv, json } = gunzipAttachments(body);
    const kept = json.length;
    expect(kept).toBeGreaterThan(500);
    expect(kept).toBeLessThan(6_000);
    expect(csv.lines).toBe(kept + 1);
    expect(json.filter((e) => e.severity === 'high').map((e) => e.action)).toEqual(expect.arrayContaining(HIGH_ACTIONS));
    const notice = `The attached CSV and JSON hold ${kept.toLocaleString('en-US')} of 6,003 security-relevant rows`;
    for (const text of [part(body, 'text/html'), flat(part(body, 'text/plain'))]) {
      expect(text).toContain(notice);
      expect(text).toContain(EXPORT);
    }
  }, 60_000);
});

describe('SendGrid refusing the message as too large (HTTP 413)', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await close(h);
    h = undefined;
  });

  it('re-sends the digest once without attachments, saying why they are missing and how to get them', async () => {
    // A SendGrid whose limit the attachments exceed and the digest alone does not.
    const limit = 400_000;
    h = await harness(attackDay(3_000, randomToken(11)), limit);
    const outcome = await runReport(h.deps, {});
    expect(outcome.windows.map((w) => w.status)).toEqual(['delivered']);
    const [refused, resent, ...more] = sends(h);
    expect(more).toEqual([]);
    expect(refused!.bytes).toBeGreaterThan(limit);
    const body = resent!.body as SentBody;
    expect(resent!.bytes).toBeLessThanOrEqual(limit);
    expect(body.attachments).toBeUndefined();
    for (const text of [part(body, 'text/html'), flat(part(body, 'text/plain'))]) {
      expect(text).toContain(
        'SendGrid refused this digest as too large with its attachments (HTTP 413), so it was sent again without them: ' +
          `the CSV and JSON of the 3,003 security-relevant rows are missing; the complete list is in the evidence bundle (events.json): ${EXPORT}`,
      );
      expect(text).not.toContain('security-relevant events is attached');
    }
    expect(await bundleEvents(h.dir)).toHaveLength(3_003);
    // Delivered: the next run has nothing left to send for this window.
    const again = await runReport(h.deps, {});
    expect(again.windows.every((w) => w.status !== 'failed')).toBe(true);
    expect(sends(h)).toHaveLength(2);
  }, 60_000);

  it('fails the window when the message without attachments is refused too: never a third try of the digest', async () => {
    h = await harness(attackDay(200, realistic));
    const tooLarge = { status: 413, body: { errors: [{ message: 'The request entity is too large.', field: null }] } };
    h.sendgrid.script.push(tooLarge, tooLarge);
    const outcome = await runReport(h.deps, {});
    expect(outcome.windows.map((w) => w.status)).toEqual(['failed']);
    const subjects = sends(h).map((r) => (r.body as SentBody).subject);
    const digests = subjects.filter((s) => s.startsWith('LastPass security digest'));
    expect(digests).toHaveLength(2);
    expect((sends(h)[0]!.body as SentBody).attachments).toHaveLength(2);
    expect((sends(h)[1]!.body as SentBody).attachments).toBeUndefined();
    // The FAILED notice went out after them (the third request), and nothing else.
    expect(subjects).toHaveLength(3);
    expect(subjects[2]).toMatch(/FAILED/);
  }, 60_000);
});
