/**
 * The digest model: trends (first day, missing days, standing out), the chart, the verdict and the counts
 * that must agree, what to do next, the coverage of the noise-control settings, the wording.
 */
import { describe, expect, it } from 'vitest';
import { createAnalysis, type AnalysisResult } from '../src/core/analysis.js';
import { buildChart, buildTrends, type PriorDay } from '../src/core/digest-chart.js';
import { buildDigestModel, buildFailureModel } from '../src/core/digest-model.js';
import { parseIgnoreUsers } from '../src/core/ignore-users.js';
import { parseKnownApiCallers } from '../src/core/known-callers.js';
import { parseSeverityOverrides } from '../src/core/severity-overrides.js';
import type { AuditEvent } from '../src/core/types.js';

const START = Date.parse('2025-03-09T07:00:00Z');
const END = START + 86_400_000;
const window = { start: new Date(START), end: new Date(END) };

function analyse(events: Partial<AuditEvent>[]): AnalysisResult {
  const a = createAnalysis({ apiUser: 'lastpass-audit-digest', windowStart: START, windowEnd: END });
  for (const e of events)
    a.add({ at: START + 3_600_000, wall: '', username: 'u@example.org', ip: '192.0.2.1', action: 'Log in', data: '', ...e });
  return a.result();
}
const day = (n: number, byCategory: Record<string, number>): PriorDay => ({
  end: new Date(START - n * 86_400_000).toISOString(),
  byCategory,
});
const failures = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ action: 'Failed Login Attempt', at: START + i * 7_200_000, username: `u${i}@example.org` }));

describe('trends', () => {
  it('on the first days says the baseline is still building, with no numbers', () => {
    expect(buildTrends(analyse(failures(3)), window, [])).toEqual({
      building: true,
      note: expect.stringContaining('none yet') as string,
      rows: [],
    });
    const two = buildTrends(analyse(failures(3)), window, [day(1, { 'Sign-in': 2 }), day(2, { 'Sign-in': 2 })]);
    expect(two.building).toBe(true);
    expect(two.note).toContain('2 so far');
  });

  it('compares today with the previous delivered day and the median of the last 7; marks what stands out', () => {
    const prior = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => day(n, { 'Sign-in': n === 1 ? 4 : 2, Policies: 1 }));
    const t = buildTrends(analyse([...failures(9), { action: 'Edit Policy', data: 'x' }]), window, prior);
    expect(t.building).toBe(false);
    expect(t.rows).toEqual([
      { category: 'Sign-in', today: 9, yesterday: '4', median: '2', standsOut: true },
      { category: 'Policies', today: 1, yesterday: '1', median: '1', standsOut: false },
    ]);
  });

  it('missing days count as what was delivered: windows after this one and gaps are ignored, not invented', () => {
    const prior = [day(1, { 'Sign-in': 1 }), day(5, { 'Sign-in': 1 }), day(9, { 'Sign-in': 1 }), day(-1, { 'Sign-in': 100 })];
    const t = buildTrends(analyse(failures(1)), window, prior);
    expect(t.building).toBe(false);
    expect(t.rows).toEqual([{ category: 'Sign-in', today: 1, yesterday: '1', median: '1', standsOut: false }]);
  });

  it('a category quiet today but present before still shows, with today 0', () => {
    const prior = [1, 2, 3].map((n) => day(n, { 'Admin rights': 1 }));
    expect(buildTrends(analyse([]), window, prior).rows).toEqual([
      { category: 'Admin rights', today: 0, yesterday: '1', median: '1', standsOut: false },
    ]);
  });
});

describe('activity chart', () => {
  it('one bar per clock hour, heights scaled to the busiest hour, failures visible', () => {
    const chart = buildChart(analyse([...failures(2), { at: START + 3_600_000 }, { at: START + 3_600_000 }]), window, 'UTC');
    expect(chart.bars).toHaveLength(24);
    expect(chart.max).toBe(2);
    const busiest = chart.bars[1]!;
    expect(busiest).toMatchObject({ label: '08', total: 2, totalPx: 60, restPx: 0 });
    expect(chart.bars[0]!.failurePx).toBeGreaterThanOrEqual(3);
    expect(chart.bars[5]!.totalPx).toBe(0);
    expect(busiest.title).toBe('08:00–09:00: 2 events, 0 failed sign-ins');
  });
});

