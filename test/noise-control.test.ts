/**
 * Noise control through the analysis: known API callers (inside and outside their networks), severity
 * overrides and ignored users, with what each did to the window, on rows shaped like the public samples.
 */
import { describe, expect, it } from 'vitest';
import { createAnalysis, type AnalysisResult } from '../src/core/analysis.js';
import { apiCallersSeen } from '../src/core/api-callers-seen.js';
import { parseIgnoreUsers } from '../src/core/ignore-users.js';
import { parseKnownApiCallers } from '../src/core/known-callers.js';
import { parseSeverityOverrides } from '../src/core/severity-overrides.js';
import type { RawEvent } from '../src/core/types.js';
import { API_CALLER_ROWS } from './fixtures/public-samples.js';

const START = Date.parse('2025-03-09T07:00:00Z');
const END = START + 86_400_000;

function analyse(rows: RawEvent[], settings: { known?: string; overrides?: string; ignore?: string } = {}): AnalysisResult {
  const a = createAnalysis({
    apiUser: 'lastpass-audit-digest',
    windowStart: START,
    windowEnd: END,
    knownApiCallers: parseKnownApiCallers(settings.known).value,
    severityOverrides: parseSeverityOverrides(settings.overrides).value,
    ignoreUsers: parseIgnoreUsers(settings.ignore).value,
  });
  for (const [i, r] of rows.entries())
    a.add({ at: START + 3_600_000 + i * 1000, wall: r.Time, username: r.Username, ip: r.IP_Address, action: r.Action, data: r.Data });
  return a.result();
}

const times = (r: RawEvent, n: number) => Array.from({ length: n }, () => ({ ...r }));
const KNOWN = 'Microsoft Sentinel CCP@198.51.100.0/24,splunk.collector';

describe('known API callers', () => {
  it('a known caller inside its network is info, listed with its calls and IPs, and no finding', () => {
    const r = analyse([...times(API_CALLER_ROWS.sentinelInside, 144), API_CALLER_ROWS.splunk], { known: KNOWN });
    expect(r.findings).toEqual([]);
    expect(r.bySeverity.high).toBe(0);
    expect(r.bySeverity.info).toBe(145);
    expect(r.relevant).toEqual([]);
    expect(r.knownApiCallers).toEqual([
      {
        label: 'Microsoft Sentinel CCP',
        networks: ['198.51.100.0/24'],
        calls: 144,
        ips: ['198.51.100.250'],
        actions: ['Reporting'],
        outsideCalls: 0,
        outsideIps: [],
      },
      {
        label: 'splunk.collector',
        networks: [],
        calls: 1,
        ips: ['192.0.2.40'],
        actions: ['Get User Data'],
        outsideCalls: 0,
        outsideIps: [],
      },
    ]);
  });

  it('the same label from outside its network stays high, a finding of its own that says so', () => {
    const r = analyse([...times(API_CALLER_ROWS.sentinelInside, 3), ...times(API_CALLER_ROWS.sentinelOutside, 2)], { known: KNOWN });
    expect(r.bySeverity).toMatchObject({ high: 2, info: 3 });
    expect(r.findings.map((f) => [f.severity, f.title, f.subject, f.events])).toEqual([
      ['high', 'A known API caller from an unexpected address', 'Microsoft Sentinel CCP', 2],
    ]);
    expect(r.findings[0]!.reason).toBe(
      '2 calls (Reporting) labelled "Microsoft Sentinel CCP" from 203.0.113.77, outside the networks allowed for it in LASTPASS_KNOWN_API_CALLERS (198.51.100.0/24): a label is free text, so whoever sent these holds the API secret',
    );
    expect(r.knownApiCallers[0]).toMatchObject({ calls: 3, outsideCalls: 2, outsideIps: ['203.0.113.77'] });
    // The high rows are explained by the finding: not listed again as findings of their own.
    expect(r.relevant.every((e) => e.claimedBy === 'foreign-api-caller')).toBe(true);
  });

  it('any unknown caller stays high, whatever the Data spelling; without settings the SIEM is one of them', () => {
    const r = analyse([API_CALLER_ROWS.sentinelInside, API_CALLER_ROWS.unlabelledSentinelStyle], { known: KNOWN });
    expect(r.findings.map((f) => [f.title, f.subject])).toEqual([
      ['Another API caller used the Enterprise API secret', '(no caller label)'],
    ]);
    const none = analyse([API_CALLER_ROWS.sentinelInside]);
    expect(none.findings.map((f) => f.subject)).toEqual(['Microsoft Sentinel CCP']);
    expect(none.knownApiCallers).toEqual([]);
  });

  it('"-" lists the callers that send no label', () => {
    const r = analyse([API_CALLER_ROWS.unlabelledSentinelStyle], { known: '-@203.0.113.0/24' });
    expect(r.findings).toEqual([]);
    expect(r.knownApiCallers).toMatchObject([{ label: '', calls: 1, ips: ['203.0.113.78'] }]);
  });
});

