/** REPORT_SEVERITY_OVERRIDES: parsing, matched like the catalogue; unknown names and API reads are config errors. */
import { describe, expect, it } from 'vitest';
import { parseSeverityOverrides } from '../src/core/severity-overrides.js';

describe('REPORT_SEVERITY_OVERRIDES', () => {
  it('unset or empty means no overrides', () => {
    expect(parseSeverityOverrides(undefined)).toEqual({ value: [], problems: [] });
    expect(parseSeverityOverrides(' , ')).toEqual({ value: [], problems: [] });
  });

  it('reads name=severity pairs, names in any case and spacing, severities in any case', () => {
    const { value, problems } = parseSeverityOverrides('Log in=info, login  to ADMIN console = Info,Data printed=LOW');
    expect(problems).toEqual([]);
    expect(value).toEqual([
      { name: 'Log in', key: 'log in', severity: 'info', catalogueSeverity: 'info' },
      { name: 'login  to ADMIN console', key: 'login to admin console', severity: 'info', catalogueSeverity: 'low' },
      { name: 'Data printed', key: 'data printed', severity: 'low', catalogueSeverity: 'medium' },
    ]);
  });

  it('an unknown action name is an error that suggests the catalogue spelling', () => {
    const { value, problems } = parseSeverityOverrides('Log in=info,Changed password=low');
    expect(value.map((o) => o.key)).toEqual(['log in']);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^REPORT_SEVERITY_OVERRIDES: "Changed password" is not an action name in event catalogue [\d.]+: write it as LastPass logs it \(any case\), e\.g\. "Password Changed"/,
    );
  });

  it('reports bad severities, missing "=", API reads and contradictions, all at once', () => {
    const { problems } = parseSeverityOverrides(
      'Log in=critical,Data export,Reporting=info,get user data=low,Make Admin=low,make admin=medium',
    );
    expect(problems).toEqual([
      'REPORT_SEVERITY_OVERRIDES: "Log in=critical": "critical" is not a severity: use high, medium, low or info.',
      'REPORT_SEVERITY_OVERRIDES: "Data export" has no severity: write action=severity, e.g. "Data export=low".',
      'REPORT_SEVERITY_OVERRIDES: "Reporting" cannot be overridden: API calls are rated per caller (another caller holding the API secret is high). List a legitimate integration in LASTPASS_KNOWN_API_CALLERS instead.',
      expect.stringContaining('"get user data" cannot be overridden') as string,
      'REPORT_SEVERITY_OVERRIDES: "make admin" is given two severities (low and medium): keep one.',
    ]);
  });
});
