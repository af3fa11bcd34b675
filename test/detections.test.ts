/** Each detection at its thresholds: just below, at, and above; and the reasons they give. */
import { describe, expect, it } from 'vitest';
import { createAnalysis, type AnalysisResult } from '../src/core/analysis.js';
import { DEFAULT_THRESHOLDS, type HistorySnapshot } from '../src/core/detections/detection.js';
import { networkOf } from '../src/core/detections/new-source.js';
import { parseFolderPermission, parsePolicy } from '../src/core/detections/privilege-changes.js';
import { collectFindings } from '../src/core/digest-model.js';
import type { AuditEvent } from '../src/core/types.js';

const START = Date.parse('2025-03-09T07:00:00Z');
const END = START + 86_400_000;
const MIN = 60_000;

function ev(minute: number, action: string, username = 'alice@example.org', ip = '203.0.113.9', data = ''): AuditEvent {
  return { at: START + minute * MIN, wall: '', username, ip, action, data };
}

function analyse(events: AuditEvent[], history?: HistorySnapshot): AnalysisResult {
  const a = createAnalysis({ apiUser: 'lastpass-audit-digest', windowStart: START, windowEnd: END, ...(history ? { history } : {}) });
  // LastPass sends newest first: feed them that way.
  for (const e of [...events].sort((x, y) => y.at - x.at)) a.add(e);
  return a.result();
}
const by = (r: AnalysisResult, detector: string) => r.findings.filter((f) => f.detector === detector);

describe('failed sign-in burst', () => {
  const burst = (n: number, spanMinutes: number) =>
    Array.from({ length: n }, (_, i) => ev(60 + (i * spanMinutes) / Math.max(1, n - 1), 'Failed Login Attempt'));

  it(`fires at ${DEFAULT_THRESHOLDS.burstFailures} failures within ${DEFAULT_THRESHOLDS.burstMinutes} minutes, not at one fewer`, () => {
    expect(by(analyse(burst(4, 5)), 'failed-signin-burst')).toHaveLength(0);
    expect(by(analyse(burst(5, 5)), 'failed-signin-burst')).toHaveLength(1);
    expect(by(analyse(burst(12, 8)), 'failed-signin-burst')).toHaveLength(1);
  });

  it('does not fire when the failures are spread wider than the burst window', () => {
    expect(by(analyse(burst(5, 10)), 'failed-signin-burst')).toHaveLength(1); // exactly 10 min: at the threshold
    expect(by(analyse(burst(5, 10.5)), 'failed-signin-burst')).toHaveLength(0);
  });

  it('is medium alone and high when a success follows, saying why', () => {
    const alone = by(analyse(burst(12, 8)), 'failed-signin-burst')[0]!;
    expect(alone.severity).toBe('medium');
    expect(alone.reason).toBe('12 failed sign-ins in 8 min from 203.0.113.9, no successful sign-in within 30 min after');
    const events = [...burst(12, 8), { ...ev(68, 'Log in'), at: START + 68 * MIN + 5_000 }];
    const hit = by(analyse(events), 'failed-signin-burst')[0]!;
    expect(hit.severity).toBe('high');
    expect(hit.reason).toBe('12 failed sign-ins in 8 min from 203.0.113.9, then a successful sign-in 5 s later from 203.0.113.9');
    // A success after the escalation window does not count.
    const late = by(analyse([...burst(12, 8), ev(68 + 31, 'Log in')]), 'failed-signin-burst')[0]!;
    expect(late.severity).toBe('medium');
  });

  it('a `Log in` whose Data names a vault item or a site is not the success that escalates a burst', () => {
    const at = START + 68 * MIN + 5_000;
    for (const data of [
      'VID: 4963227935627314198',
      'VID: 7114762062923152782 from Finance Creds',
      'salesforce.com',
      '1.1.1.1:1234/example',
    ]) {
      const f = by(
        analyse([...burst(12, 8), { ...ev(68, 'Log in', 'alice@example.org', '203.0.113.9', data), at }]),
        'failed-signin-burst',
      );
      expect(
        f.map((x) => x.severity),
        data,
      ).toEqual(['medium']);
    }
    const signIn = { ...ev(68, 'Log in', 'alice@example.org', '203.0.113.9', 'LastPass via Chrome v4.134.0'), at };
    expect(by(analyse([...burst(12, 8), signIn]), 'failed-signin-burst').map((x) => x.severity)).toEqual(['high']);
  });

  it('reports two separate bursts of one user separately', () => {
    const events = [...burst(5, 4), ...Array.from({ length: 5 }, (_, i) => ev(300 + i, 'failed login attempt'))];
    expect(by(analyse(events), 'failed-signin-burst')).toHaveLength(2);
  });
});