describe('severity overrides', () => {
  const row = (Action: string, Data = '', Username = 'maria@example.org'): RawEvent => ({
    Time: '2025-03-09 10:00:00',
    Username,
    IP_Address: '198.51.100.23',
    Action,
    Data,
  });

  it('set the severity of every event of the named actions, any spelling, and count them', () => {
    const r = analyse(
      [
        row('Login to Admin Console'),
        row('login to admin console'),
        row('Data export'),
        row('Employee account created', 'new.hire@example.org'),
        row('Log in', 'LastPass via Chrome v4.134.0'),
      ],
      { overrides: 'Login to Admin Console=info,Data export=medium,Employee Account Created=info' },
    );
    expect(r.bySeverity).toEqual({ high: 0, medium: 1, low: 0, info: 4 });
    expect(r.severityOverrides).toEqual([
      { name: 'Login to Admin Console', severity: 'info', catalogueSeverity: 'low', events: 2 },
      { name: 'Data export', severity: 'medium', catalogueSeverity: 'high', events: 1 },
      { name: 'Employee Account Created', severity: 'info', catalogueSeverity: 'low', events: 1 },
    ]);
    expect(r.relevant.map((e) => [e.action, e.severity, e.note])).toEqual([
      ['Data export', 'medium', 'severity set to medium by REPORT_SEVERITY_OVERRIDES (catalogue: high)'],
    ]);
  });

  it('an override that matches nothing today is still stated, with 0 events', () => {
    expect(analyse([row('Log in')], { overrides: 'Data printed=low' }).severityOverrides).toEqual([
      { name: 'Data printed', severity: 'low', catalogueSeverity: 'medium', events: 0 },
    ]);
  });
});

describe('ignored users', () => {
  const svc = (Action: string, Username = 'svc-provisioning@example.org'): RawEvent => ({
    Time: '2025-03-09 10:00:00',
    Username,
    IP_Address: '10.0.0.9',
    Action,
    Data: '',
  });

  it('their events are not reviewed: not counted, not listed, no findings; each rule says how many', () => {
    const rows = [
      ...Array.from({ length: 6 }, () => svc('Failed Login Attempt')),
      svc('Log in'),
      svc('Failed Login Attempt', 'scanner@robots.example.org'),
      svc('Failed Login Attempt', 'maria@example.org'),
    ];
    const r = analyse(rows, { ignore: 'SVC-provisioning@example.org,*@robots.example.org,*@nobody.example.org' });
    expect(r.eventsReviewed).toBe(1);
    expect(r.relevant.map((e) => e.username)).toEqual(['maria@example.org']);
    expect(r.findings).toEqual([]);
    expect(r.ignoredUsers).toEqual([
      { rule: 'SVC-provisioning@example.org', events: 7 },
      { rule: '*@robots.example.org', events: 1 },
      { rule: '*@nobody.example.org', events: 0 },
    ]);
    const unignored = analyse(rows);
    expect(unignored.eventsReviewed).toBe(9);
    expect(unignored.findings.map((f) => f.title)).toEqual(['Failed sign-in burst, then a successful sign-in']);
    expect(unignored.ignoredUsers).toEqual([]);
  });
});

