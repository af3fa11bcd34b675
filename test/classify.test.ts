import { describe, expect, it } from 'vitest';
import { createAnalysis } from '../src/core/analysis.js';
import { parseApiInitiated } from '../src/core/api-initiated.js';
import { buildCatalogueIndex, CATALOGUE, CATALOGUE_VERSION } from '../src/core/catalogue.js';
import { createClassifier } from '../src/core/classify.js';
import { loginTarget } from '../src/core/sign-in-rule.js';
import type { AuditEvent } from '../src/core/types.js';
import { API_CALLER_ROWS, API_DATA_SPELLINGS, LOGIN_ROWS, MIXED_SPELLINGS } from './fixtures/public-samples.js';

const classifyAction = createClassifier({ apiUser: 'lastpass-audit-digest' });
const classify = (e: AuditEvent) => classifyAction(e.action, e.data);
const ev = (action: string, data = '', extra: Partial<AuditEvent> = {}): AuditEvent => ({
  at: Date.parse('2025-03-09T12:00:00Z'),
  wall: '2025-03-09 08:00:00',
  username: 'maria@example.org',
  ip: '198.51.100.23',
  action,
  data,
  ...extra,
});

describe('classification', () => {
  it.each([
    ['Failed Login Attempt', 'Sign-in', 'low'],
    ['Failed login attempt', 'Sign-in', 'low'],
    ['  FAILED LOGIN ATTEMPT  ', 'Sign-in', 'low'],
    ['Log in', 'Sign-in', 'info'],
    ['Make Admin', 'Admin rights', 'high'],
    ['Made admin', 'Admin rights', 'high'],
    ['Delete Policy', 'Policies', 'high'],
    ['Edit Policy', 'Policies', 'medium'],
    ['Data export', 'Vault data', 'high'],
    ['Disabled Multifactor Authentication', 'MFA', 'high'],
    ['Disabled Microsoft Authenticated', 'MFA', 'high'],
    ['Disabled Some New Factor', 'MFA', 'high'],
    ['Master Password Reset by Super Admin', 'Master password', 'high'],
    ['Employee Account Deleted', 'Users', 'high'],
    ['Deactivated User', 'Users', 'medium'],
    ['Update Folder Permissions', 'Shared folders', 'medium'],
    ['Account Lockout', 'Sign-in', 'medium'],
    ['Site Added', 'Vault items', 'info'],
    ['Enterprise API Secret regenerated', 'API and provisioning', 'high'],
    // Settled against public material (catalogue 2026.12.1).
    ['Password Reset', 'Master password', 'medium'],
    ['Iterations changed', 'Master password', 'medium'],
    ['Employee account created', 'Users', 'low'],
    ['Created LastPass account', 'Users', 'low'],
    ['User provisioned', 'Users', 'low'],
    ['Created pending user', 'Users', 'low'],
    ['Employee invited', 'Users', 'info'],
    ['Deleted Sites', 'Vault items', 'info'],
    ['Site deleted', 'Vault items', 'info'],
    ['Delete Shared Sites', 'Shared folders', 'low'],
  ])('"%s" is %s / %s', (action, category, severity) => {
    expect(classify(ev(action))).toMatchObject({ kind: 'known', category, severity });
  });

  it("drops exactly this worker's own API rows and flags any other caller as high", () => {
    expect(classify(ev('Reporting', 'Initiated by API: lastpass-audit-digest'))).toEqual({ kind: 'own-api' });
    expect(classify(ev('reporting', 'Initiated by API:LastPass-Audit-Digest'))).toEqual({ kind: 'own-api' });
    const other = classify(ev('Reporting', 'Initiated by API: backup-script'));
    expect(other).toMatchObject({ kind: 'known', severity: 'high', category: 'API and provisioning' });
    expect(other.kind === 'known' && other.note).toContain('backup-script');
    expect(classify(ev('Get User Data', 'Initiated by API'))).toMatchObject({ kind: 'known', severity: 'high' });
    expect(classify(ev('Get Shared Folder Data', 'Initiated by API: lastpass-audit-digest-2'))).toMatchObject({ severity: 'high' });
  });

  it('a folder permission change granting Admin:yes is high, otherwise medium', () => {
    expect(classify(ev('Update Folder Permissions', "'Finance' 'eve@example.org' 'Read only:no Admin:yes Hide PW:no'"))).toMatchObject({
      severity: 'high',
      note: 'grants Admin:yes on a shared folder',
    });
    expect(classify(ev('Update Folder Permissions', "'Finance' 'eve@example.org' 'Read only:yes Admin:no Hide PW:yes'"))).toMatchObject({
      severity: 'medium',
    });
  });

  it('unknown names are unrecognised, not dropped', () => {
    expect(classify(ev('Vault Health Report Viewed'))).toEqual({ kind: 'unrecognised' });
    expect(classify(ev('Disabled user'))).toEqual({ kind: 'unrecognised' });
  });

  it('the catalogue lists no name twice (case-insensitively)', () => {
    expect(() => buildCatalogueIndex(CATALOGUE)).not.toThrow();
  });

  it('is version 2026.12.1, revisited against public samples, each settled severity with its one-line reason', () => {
    expect(CATALOGUE_VERSION).toBe('2026.12.1');
    const index = buildCatalogueIndex(CATALOGUE);
    for (const name of [
      'employee account created',
      'iterations changed',
      'password reset',
      'deleted sites',
      'delete shared sites',
      'log in',
      'reporting',
    ]) {
      const rationale = index.get(name)?.rationale ?? '';
      expect(rationale.length, name).toBeGreaterThan(40);
      expect(rationale, name).not.toContain('\n');
    }
  });

  it.each(MIXED_SPELLINGS)('"%s" and "%s" (one account logs both) classify the same', (title, sentence) => {
    expect(classifyAction(sentence, '')).toEqual(classifyAction(title, ''));
    expect(classifyAction(title, '')).toMatchObject({ kind: 'known' });
  });
});