describe('password spraying', () => {
  const spray = (users: number, spanMinutes: number) =>
    Array.from({ length: users }, (_, i) =>
      ev(100 + (i * spanMinutes) / Math.max(1, users - 1), 'Failed login attempt', `user${i}@example.org`, '203.0.113.66'),
    );

  it(`fires at ${DEFAULT_THRESHOLDS.sprayUsers} distinct users within ${DEFAULT_THRESHOLDS.sprayMinutes} minutes, not at one fewer`, () => {
    expect(by(analyse(spray(9, 20)), 'password-spraying')).toHaveLength(0);
    const at = by(analyse(spray(10, 20)), 'password-spraying');
    expect(at).toHaveLength(1);
    expect(at[0]!.severity).toBe('high');
    expect(at[0]!.reason).toBe(
      '203.0.113.66 failed to sign in as 10 different users in 20 min (10 failures; 10 from this IP in the window)',
    );
    expect(by(analyse(spray(15, 20)), 'password-spraying')).toHaveLength(1);
  });

  it('many failures of one user from one IP are a burst, not spraying', () => {
    const events = Array.from({ length: 30 }, (_, i) => ev(100 + i, 'Failed login attempt', 'bob@example.org', '203.0.113.66'));
    expect(by(analyse(events), 'password-spraying')).toHaveLength(0);
  });

  it('ten users spread over more than the window do not fire', () => {
    expect(by(analyse(spray(10, 67)), 'password-spraying')).toHaveLength(0);
  });
});

describe('new source for a user', () => {
  const history: HistorySnapshot = {
    users: { 'alice@example.org': { ips: { '198.51.100.23': '2025-03-01', '198.51.100.24': '2025-01-01' }, vaultChanges: {} } },
    days: ['2025-03-01', '2025-03-08'],
  };

  it('a known IP is quiet; an IP in a known /24 is low; a new network is medium', () => {
    expect(by(analyse([ev(10, 'Log in', 'alice@example.org', '198.51.100.23')], history), 'new-source')).toHaveLength(0);
    const sameNet = by(analyse([ev(10, 'Log in', 'Alice@Example.org', '198.51.100.99')], history), 'new-source');
    expect(sameNet.map((f) => f.severity)).toEqual(['low']);
    const newNet = by(analyse([ev(10, 'Log in', 'alice@example.org', '198.18.7.20')], history), 'new-source');
    expect(newNet.map((f) => f.severity)).toEqual(['medium']);
    expect(newNet[0]!.reason).toContain('first sign-in from 198.18.7.20 in 30 days (network 198.18.7.0/24 is new for this user too)');
  });

  it('an IP last seen more than 30 days ago counts as new; a user without history is not judged', () => {
    // 198.51.100.24 was last seen 2025-01-01, more than 30 days before the window.
    expect(by(analyse([ev(10, 'Log in', 'alice@example.org', '198.51.100.24')], history), 'new-source')).toHaveLength(1);
    expect(by(analyse([ev(10, 'Log in', 'newbie@example.org', '198.18.7.20')], history), 'new-source')).toHaveLength(0);
  });

  it('a login to a site from the vault is not a sign-in source, nor part of the history', () => {
    const r = analyse(
      [
        ev(10, 'Log in', 'alice@example.org', '198.18.7.20', 'VID: 4963227935627314198'),
        ev(11, 'Login', 'alice@example.org', '198.18.7.21', 'salesforce.com'),
      ],
      history,
    );
    expect(by(r, 'new-source')).toHaveLength(0);
    expect(r.history['alice@example.org']).toBeUndefined();
    expect(r.byCategory.get('Vault items')).toMatchObject({ info: 2 });
    expect(r.byCategory.get('Sign-in')).toBeUndefined();
  });

  it('failed sign-ins do not count as a source', () => {
    expect(by(analyse([ev(10, 'Failed Login Attempt', 'alice@example.org', '198.18.7.20')], history), 'new-source')).toHaveLength(0);
  });

  it('networks: IPv4 /24, IPv6 /48', () => {
    expect(networkOf('198.51.100.7')).toBe('198.51.100.0/24');
    expect(networkOf('2001:db8:85a3:1::1')).toBe('2001:db8:85a3::/48');
    expect(networkOf('')).toBeNull();
  });
});