describe('API callers seen (for check)', () => {
  it('lists every caller with its calls, IPs and how LASTPASS_KNOWN_API_CALLERS rates it, busiest first', () => {
    const rows = [
      ...times(API_CALLER_ROWS.sentinelInside, 3),
      API_CALLER_ROWS.sentinelOutside,
      API_CALLER_ROWS.splunk,
      API_CALLER_ROWS.unlabelledSentinelStyle,
      { ...API_CALLER_ROWS.unlabelledSentinelStyle, Data: 'Initiated by API', Time: '2025-03-09 11:00:00' },
      API_CALLER_ROWS.ours,
      API_CALLER_ROWS.adminConsoleReport,
      { ...API_CALLER_ROWS.ours, Action: 'Log in' },
    ];
    expect(apiCallersSeen(rows, { apiUser: 'lastpass-audit-digest', knownApiCallers: parseKnownApiCallers(KNOWN).value })).toEqual([
      {
        label: 'Microsoft Sentinel CCP',
        entry: 'Microsoft Sentinel CCP',
        status: 'known',
        calls: 3,
        ips: ['198.51.100.250'],
        actions: ['Reporting'],
        lastTime: '2025-03-09 10:15:00',
      },
      {
        label: '',
        entry: '-',
        status: 'unknown',
        calls: 2,
        ips: ['203.0.113.78'],
        actions: ['Reporting'],
        lastTime: '2025-03-09 11:00:00',
      },
      {
        label: 'lastpass-audit-digest',
        entry: 'lastpass-audit-digest',
        status: 'own',
        calls: 1,
        ips: ['10.0.0.5'],
        actions: ['Reporting'],
        lastTime: '2025-03-09 10:15:00',
      },
      {
        label: 'Microsoft Sentinel CCP',
        entry: 'Microsoft Sentinel CCP',
        status: 'outside',
        calls: 1,
        ips: ['203.0.113.77'],
        actions: ['Reporting'],
        lastTime: '2025-03-09 10:15:00',
      },
      {
        label: 'splunk.collector',
        entry: 'splunk.collector',
        status: 'known',
        calls: 1,
        ips: ['192.0.2.40'],
        actions: ['Get User Data'],
        lastTime: '2025-03-09 10:15:00',
      },
    ]);
  });
});

describe('the demo day with its integrations', () => {
  it('has a SIEM caller and a service account: noise without the settings, stated in the coverage with them', async () => {
    const { DEMO_IGNORE_USERS, DEMO_KNOWN_API_CALLERS, DEMO_SERVICE_ACCOUNT, DEMO_SIEM_LABEL, generateDemoDay } = await import(
      '../src/simulator/demo-day.js'
    );
    const { createWallResolver } = await import('../src/core/wall-time.js');
    const { buildDigestModel } = await import('../src/core/digest-model.js');
    const end = new Date('2025-03-10T07:00:00Z');
    const day = generateDemoDay({ end, timeZone: 'America/New_York', benignCount: 8_000, integrations: true });
    expect(day.events.filter((e) => e.Data === `Initiated by API: ${DEMO_SIEM_LABEL}`)).toHaveLength(144);
    expect(day.events.filter((e) => e.Username === DEMO_SERVICE_ACCOUNT)).toHaveLength(96);
    expect(
      generateDemoDay({ end, timeZone: 'America/New_York', benignCount: 8_000 }).events.some((e) => e.Username === DEMO_SERVICE_ACCOUNT),
    ).toBe(false);

    const resolve = createWallResolver('America/New_York');
    const run = (settings: { known?: string; ignore?: string }) => {
      const a = createAnalysis({
        apiUser: 'lastpass-audit-digest',
        windowStart: end.getTime() - 86_400_000,
        windowEnd: end.getTime(),
        knownApiCallers: parseKnownApiCallers(settings.known).value,
        ignoreUsers: parseIgnoreUsers(settings.ignore).value,
      });
      for (const e of day.events)
        a.add({ at: resolve(e.Time), wall: e.Time, username: e.Username, ip: e.IP_Address, action: e.Action, data: e.Data });
      return a.result();
    };
    const noisy = run({});
    expect(noisy.findings.filter((f) => f.subject === DEMO_SIEM_LABEL).map((f) => f.events)).toEqual([144]);
    expect(noisy.relevant.filter((e) => e.username === DEMO_SERVICE_ACCOUNT)).toHaveLength(6);

    const quietened = run({ known: DEMO_KNOWN_API_CALLERS, ignore: DEMO_IGNORE_USERS });
    expect(quietened.findings.filter((f) => f.subject === DEMO_SIEM_LABEL)).toEqual([]);
    expect(quietened.relevant.filter((e) => e.username === DEMO_SERVICE_ACCOUNT)).toEqual([]);
    expect(quietened.eventsReviewed).toBe(noisy.eventsReviewed - 96);
    const m = buildDigestModel(quietened, {
      window: { start: new Date(end.getTime() - 86_400_000), end },
      requested: null,
      requests: 1,
      pages: 1,
      reportTimeZone: 'UTC',
      lastpassTimeZone: 'America/New_York',
      version: 't',
      generatedAt: end,
    });
    expect(m.coverage.adjustments).toEqual([
      {
        label: 'Known caller',
        text: '"Microsoft Sentinel CCP" (allowed from 198.51.100.0/24): 144 calls (Reporting) from 198.51.100.250: info, not a finding',
      },
      { label: 'Ignored user', text: 'svc-provisioning@example.org: 96 events not reviewed' },
    ]);
  });
});