describe('is it a sign-in to LastPass? A rule on Action and Data', () => {
  it.each([
    ['client', 'lastpass'],
    ['website', 'lastpass'],
    ['lastpassHost', 'lastpass'],
    ['empty', 'lastpass'],
    ['vaultItem', 'vault-item'],
    ['sharedItem', 'vault-item'],
    ['siteAddress', 'site'],
    ['siteDomain', 'site'],
  ] as const)('Log in with the %s Data is a login to %s', (which, target) => {
    const r = LOGIN_ROWS[which];
    expect(loginTarget(r.Data)).toBe(target);
    const c = classifyAction(r.Action, r.Data);
    if (target === 'lastpass') expect(c).toMatchObject({ kind: 'known', category: 'Sign-in', severity: 'info', signIn: 'success' });
    else {
      expect(c).toMatchObject({ kind: 'known', category: 'Vault items', severity: 'info' });
      expect(c.kind === 'known' && c.signIn).toBeUndefined();
    }
  });

  it('other sign-in names keep their rule: failures are failures whatever their Data', () => {
    expect(classifyAction('Failed login attempt', 'lastpass.com')).toMatchObject({ signIn: 'failure' });
    expect(classifyAction('SAML login', 'authorizationserver.oidc')).toMatchObject({ signIn: 'success' });
  });
});

describe('API calls: the Data spellings', () => {
  it.each(API_DATA_SPELLINGS)('Data %j names the caller %j', (data, label) => {
    expect(parseApiInitiated(data)).toBe(label);
  });

  it('every spelling that names no label is an unlabelled caller, high, in any case', () => {
    for (const data of ['Initiated by API', '(initiated by API)', 'INITIATED BY API.', '[Initiated by API]']) {
      expect(classifyAction('Get user data', data), data).toMatchObject({
        kind: 'known',
        severity: 'high',
        apiCaller: { label: '', status: 'unknown' },
      });
    }
    expect(classifyAction('Reporting', '(Initiated by API: lastpass-audit-digest)')).toEqual({ kind: 'own-api' });
    const { adminConsoleReport } = API_CALLER_ROWS;
    expect(classifyAction(adminConsoleReport.Action, adminConsoleReport.Data)).toMatchObject({ severity: 'low' });
  });
});

describe('streaming analysis', () => {
  it('counts every event once, keeps only low and above, and lists unknown names with counts', () => {
    const start = Date.parse('2025-03-09T00:00:00Z');
    const analysis = createAnalysis({ apiUser: 'lastpass-audit-digest', windowStart: start, windowEnd: start + 86_400_000 });
    const events = [
      ev('Log in'),
      ev('Log in'),
      ev('Failed Login Attempt'),
      ev('Failed login attempt'),
      ev('Make Admin', 'tom@example.org', { at: start + 3_600_000 }),
      ev('Reporting', 'Initiated by API: lastpass-audit-digest'),
      ev('Vault Health Report Viewed', '=HYPERLINK("x")'),
      ev(' vault health report viewed '),
      ev('Vault Health Report Viewed'),
    ];
    for (const e of events) analysis.add(e);
    const r = analysis.result();
    expect(r.eventsReviewed).toBe(8);
    expect(r.ownApiRows).toBe(1);
    expect(r.bySeverity).toEqual({ high: 1, medium: 0, low: 2, info: 2 });
    // newest first: the two failures at 12:00, then the grant at 01:00
    expect(r.relevant.map((e) => e.action)).toEqual(['Failed Login Attempt', 'Failed login attempt', 'Make Admin']);
    expect(r.unrecognised).toEqual([
      { action: 'Vault Health Report Viewed', count: 2, sample: '=HYPERLINK("x")' },
      { action: 'vault health report viewed', count: 1, sample: '' },
    ]);
    expect(r.unrecognisedEvents).toBe(3);
    expect(r.hourly.failures[12]).toBe(2);
    expect(r.hourly.total.reduce((a, b) => a + b, 0)).toBe(8);
  });
});