describe('foreign API caller', () => {
  it("groups another caller's calls into one high finding and ignores our own", () => {
    const r = analyse([
      ev(1, 'Reporting', 'admin@example.org', '192.0.2.1', 'Initiated by API: backup-script'),
      ev(2, 'Get User Data', 'admin@example.org', '192.0.2.1', 'Initiated by API: backup-script'),
      ev(3, 'Reporting', 'admin@example.org', '10.0.0.5', 'Initiated by API: lastpass-audit-digest'),
    ]);
    const f = by(r, 'foreign-api-caller');
    expect(f).toHaveLength(1);
    expect(f[0]!.reason).toBe(
      '2 calls (Get User Data, Reporting) by "backup-script", not by this worker ("lastpass-audit-digest") from 192.0.2.1: someone else holds the API secret',
    );
    expect(r.ownApiRows).toBe(1);
  });

  it('groups the unlabelled spellings of an API call, "(initiated by API)" included, as one high caller', () => {
    const f = by(
      analyse([
        ev(1, 'Reporting', 'admin@example.org', '192.0.2.1', 'Initiated by API'),
        ev(2, 'get user data', 'admin@example.org', '192.0.2.1', '(initiated by API)'),
      ]),
      'foreign-api-caller',
    );
    expect(f.map((x) => [x.severity, x.subject, x.reason])).toEqual([
      [
        'high',
        '(no caller label)',
        '2 calls (Reporting, get user data) without a caller label, not by this worker ("lastpass-audit-digest") from 192.0.2.1: someone else holds the API secret',
      ],
    ]);
  });

  it('reports the API secret being regenerated', () => {
    const f = by(analyse([ev(5, 'Enterprise API Secret regenerated', 'root@example.org')]), 'foreign-api-caller');
    expect(f.map((x) => x.title)).toEqual(['The API secret was changed']);
  });
});

