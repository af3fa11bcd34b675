/**
 * The demo day end to end, in process: every planted incident is a finding with its reason, and nothing
 * else is called a finding.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRenderer } from '../src/adapters/renderer.js';
import { runDemo, type DemoResult } from '../src/demo.js';
import { thisProcess } from './support/process-info.js';
import { recordingLogger } from './support/recording-logger.js';

let dir: string;
let result: DemoResult;
let text: string;
let html: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lpad-demo-'));
  result = await runDemo({
    dataDir: dir,
    logger: recordingLogger(),
    now: () => new Date('2025-06-12T07:00:00Z'),
    processInfo: thisProcess(),
    renderer: createRenderer(),
    version: 'test',
  });
  text = await readFile(result.digestPath!.replace(/message\.html$/, 'message.txt'), 'utf8');
  html = await readFile(result.digestPath!, 'utf8');
}, 120_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The FINDINGS section of the text part: one entry per "  [SEVERITY] title — subject: reason" item. */
function findingEntries(): string[] {
  const section = text.split('\nFINDINGS')[1]!.split('\n\n\n')[0]!;
  return section
    .split(/\n(?= {2}\[)/)
    .map((e) => e.replace(/\s+/g, ' ').trim())
    .filter((e) => e.startsWith('['));
}

describe('the demo digest', () => {
  it('pages through more than 10,000 events and delivers to the outbox', () => {
    expect(result.outcome.status).toBe('ok');
    expect(result.eventsServed).toBeGreaterThan(30_000);
    expect(result.requests).toBeGreaterThanOrEqual(4);
  });

  it('shows every planted incident as a finding with its reason, and nothing else', () => {
    const entries = findingEntries();
    const expected: [string, RegExp][] = [
      [
        'failed-login-burst',
        /^\[HIGH\] Failed sign-in burst, then a successful sign-in — .*: 12 failed sign-ins in \d+ min from [\d.]+, then a successful sign-in 5 s later/,
      ],
      [
        'password-spraying',
        /^\[HIGH\] Password spraying from one IP — 203\.0\.113\.66: 203\.0\.113\.66 failed to sign in as 15 different users/,
      ],
      [
        'foreign-api-caller',
        /^\[HIGH\] Another API caller used the Enterprise API secret — backup-script: 1 call \(Reporting\) by "backup-script"/,
      ],
      [
        'foreign-api-caller (unlabelled)',
        /^\[HIGH\] Another API caller used the Enterprise API secret — \(no caller label\): 1 call \(Get User Data\) without a caller label/,
      ],
      [
        'admin-granted + shared-folder-admin',
        /^\[HIGH\] 2 privilege or policy changes — .*made .* an admin; gave eve@example\.org Admin:yes on shared folder "Finance"/,
      ],
      [
        'policy-deleted',
        /^\[HIGH\] 2 privilege or policy changes — .*deleted policy 'Require multifactor authentication'; set 'Password length' to 8/,
      ],
      ['mfa-disabled', /^\[HIGH\] Multifactor authentication disabled — .*disabled multifactor authentication/],
      ['vault-export', /^\[HIGH\] Data export — .*a whole vault left LastPass/],
      [
        'new-ip',
        /^\[MEDIUM\] Sign-in from a new network — .*first sign-in from 198\.18\.7\.20 in 30 days \(network 198\.18\.7\.0\/24 is new for this user too\)/,
      ],
    ];
    for (const [id, pattern] of expected) {
      expect(
        entries.filter((e) => pattern.test(e)),
        `${id} in:\n${entries.join('\n')}`,
      ).toHaveLength(1);
    }
    expect(entries).toHaveLength(expected.length);
    expect(text).toMatch(/^\[ATTENTION\] 9 findings \(8 high\) · \d+ high-severity events/m);
  });

  it('states its noise control in the coverage section: the known SIEM caller with its calls, the ignored service account with its events', () => {
    const coverage = text.split('WINDOW AND COVERAGE')[1]!.replace(/\s+/g, ' ');
    expect(coverage).toMatch(
      /Known caller "Microsoft Sentinel CCP" \(allowed from 198\.51\.100\.0\/24\): \d+ calls \(Reporting\) from 198\.51\.100\.\d+: info, not a finding/,
    );
    expect(coverage).toMatch(/Ignored user svc-provisioning@example\.org: \d+ events not reviewed/);
    // The SIEM's calls are no "foreign API caller" finding; the planted foreign caller still is.
    expect(text.match(/API caller/gi)?.length ?? 0).toBeGreaterThan(0);
    expect(text.split('WINDOW AND COVERAGE')[0]).not.toContain('Microsoft Sentinel CCP');
  });

  it('shows hostile text escaped and lists unrecognised names with counts', () => {
    expect(html).toContain('&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;');
    expect(html).not.toMatch(/<script>alert|<img src=x/);
    expect(html).toContain('Vault Health Report Viewed');
    expect(text).toMatch(/UNRECOGNISED EVENTS[\s\S]*Vault Health Report Viewed/);
  });

  it('has a week of history behind it: trends are shown, not "still building"', () => {
    expect(text).toMatch(/TRENDS/);
    expect(text).not.toContain('baseline is still building');
  });

  it('attaches every security-relevant event as CSV (formula cells neutralised) and JSON', async () => {
    const folder = dirname(result.digestPath!);
    const files = await readdir(folder);
    const csvName = files.find((f) => f.endsWith('.csv.gz'))!;
    const csv = gunzipSync(await readFile(join(folder, csvName))).toString('utf8');
    const json = JSON.parse(
      gunzipSync(await readFile(join(folder, files.find((f) => f.endsWith('.json.gz'))!))).toString('utf8'),
    ) as unknown[];
    expect(csv.trimEnd().split('\r\n')).toHaveLength(json.length + 1);
    expect(csv).toContain(`"'=HYPERLINK(""http://evil.example"",""click"")"`);
    expect(csv).not.toMatch(/,=HYPERLINK/);
    expect(Buffer.byteLength(html)).toBeLessThan(100_000);
  });
});
