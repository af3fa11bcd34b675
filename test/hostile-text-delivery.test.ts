/**
 * Hostile event text through the whole run (issue #13): LastPass rows with lone surrogates and invisible
 * characters, fetched from the simulator by the real client, analysed, rendered and sent by the real
 * @sendgrid/mail client to a loopback SendGrid (test/support/fake-sendgrid.ts). The request body carries U+FFFD where the lone surrogates
 * were (never a `\ud800` escape), the look-alike username is shown as `⟨U+200B⟩`, and the stored state
 * carries no lone surrogate either.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRenderer } from '../src/adapters/renderer.js';
import { formatWall } from '../src/core/wall-time.js';
import type { RawEvent } from '../src/core/types.js';
import type { Store } from '../src/ports.js';
import { runReport } from '../src/run-report.js';
import { createLastPassSimulator, type LastPassSimulator } from '../src/simulator/lastpass-simulator.js';
import { createFileStore } from '../src/store/file-store.js';
import { runInProcess } from './support/command-io.js';
import { startFakeSendGrid, type FakeSendGrid } from './support/fake-sendgrid.js';
import { thisProcess } from './support/process-info.js';
import { createTestRunDeps } from './support/run-deps.js';

const SECRET = 'lp-secret-6a1f0c3e9d';
const SG_KEY = 'SG.test-key-2b8d4e6f';
const NOW = new Date('2025-03-10T07:00:00Z');
/** A JSON escape of half a surrogate pair: what a lone surrogate becomes in JSON.stringify's output. */
const LONE_SURROGATE_ESCAPE = /\\ud[89a-f][0-9a-f]{2}/i;

interface MailBody {
  content: { type: string; value: string }[];
  attachments?: { filename: string; content: string }[];
}

let dir: string;
let store: Store;
let sim: LastPassSimulator;
let sendgrid: FakeSendGrid;

const rows: RawEvent[] = [
  {
    Time: '2025-03-09 12:00:00',
    Username: 'alice@corp.example',
    IP_Address: '192.0.2.7',
    Action: 'Vault export',
    Data: 'broken \uD800 half',
  },
  { Time: '2025-03-09 12:01:00', Username: 'ali\u200Bce@corp.example', IP_Address: '192.0.2.8', Action: 'Vault export', Data: '' },
  { Time: '2025-03-09 12:02:00', Username: 'bob\uDC00@corp.example', IP_Address: '198.51.100.4', Action: 'Log in', Data: '' },
  { Time: '2025-03-09 12:03:00', Username: 'bob\uDC00@corp.example', IP_Address: '198.51.100.4', Action: 'Deleted Sites', Data: '' },
];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lpad-hostile-'));
  store = createFileStore({ dir, processInfo: thisProcess(), now: () => NOW });
  await store.init();
  sim = await createLastPassSimulator({ accountNumber: '8771234', apiSecret: SECRET, events: rows, timeZone: 'America/New_York' });
  sendgrid = await startFakeSendGrid();
});
afterEach(async () => {
  await sim.close();
  await sendgrid.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a lone surrogate in Data', () => {
  it('becomes U+FFFD in the SendGrid request body, its parts and attachments; the look-alike user is visible', async () => {
    const deps = createTestRunDeps({
      sim,
      store,
      dataDir: dir,
      apiSecret: SECRET,
      sendgridKey: SG_KEY,
      sendgridUrl: sendgrid.url,
      now: NOW,
      renderer: createRenderer(),
    });
    const outcome = await runReport(deps);
    expect(outcome.status).toBe('ok');

    const sends = sendgrid.requests.filter((r) => r.path === '/v3/mail/send');
    expect(sends).toHaveLength(1);
    const body = sends[0]!.body as MailBody;
    // The body as parsed from the bytes that arrived: a `\ud800` escape there would be a lone surrogate here,
    // which JSON.stringify writes as that escape again.
    const serialised = JSON.stringify(body);
    expect(serialised).not.toMatch(LONE_SURROGATE_ESCAPE);
    expect(serialised).not.toContain('\u200B');
    const html = body.content.find((c) => c.type === 'text/html')?.value ?? '';
    const text = body.content.find((c) => c.type === 'text/plain')?.value ?? '';
    for (const part of [html, text]) {
      expect(part).toContain('broken \uFFFD half');
      expect(part).toContain('ali⟨U+200B⟩ce@corp.example');
      expect(part).toContain('alice@corp.example');
    }
    const attachments = body.attachments ?? [];
    expect(attachments.length).toBeGreaterThan(0);
    for (const a of attachments) {
      // Attachments are base64 (maybe gzipped by then): decoded, they are well-formed UTF-8 with U+FFFD.
      let bytes = Buffer.from(a.content, 'base64');
      if (a.filename.endsWith('.gz')) bytes = (await import('node:zlib')).gunzipSync(bytes);
      const decoded = bytes.toString('utf8');
      expect(decoded).not.toMatch(LONE_SURROGATE_ESCAPE);
      expect(decoded).toContain('broken \uFFFD half');
    }

    // What the run stored (state, history, tail) has no lone surrogate either.
    const stored = await storedTexts(dir);
    expect(stored.length).toBeGreaterThan(0);
    for (const { name, text: content } of stored) expect(content, name).not.toMatch(LONE_SURROGATE_ESCAPE);
    expect(stored.map((s) => s.text).join('\n')).toContain('bob\uFFFD@corp.example');
  });
});

describe('check', () => {
  it('shows an API caller label with a terminal escape and a zero-width space as code points', async () => {
    const wall = formatWall(Date.now() - 3_600_000, 'America/New_York');
    const hostile: RawEvent = {
      Time: wall,
      Username: 'admin@corp.example',
      IP_Address: '203.0.113.9',
      Action: 'Reporting',
      Data: 'Initiated by API: evil\u001b[2J\u200bbot',
    };
    const lastpass = await createLastPassSimulator({ accountNumber: '8771234', apiSecret: SECRET, events: [hostile] });
    try {
      const result = await runInProcess(
        ['check'],
        {
          LASTPASS_ACCOUNT_NUMBER: '8771234',
          LASTPASS_API_KEY: SECRET,
          LASTPASS_API_URL: lastpass.url,
          SENDGRID_API_KEY: SG_KEY,
          SENDGRID_API_URL: sendgrid.url,
          REPORT_FROM: 'Digest <digest@example.org>',
          REPORT_TO: 'secops@example.org',
          DATA_DIR: join(dir, 'data'),
        },
        dir,
      );
      const line = result.stdout.split('\n').find((l) => /^ok\s+callers/.test(l)) ?? '';
      expect(line).toContain('"evil⟨U+001B⟩[2J⟨U+200B⟩bot" 1 call from 203.0.113.9');
      expect(result.stdout).not.toContain('\u001b[2J');
    } finally {
      await lastpass.close();
    }
  });
});

/** Every JSON file the file store wrote under `dir` (not the outbox or the evidence of raw pages). */
async function storedTexts(root: string): Promise<{ name: string; text: string }[]> {
  const names = (await readdir(root)).filter((n) => n.endsWith('.json'));
  return Promise.all(names.map(async (name) => ({ name, text: await readFile(join(root, name), 'utf8') })));
}