describe('privilege and policy changes', () => {
  it('groups who changed what, with policy names parsed from Data', () => {
    const r = analyse([
      ev(1, 'Make Admin', 'root@example.org', '192.0.2.1', 'tom@example.org'),
      ev(2, 'Delete Policy', 'root@example.org', '192.0.2.1', 'Require multifactor authentication'),
      ev(3, 'Edit Policy', 'root@example.org', '192.0.2.1', 'Password length New value: 8'),
      ev(
        4,
        'Update Folder Permissions',
        'eve@example.org',
        '192.0.2.2',
        "'Finance' 'mallory@example.org' 'Read only:no Admin:yes Hide PW:no'",
      ),
      ev(5, 'Update Folder Permissions', 'eve@example.org', '192.0.2.2', "'Finance' 'bob@example.org' 'Read only:yes Admin:no Hide PW:no'"),
    ]);
    const f = by(r, 'privilege-changes');
    expect(f).toHaveLength(2);
    const root = f.find((x) => x.subject === 'root@example.org')!;
    expect(root.severity).toBe('high');
    expect(root.reason).toBe(
      "root@example.org made tom@example.org an admin; deleted policy 'Require multifactor authentication'; set 'Password length' to 8",
    );
    expect(f.find((x) => x.subject === 'eve@example.org')!.reason).toBe(
      'eve@example.org gave mallory@example.org Admin:yes on shared folder "Finance"',
    );
    // The events these findings report are not listed again as findings of their own; the medium
    // folder change without Admin:yes is.
    const findings = collectFindings(r);
    expect(findings.filter((x) => x.detector === 'event').map((x) => x.title)).toEqual(['Update Folder Permissions']);
  });

  it("reads policy changes as a person would say them: set 'Password length' to 8", () => {
    const reasons = (action: string, data: string) =>
      by(analyse([ev(1, action, 'root@example.org', '192.0.2.1', data)]), 'privilege-changes')[0]!.reason;
    expect(reasons('Edit Policy', 'Password length New value: 8')).toBe("root@example.org set 'Password length' to 8");
    expect(reasons('Edit policy', 'Length of site passwords New value: !@# abc.com = 1')).toBe(
      "root@example.org set 'Length of site passwords' to !@# abc.com = 1",
    );
    expect(reasons('Add policy', 'Require passwordless verification via LastPass Authenticator New value: 1')).toBe(
      "root@example.org added policy 'Require passwordless verification via LastPass Authenticator', set to 1",
    );
    expect(reasons('Add policy', 'Length of site passwords')).toBe("root@example.org added policy 'Length of site passwords'");
    expect(reasons('Update Policy Users', 'Require multifactor authentication')).toBe(
      "root@example.org changed policy 'Require multifactor authentication'",
    );
  });

  it('parses policy and folder data', () => {
    expect(parsePolicy('Password length New value: 8')).toEqual({ name: 'Password length', value: '8' });
    expect(parsePolicy('Require multifactor authentication')).toEqual({ name: 'Require multifactor authentication', value: null });
    expect(parseFolderPermission("'Finance' 'eve@example.org' 'Read only:no Admin:yes Hide PW:no'")).toEqual({
      folder: 'Finance',
      member: 'eve@example.org',
    });
  });
});

describe('unusual volume of vault changes', () => {
  const days = ['2025-03-03', '2025-03-04', '2025-03-05', '2025-03-06', '2025-03-07', '2025-03-08'];
  const history = (perDay: number): HistorySnapshot => ({
    users: { 'alice@example.org': { ips: {}, vaultChanges: Object.fromEntries(days.map((d) => [d, perDay])) } },
    days,
  });
  const changes = (n: number) => Array.from({ length: n }, (_, i) => ev(i % 600, i % 2 ? 'Site deleted' : 'Site Changed'));

  it("fires at the minimum and 3× the user's median, not below either", () => {
    expect(by(analyse(changes(19), history(2)), 'unusual-volume')).toHaveLength(0); // below the minimum of 20
    expect(by(analyse(changes(20), history(2)), 'unusual-volume')).toHaveLength(1); // 20 ≥ 20 and ≥ 3×2
    expect(by(analyse(changes(29), history(10)), 'unusual-volume')).toHaveLength(0); // < 3×10
    const f = by(analyse(changes(30), history(10)), 'unusual-volume');
    expect(f).toHaveLength(1);
    expect(f[0]!.reason).toBe('30 vault deletions/changes in this window against a median of 10 a day over the previous 6 days');
  });

  it('needs 5 days of history before it judges anyone', () => {
    const short: HistorySnapshot = { users: {}, days: days.slice(0, 4) };
    expect(by(analyse(changes(200), short), 'unusual-volume')).toHaveLength(0);
  });

  it("the analysis contributes each user's sign-in IPs and vault-change count to the history", () => {
    const r = analyse([
      ...changes(3),
      ev(5, 'Log in', 'Bob@Example.org', '192.0.2.7'),
      ev(6, 'Failed Login Attempt', 'bob@example.org', '192.0.2.8'),
    ]);
    expect(r.history).toEqual({
      'alice@example.org': { ips: [], vaultChanges: 3 },
      'bob@example.org': { ips: ['192.0.2.7'], vaultChanges: 0 },
    });
  });
});

