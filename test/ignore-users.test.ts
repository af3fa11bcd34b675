/** REPORT_IGNORE_USERS: exact usernames and *@domain, case-insensitive; other wildcards are config errors. */
import { describe, expect, it } from 'vitest';
import { createIgnoreUserMatcher, parseIgnoreUsers } from '../src/core/ignore-users.js';

describe('REPORT_IGNORE_USERS', () => {
  it('unset or empty ignores nobody', () => {
    expect(parseIgnoreUsers(undefined)).toEqual({ value: [], problems: [] });
    expect(createIgnoreUserMatcher([])('anyone@example.org')).toBeNull();
  });

  it('reads exact names and *@domain rules, dropping repeats', () => {
    const { value, problems } = parseIgnoreUsers(' svc-provisioning@example.org ,*@Robots.Example.org,SVC-provisioning@example.org');
    expect(problems).toEqual([]);
    expect(value).toEqual([
      { rule: 'svc-provisioning@example.org', kind: 'exact', match: 'svc-provisioning@example.org' },
      { rule: '*@Robots.Example.org', kind: 'domain', match: 'robots.example.org' },
    ]);
  });

  it('matches trimmed and in any case; a domain rule does not cover subdomains or other domains', () => {
    const match = createIgnoreUserMatcher(parseIgnoreUsers('svc-provisioning@example.org,*@robots.example.org').value);
    expect(match(' SVC-Provisioning@Example.org')?.rule).toBe('svc-provisioning@example.org');
    expect(match('scanner@robots.example.org')?.rule).toBe('*@robots.example.org');
    expect(match('scanner@ROBOTS.example.org')?.rule).toBe('*@robots.example.org');
    expect(match('scanner@eu.robots.example.org')).toBeNull();
    expect(match('maria@example.org')).toBeNull();
    expect(match('')).toBeNull();
  });

  it('refuses other wildcards and malformed domains, naming the variable and the fix', () => {
    expect(parseIgnoreUsers('svc-*@example.org,*,*@,*@bad domain').problems).toEqual([
      'REPORT_IGNORE_USERS: "svc-*@example.org": the only wildcard is a whole domain ("*@example.org"); list other accounts by their exact username.',
      'REPORT_IGNORE_USERS: "*": the only wildcard is a whole domain ("*@example.org"); list other accounts by their exact username.',
      'REPORT_IGNORE_USERS: "*@" is not *@domain: write the domain after "*@", e.g. "*@robots.example.org".',
      'REPORT_IGNORE_USERS: "*@bad domain" is not *@domain: write the domain after "*@", e.g. "*@robots.example.org".',
    ]);
  });
});