describe('verdict', () => {
  const ctx = {
    window,
    requested: null,
    requests: 1,
    pages: 1,
    reportTimeZone: 'UTC',
    lastpassTimeZone: 'America/New_York',
    version: 't',
    generatedAt: new Date(END),
  };
  it('quiet: states the number of events reviewed', () => {
    const m = buildDigestModel(analyse([{}, {}]), ctx);
    expect(m.quiet).toBe(true);
    expect(m.verdictLevel).toBe('quiet');
    expect(m.verdict).toBe('Quiet day: no security-relevant events among 2 events reviewed');
    expect(m.subject).toBe('LastPass security digest 2025-03-10 — quiet, 2 events reviewed');
    expect(m.preheader).toBe(m.verdict);
  });

  it('subject, preheader, verdict and tiles say the same thing and name what they count', () => {
    const burst = Array.from({ length: 6 }, (_, i) => ({ action: 'Failed Login Attempt', at: START + 3_600_000 + i * 60_000 }));
    const m = buildDigestModel(
      analyse([
        ...burst,
        { action: 'Data export', username: 'eve@example.org' },
        { action: 'Make Admin', data: 'x@example.org', username: 'root@example.org' },
        { action: 'Make Admin', data: 'y@example.org', username: 'root@example.org' },
        { action: 'Data printed', username: 'eve@example.org' },
      ]),
      ctx,
    );
    expect(m.detections.map((d) => [d.severity, d.title])).toEqual([
      ['high', '2 privilege or policy changes'],
      ['high', 'Data export'],
      ['medium', 'Failed sign-in burst'],
      ['medium', 'Data printed'],
    ]);
    expect(m.subject).toBe('LastPass security digest 2025-03-10 — 4 findings (2 high) · 3 high-severity events');
    expect(m.verdict).toBe('4 findings (2 high) · 3 high-severity events · 10 events reviewed');
    expect(m.preheader).toBe(m.verdict);
    expect(m.findingCount).toBe(4);
    expect(m.tilesCaption).toBe('Events by severity');
    expect(m.tiles.find((t) => t.severity === 'high')!.count).toBe(3);
    expect(m.verdictLevel).toBe('attention');
  });

  it('a finding is not listed again verbatim in the events table below it', () => {
    const m = buildDigestModel(
      analyse([
        { action: 'Data export' },
        { action: 'Make Admin', data: 'x@example.org' },
        { action: 'Deactivated User', data: 'z@example.org' },
      ]),
      ctx,
    );
    expect(m.detections.map((d) => d.title)).toEqual(['Admin rights granted', 'Data export', 'Deactivated User']);
    // The grant is evidence behind a detection: listed. The export and the deactivation are findings themselves: not repeated.
    expect(m.findings.map((e) => e.action)).toEqual(['Make Admin']);
    expect(m.findingsNote).toBe('2 events that are findings on their own are listed under Findings above, not repeated here.');
    const one = buildDigestModel(analyse([{ action: 'Data export' }]), ctx);
    expect(one.findings).toEqual([]);
    expect(one.findingsNote).toBe('1 event that is a finding on its own is listed under Findings above, not repeated here.');
    expect(buildDigestModel(analyse([{ action: 'Make Admin', data: 'x@example.org' }]), ctx).findingsNote).toBe('');
  });

  it('low events only: no findings, said so; low findings only: "worth a look"', () => {
    const lowOnly = buildDigestModel(analyse([{ action: 'Failed Login Attempt' }, { action: 'Failed login attempt' }]), ctx);
    expect(lowOnly.verdictLevel).toBe('quiet');
    expect(lowOnly.quiet).toBe(false);
    expect(lowOnly.verdict).toBe('No findings · 2 low-severity events · 2 events reviewed');
    expect(lowOnly.subject).toBe('LastPass security digest 2025-03-10 — no findings · 2 low-severity events');
    const a = createAnalysis({
      apiUser: 'lastpass-audit-digest',
      windowStart: START,
      windowEnd: END,
      history: { users: { 'u@example.org': { ips: { '192.0.2.1': '2025-03-08' }, vaultChanges: {} } }, days: ['2025-03-08'] },
    });
    a.add({ at: START + 3_600_000, wall: '', username: 'u@example.org', ip: '192.0.2.99', action: 'Log in', data: '' });
    const newIp = buildDigestModel(a.result(), ctx);
    expect(newIp.detections.map((d) => [d.severity, d.title])).toEqual([['low', 'Sign-in from a new IP in a known network']]);
    expect(newIp.verdictLevel).toBe('low');
    expect(newIp.verdict).toBe('1 finding (0 high) · 0 high-severity events · 1 event reviewed');
  });

  it('never says "1 events"', () => {
    const one = buildDigestModel(analyse([{ action: 'Data export' }]), ctx);
    expect(one.verdict).toBe('1 finding (1 high) · 1 high-severity event · 1 event reviewed');
    expect(one.subject).toBe('LastPass security digest 2025-03-10 — 1 finding (1 high) · 1 high-severity event');
    const quiet = buildDigestModel(analyse([{}]), ctx);
    expect(quiet.verdict).toBe('Quiet day: no security-relevant events among 1 event reviewed');
    expect(quiet.attestation).toBe('No security-relevant events among 1 event reviewed in this window.');
    const unknown = buildDigestModel(analyse([{ action: 'Vault Health Report Viewed' }]), ctx);
    expect(unknown.attestation).toContain('(1 event with names the catalogue does not know is listed below)');
    expect(one.chart.bars[1]!.title).toBe('08:00–09:00: 1 event, 0 failed sign-ins');
    for (const m of [one, quiet, unknown]) expect(JSON.stringify(m), m.verdict).not.toMatch(/\b1 (events|findings|calls)\b/);
  });

  it('names the zone of the times once, and not "UTC unless marked UTC"', () => {
    expect(buildDigestModel(analyse([]), ctx).footer.timesNote).toBe('Times are in UTC.');
    expect(buildDigestModel(analyse([]), { ...ctx, reportTimeZone: 'Europe/Berlin' }).footer.timesNote).toBe(
      'Times are in Europe/Berlin unless marked UTC.',
    );
    const failure = buildFailureModel({
      window,
      what: 'x',
      error: 'y',
      advice: 'z',
      consecutiveFailures: 1,
      reportTimeZone: 'UTC',
      version: 't',
      generatedAt: new Date(END),
    });
    expect(failure.footer.timesNote).toBe('Times are in UTC.');
  });

  it('speaks to the recipient about unrecognised events', () => {
    const m = buildDigestModel(analyse([{ action: 'Vault Health Report Viewed' }]), ctx);
    expect(m.unrecognisedNote).toContain('If a name looks security-relevant to you');
    expect(m.unrecognisedNote).toContain('tell whoever runs this digest');
    expect(m.unrecognisedNote).not.toMatch(/add them to the catalogue/);
  });
});

