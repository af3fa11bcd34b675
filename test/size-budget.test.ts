/**
 * The HTML part stays under Gmail's clipping limit whatever the volume, and the attachments hold the most
 * severe security-relevant events up to the analysis's bound (RELEVANT_ROWS_KEPT), the digest saying how
 * many there were: 100,000 events, two thirds of them security-relevant, with long hostile text.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLastPassClient } from '../src/adapters/lastpass/lastpass-client.js';
import { createOutboxMailer } from '../src/adapters/mail/outbox-mailer.js';
import { createRenderer, HTML_BUDGET_BYTES } from '../src/adapters/renderer.js';
import { RELEVANT_ROWS_KEPT } from '../src/core/analysis.js';
import type { RawEvent } from '../src/core/types.js';
import { formatWall } from '../src/core/wall-time.js';
import { runReport, type RunOutcome } from '../src/run-report.js';
import { createLastPassSimulator, type LastPassSimulator } from '../src/simulator/lastpass-simulator.js';
import { createFileStore } from '../src/store/file-store.js';
import { thisProcess } from './support/process-info.js';
import { recordingLogger } from './support/recording-logger.js';

const NOW = new Date('2025-03-10T07:00:00Z');
const ACTIONS = [
  'Make Admin',
  'Data export',
  'Delete Policy',
  'Edit Policy',
  'Failed Login Attempt',
  'Deactivated User',
  'Log in',
  'Site Added',
  'Form Filled',
];
let dir: string;
let simulator: LastPassSimulator;
let outcome: RunOutcome;
let relevantCount = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lpad-size-'));
  const events: RawEvent[] = [];
  const long = `=cmd|${'A'.repeat(400)}<b>x</b>`;
  for (let i = 0; i < 100_000; i++) {
    const action = ACTIONS[i % ACTIONS.length]!;
    if (i % ACTIONS.length < 6) relevantCount++;
    events.push({
      Time: formatWall(NOW.getTime() - 1000 - Math.floor((i * 86_000_000) / 100_000), 'America/New_York'),
      Username: `user${i % 3000}-${'x'.repeat(i % 50)}@example.org`,
      IP_Address: `198.51.100.${i % 250}`,
      Action: action,
      Data: i % 7 === 0 ? long : `detail ${i}`,
    });
  }
  simulator = await createLastPassSimulator({ accountNumber: '1', apiSecret: 's3cret-value', events });
  const logger = recordingLogger();
  const store = createFileStore({ dir, processInfo: thisProcess(), now: () => NOW });
  await store.init();
  const config = {
    lastpass: {
      accountNumber: '1',
      apiSecret: 's3cret-value',
      apiUrl: simulator.url,
      timeZone: 'America/New_York',
      apiUser: 'lastpass-audit-digest',
      timeoutMs: 30_000,
    },
    report: { from: 'd@example.org', to: ['s@example.org'], schedule: '0 7 * * *', timeZone: 'UTC', maxCatchupDays: 7 },
  };
  const outbox = createOutboxMailer({ dataDir: dir, logger });
  outcome = await runReport(
    {
      config,
      store,
      lastpass: createLastPassClient({ ...config.lastpass, logger, now: () => NOW.getTime() }),
      mailer: outbox,
      outbox,
      renderer: createRenderer(),
      logger,
      now: () => NOW,
      version: 't',
    },
    { dryRun: true },
  );
  await store.close();
}, 120_000);
afterAll(async () => {
  await simulator.close();
  await rm(dir, { recursive: true, force: true });
});

describe('size budget at 100,000 events', () => {
  it("keeps the HTML part within the renderer's budget (under Gmail's ~102 KB) and says how many more there are", async () => {
    expect(outcome.windows[0]!.status).toBe('dry-run');
    const folder = join(dir, 'outbox', outcome.windows[0]!.key);
    const html = await readFile(join(folder, 'message.html'), 'utf8');
    expect(Buffer.byteLength(html)).toBeLessThanOrEqual(HTML_BUDGET_BYTES);
    expect(html).toMatch(/and [\d,]+ more/);
    expect(html).not.toContain('<b>x</b>');
  });

  it('attaches the most severe security-relevant events (at most RELEVANT_ROWS_KEPT) as CSV and JSON, formula cells neutralised, and says how many there were', async () => {
    const folder = join(dir, 'outbox', outcome.windows[0]!.key);
    const files = await readdir(folder);
    const csv = gunzipSync(await readFile(join(folder, files.find((f) => f.endsWith('.csv.gz'))!))).toString('utf8');
    const json = JSON.parse(
      gunzipSync(
        await readFile(join(folder, files.find((f) => f.startsWith('lastpass-security-events') && f.endsWith('.json.gz'))!)),
      ).toString('utf8'),
    ) as { action: string; severity: string }[];
    // 66,668 security-relevant events: more than the analysis keeps (memory bounded by design, issue #13).
    expect(relevantCount).toBeGreaterThan(RELEVANT_ROWS_KEPT);
    const rows = csv.trimEnd().split('\r\n');
    expect(rows).toHaveLength(RELEVANT_ROWS_KEPT + 1);
    expect(json).toHaveLength(RELEVANT_ROWS_KEPT);
    // The most severe are kept: the day has more high and medium events than the bound, so no low one.
    expect(json.some((e) => e.severity === 'low')).toBe(false);
    for (const e of json) expect(ACTIONS.slice(0, 6)).toContain(e.action);
    expect(csv).toContain(",'=cmd|AAAA");
    expect(csv).not.toMatch(/,=cmd/);
    // And the digest says so, with the exact total.
    const html = await readFile(join(folder, 'message.html'), 'utf8');
    expect(html).toContain('Memory bounds reached');
    expect(html).toContain(
      `${relevantCount.toLocaleString('en-US')} in this window; the 25,000 most severe and newest are listed and attached`,
    );
  });
});