describe('the analysis hot path', () => {
  // A realistic day with every planted incident, fed three ways: by event, by raw row, and with the
  // detectors' routing (`wants`) taken away, so that every detector sees every event as before routing.
  it('gives the same result by raw row as by event, and routing only spares calls that change nothing', async () => {
    const { generateDemoDay } = await import('../src/simulator/demo-day.js');
    const { createWallResolver } = await import('../src/core/wall-time.js');
    const { createAllDetectors } = await import('../src/core/detections/all-detectors.js');
    const end = new Date('2025-03-10T07:00:00Z');
    const day = generateDemoDay({ end, timeZone: 'America/New_York', benignCount: 20_000 });
    const resolve = createWallResolver('America/New_York');
    // "By raw row" is how rows arrive from LastPass (src/core/window-intake.ts): one reused event object,
    // the action name untrimmed. A detector keeping the object itself would see it change under it.
    const reused: AuditEvent = { at: 0, wall: '', username: '', ip: '', action: '', data: '' };
    const addRow = (analysis: ReturnType<typeof createAnalysis>, row: (typeof day.events)[number], at: number) => {
      Object.assign(reused, { at, wall: row.Time, username: row.Username, ip: row.IP_Address, action: row.Action, data: row.Data });
      analysis.add(reused);
    };
    // Plus a secret change: its detector keeps the event, and later rows must not change what it kept.
    const secretChange = {
      Time: '2025-03-09 15:30:00',
      Username: 'root.admin@example.org',
      IP_Address: '198.51.100.7',
      Action: 'Enterprise API secret regenerated',
      Data: '',
    };
    const rows = [...day.events, secretChange].sort((a, b) => (a.Time < b.Time ? 1 : a.Time > b.Time ? -1 : 0));
    // A history from an earlier day of the same tenant, so that new-source and unusual-volume judge too.
    const earlier = generateDemoDay({ end: new Date(end.getTime() - 86_400_000), timeZone: 'America/New_York', benignCount: 20_000 });
    const first = createAnalysis({
      apiUser: 'lastpass-audit-digest',
      windowStart: end.getTime() - 2 * 86_400_000,
      windowEnd: end.getTime() - 86_400_000,
    });
    const plantedRows = new Set(earlier.planted.flatMap((incident) => incident.events));
    for (const row of earlier.events) if (!plantedRows.has(row)) addRow(first, row, resolve(row.Time));
    const days = ['2025-03-03', '2025-03-04', '2025-03-05', '2025-03-06', '2025-03-07', '2025-03-08'];
    const history: HistorySnapshot = { users: {}, days };
    for (const [user, h] of Object.entries(first.result().history)) {
      // A quiet past (one vault change a day), so that busy users stand out.
      history.users[user] = {
        ips: Object.fromEntries(h.ips.map((ip) => [ip, '2025-03-08'])),
        vaultChanges: Object.fromEntries(days.map((d) => [d, Math.min(1, h.vaultChanges)])),
      };
    }
    const options = { apiUser: 'lastpass-audit-digest', windowStart: end.getTime() - 86_400_000, windowEnd: end.getTime(), history };

    const byRow = createAnalysis(options);
    for (const row of rows) addRow(byRow, row, resolve(row.Time));
    const byEvent = createAnalysis(options);
    for (const row of rows)
      byEvent.add({
        at: resolve(row.Time),
        wall: row.Time,
        username: row.Username,
        ip: row.IP_Address,
        action: row.Action.trim(),
        data: row.Data,
      });
    const unrouted = createAnalysis({ ...options, detectors: createAllDetectors().map(({ wants: _wants, ...d }) => d) });
    for (const row of rows) addRow(unrouted, row, resolve(row.Time));

    const expected = byEvent.result();
    expect([...new Set(expected.findings.map((f) => f.detector))].sort()).toEqual([
      'failed-signin-burst',
      'foreign-api-caller',
      'new-source',
      'password-spraying',
      'privilege-changes',
      'unusual-volume',
    ]);
    expect(expected.relevant.length).toBeGreaterThan(100);
    expect(expected.findings.filter((f) => f.title === 'The API secret was changed').map((f) => [f.subject, f.at])).toEqual([
      ['root.admin@example.org', resolve(secretChange.Time)],
    ]);
    expect(byRow.result()).toEqual(expected);
    expect(unrouted.result()).toEqual(expected);
  });
});