describe('what to do next', () => {
  const ctx = {
    window,
    requested: null,
    requests: 1,
    pages: 1,
    reportTimeZone: 'UTC',
    lastpassTimeZone: 'America/New_York',
    version: 't',
    generatedAt: new Date(END),
  };
  it('every finding type carries one or two sentences of guidance and an Admin Console link', () => {
    const burst = Array.from({ length: 6 }, (_, i) => ({ action: 'Failed Login Attempt', at: START + 3_600_000 + i * 60_000 }));
    const spray = Array.from({ length: 10 }, (_, i) => ({
      action: 'Failed login attempt',
      username: `u${i}@example.org`,
      ip: '203.0.113.66',
    }));
    const m = buildDigestModel(
      analyse([
        ...burst,
        { action: 'Log in', at: START + 3_600_000 + 6 * 60_000 },
        ...spray,
        { action: 'Reporting', data: 'Initiated by API: backup-script' },
        { action: 'Enterprise API Secret regenerated', username: 'root@example.org' },
        { action: 'Edit Policy', data: 'Password length New value: 8', username: 'root@example.org' },
        { action: 'Make Admin', data: 'x@example.org', username: 'boss@example.org' },
        { action: 'Delete Policy', data: 'Require multifactor authentication', username: 'boss@example.org' },
        { action: 'Disabled Multifactor Authentication', username: 'tom@example.org' },
        { action: 'Data export' },
        { action: 'Employee Account Deleted', data: 'x@example.org', username: 'root@example.org' },
        { action: 'Account Lockout' },
        {
          action: 'Update Folder Permissions',
          data: "'F' 'x@example.org' 'Read only:no Admin:no Hide PW:no'",
          username: 'root@example.org',
        },
      ]),
      ctx,
    );
    const byTitle = Object.fromEntries(m.detections.map((d) => [d.title, d]));
    expect(Object.keys(byTitle).sort()).toEqual([
      '2 privilege or policy changes',
      'Account Lockout',
      'Another API caller used the Enterprise API secret',
      'Data export',
      'Employee Account Deleted',
      'Failed sign-in burst, then a successful sign-in',
      'Multifactor authentication disabled',
      'Password spraying from one IP',
      'Policy changed',
      'The API secret was changed',
      'Update Folder Permissions',
    ]);
    for (const d of m.detections) {
      expect(d.guidance.split(/(?<=\.) /).length, d.title).toBeLessThanOrEqual(3);
      expect(d.guidance.length, d.title).toBeLessThan(260);
      expect(d.link, d.title).toMatch(/^https:\/\/admin\.lastpass\.com\//);
      expect(d.linkText, d.title).toMatch(/^Admin Console > /);
    }
    expect(byTitle['Another API caller used the Enterprise API secret']).toMatchObject({
      link: 'https://admin.lastpass.com/advanced/enterpriseApi',
      linkText: 'Admin Console > Advanced > Enterprise API',
    });
    expect(byTitle['Another API caller used the Enterprise API secret']!.guidance).toContain('LASTPASS_KNOWN_API_CALLERS');
    expect(byTitle['The API secret was changed']!.guidance).toContain('LASTPASS_API_KEY');
    expect(byTitle['Failed sign-in burst, then a successful sign-in']).toMatchObject({ link: 'https://admin.lastpass.com/users/view' });
    expect(byTitle['Policy changed']!.linkText).toBe('Admin Console > Policies');
    expect(byTitle['Update Folder Permissions']!.linkText).toBe('Admin Console > Applications > Shared folders');
    expect(byTitle['Policy changed']!.reason).toBe("root@example.org set 'Password length' to 8");
    expect(byTitle['2 privilege or policy changes']!.linkText).toBe('Admin Console > Reporting > General reports > Admin activity');
    expect(byTitle['Multifactor authentication disabled']!.guidance).toContain('have them enrol again');
    // Different types, different advice.
    expect(new Set(m.detections.map((d) => d.guidance)).size).toBe(m.detections.length);
  });
});

describe('coverage: noise-control settings, each with what it affected', () => {
  const base = {
    window,
    requested: null,
    requests: 1,
    pages: 1,
    reportTimeZone: 'UTC',
    lastpassTimeZone: 'America/New_York',
    version: 't',
    generatedAt: new Date(END),
  };
  const known = parseKnownApiCallers('Microsoft Sentinel CCP@198.51.100.0/24,splunk.collector').value;
  const overrides = parseSeverityOverrides('Login to Admin Console=info,Data printed=low').value;
  const ignore = parseIgnoreUsers('svc-provisioning@example.org,*@robots.example.org').value;

  it('states every known caller, override and ignored user, with its count, 0 included', () => {
    const a = createAnalysis({
      apiUser: 'lastpass-audit-digest',
      windowStart: START,
      windowEnd: END,
      knownApiCallers: known,
      severityOverrides: overrides,
      ignoreUsers: ignore,
    });
    const add = (e: Partial<AuditEvent>) =>
      a.add({ at: START + 3_600_000, wall: '', username: 'u@example.org', ip: '192.0.2.1', action: 'Log in', data: '', ...e });
    for (let i = 0; i < 3; i++) add({ action: 'Reporting', data: 'Initiated by API: Microsoft Sentinel CCP', ip: '198.51.100.250' });
    add({ action: 'Reporting', data: 'Initiated by API: Microsoft Sentinel CCP', ip: '203.0.113.77' });
    add({ action: 'Login to Admin Console' });
    add({ action: 'login to admin console' });
    for (let i = 0; i < 5; i++) add({ username: 'svc-provisioning@example.org' });
    const m = buildDigestModel(a.result(), { ...base, knownApiCallers: known, severityOverrides: overrides, ignoreUsers: ignore });
    expect(m.coverage.adjustments).toEqual([
      {
        label: 'Known caller',
        text: '"Microsoft Sentinel CCP" (allowed from 198.51.100.0/24): 3 calls (Reporting) from 198.51.100.250: info, not a finding; 1 call with this label from 203.0.113.77, outside: a finding above',
      },
      { label: 'Known caller', text: '"splunk.collector" (allowed from any address): no calls in this window' },
      { label: 'Override', text: '"Login to Admin Console" rated info (catalogue: low): 2 events' },
      { label: 'Override', text: '"Data printed" rated low (catalogue: medium): no events in this window' },
      { label: 'Ignored user', text: 'svc-provisioning@example.org: 5 events not reviewed' },
      { label: 'Ignored user', text: '*@robots.example.org: no events in this window' },
    ]);
    expect(m.detections.map((d) => d.title)).toEqual(['A known API caller from an unexpected address']);
  });

  it('states the settings the run passes even when the analysis has no count for them', () => {
    const m = buildDigestModel(analyse([]), { ...base, knownApiCallers: parseKnownApiCallers('-').value, ignoreUsers: ignore.slice(0, 1) });
    expect(m.coverage.adjustments).toEqual([
      { label: 'Known caller', text: 'Calls without a label ("-") (allowed from any address): no calls in this window' },
      { label: 'Ignored user', text: 'svc-provisioning@example.org: no events in this window' },
    ]);
    expect(buildDigestModel(analyse([]), base).coverage.adjustments).toEqual([]);
  });
});
