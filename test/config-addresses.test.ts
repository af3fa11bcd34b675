/**
 * REPORT_FROM and REPORT_TO (issue #13): header injection and other control or invisible characters are
 * configuration errors naming the variable, addresses are checked for shape, duplicates are merged with a
 * warning, more than SendGrid's 1,000 recipients is an error, and every problem comes out at once. The
 * addresses that pass reach the real @sendgrid/mail request as one clean header value each.
 */
import { describe, expect, it } from 'vitest';
import { toSendGridRequestBody } from '../src/adapters/mail/mail-message.js';
import { addressShapeProblem, MAX_RECIPIENTS, splitAddressList } from '../src/config/addresses.js';
import { type Env, loadConfig } from '../src/config/load-config.js';
import { ConfigError } from '../src/errors.js';

const VALID: Env = {
  LASTPASS_ACCOUNT_NUMBER: '8771234',
  LASTPASS_API_KEY: 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
  SENDGRID_API_KEY: 'SG.addr-test-key.Zq81mXw0pLk3vB7n',
  REPORT_FROM: 'LastPass digest <security-bot@example.org>',
  REPORT_TO: 'secops@example.org, ciso@example.org',
};

const env = (overrides: Record<string, string>): Env => ({ ...VALID, ...overrides });

function problemsOf(e: Env): readonly string[] {
  try {
    loadConfig(e);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected loadConfig to throw a ConfigError');
}

/** The message of the error, as stderr would show it. */
function messageOf(e: Env): string {
  try {
    loadConfig(e);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected loadConfig to throw');
}

const INJECTION = 'Evil\r\nBcc: attacker@evil.test <digest@corp.example>';

describe('header injection and control characters', () => {
  it('rejects CR/LF in REPORT_FROM, naming the variable, without echoing the line break', () => {
    const problems = problemsOf(env({ REPORT_FROM: INJECTION }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^REPORT_FROM contains a control character \(⟨U\+000D⟩ in "Evil⟨U\+000D⟩⟨U\+000A⟩Bcc: /);
    expect(problems[0]).toContain('Bcc');
    const message = messageOf(env({ REPORT_FROM: INJECTION }));
    expect(message).not.toMatch(/[\r\n]Bcc/);
  });

  it('rejects CR/LF inside a REPORT_TO recipient, naming the variable', () => {
    const problems = problemsOf(env({ REPORT_TO: `secops@example.org, ${INJECTION}` }));
    expect(problems).toEqual([expect.stringMatching(/^REPORT_TO contains a control character \(⟨U\+000D⟩/)]);
  });

  it.each([
    ['NUL', 'sec\u0000ops@example.org'],
    ['a lone LF in the display name', 'Sec\nOps <secops@example.org>'],
    ['ESC', 'secops\u001b@example.org'],
    ['DEL', 'secops\u007f@example.org'],
    ['C1 NEL', 'SecOps\u0085 <secops@example.org>'],
    ['C1 CSI', 'secops@exam\u009bple.org'],
    ['a tab inside', 'Sec\tOps <secops@example.org>'],
    ['the line separator U+2028', 'SecOps\u2028Bcc <secops@example.org>'],
    ['the paragraph separator U+2029', 'secops@example.org\u2029x'],
  ])('rejects %s in either variable', (_name, value) => {
    for (const variable of ['REPORT_FROM', 'REPORT_TO']) {
      const problems = problemsOf(env({ [variable]: value }));
      expect(problems).toEqual([expect.stringMatching(new RegExp(`^${variable} contains a control character \\(⟨U\\+[0-9A-F]{4}⟩`))]);
    }
  });

  it.each([
    ['a zero-width space', 'ali\u200bce@example.org'],
    ['a right-to-left override in the name', 'Sec\u202eOps <secops@example.org>'],
    ['a BOM', 'secops@example.org\ufeffx'],
    ['a tag character', 'secops@example.org\u{e0041}'],
  ])('rejects %s as an invisible character', (_name, value) => {
    expect(problemsOf(env({ REPORT_TO: value }))).toEqual([expect.stringMatching(/^REPORT_TO contains an invisible character \(⟨U\+/)]);
  });

  it('accepts a trailing line break around the whole value or between recipients (as a .env or a YAML block leaves it)', () => {
    const { config } = loadConfig(
      env({ REPORT_FROM: 'security-bot@example.org\r\n', REPORT_TO: 'secops@example.org,\n  ciso@example.org\n' }),
    );
    expect(config.report.from).toBe('security-bot@example.org');
    expect(config.report.to).toEqual(['secops@example.org', 'ciso@example.org']);
  });
});

describe('the shape of an address', () => {
  it.each([
    ['secops@example.org', null],
    ['first.last+digest@mail.example.co.uk', null],
    ['root@localhost', null],
    ["o'brien@example.org", null],
    ['zoë@bücher.example', null],
    ['secops@@example.org', 'more than one @'],
    ['secops', 'no @'],
    ['@example.org', 'nothing comes before'],
    ['secops@', 'no domain'],
    ['sec ops@example.org', 'space'],
    ['.secops@example.org', 'not a valid part before the @'],
    ['sec..ops@example.org', 'not a valid part before the @'],
    ['secops@example..org', 'not a domain name'],
    ['secops@-example.org', 'not a domain name'],
    ['secops@example.org.', 'not a domain name'],
    ['secops@exa_mple.org', 'not a domain name'],
    [`${'a'.repeat(65)}@example.org`, 'not a valid part before the @'],
  ])('%s', (address, problem) => {
    const found = addressShapeProblem(address);
    if (problem === null) expect(found).toBeNull();
    else expect(found).toContain(problem);
  });

  it('reports every malformed recipient at once, with REPORT_FROM, each naming its variable', () => {
    const problems = problemsOf(
      env({ REPORT_FROM: 'security bot', REPORT_TO: 'secops@example.org, not-an-address, a@b@c, Ops <ops@example.org' }),
    );
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/^REPORT_FROM is "security bot", which is not an email address \(it contains a space\)/);
    expect(problems[1]).toMatch(/^REPORT_TO contains "not-an-address", which is not an email address \(it has no @\)/);
    expect(problems[2]).toMatch(/^REPORT_TO contains "a@b@c", which is not an email address \(it has more than one @\)/);
    expect(problems[3]).toMatch(
      /^REPORT_TO contains "Ops <ops@example.org", which is not an email address: write it as "Name <name@example.org>"/,
    );
  });

  it('accepts display names, quoted ones with commas, and unquotes them for SendGrid', () => {
    const { config } = loadConfig(
      env({
        REPORT_FROM: '"Security, Digest" <security-bot@example.org>',
        REPORT_TO: 'SecOps <secops@example.org>, "Doe, Jane \\"JD\\"" <jane@example.org>,ciso@example.org,',
      }),
    );
    expect(config.report.from).toBe('Security, Digest <security-bot@example.org>');
    expect(config.report.to).toEqual(['SecOps <secops@example.org>', 'Doe, Jane "JD" <jane@example.org>', 'ciso@example.org']);
    const request = toSendGridRequestBody({
      key: 'k',
      kind: 'digest',
      from: config.report.from,
      to: config.report.to,
      subject: 's',
      text: 't',
      html: '<p>h</p>',
      customArgs: {},
    });
    const body = JSON.parse(JSON.stringify(request)) as { from: unknown; personalizations: { to: unknown[] }[] };
    expect(body.from).toEqual({ name: 'Security, Digest', email: 'security-bot@example.org' });
    expect(body.personalizations[0]?.to).toEqual([
      { name: 'SecOps', email: 'secops@example.org' },
      { name: 'Doe, Jane "JD"', email: 'jane@example.org' },
      { email: 'ciso@example.org' },
    ]);
  });

  it('says to separate recipients with commas when they are separated by spaces', () => {
    expect(problemsOf(env({ REPORT_TO: 'secops@example.org ciso@example.org' }))).toEqual([
      expect.stringMatching(
        /^REPORT_TO contains "secops@example.org ciso@example.org", which is not an email address but 2 of them: separate them with commas/,
      ),
    ]);
  });

  it('rejects more than one sender in REPORT_FROM', () => {
    expect(problemsOf(env({ REPORT_FROM: 'a@example.org, b@example.org' }))).toEqual([
      expect.stringMatching(/^REPORT_FROM names 2 addresses \("a@example.org, b@example.org"\): the sender is one address/),
    ]);
  });

  it('splits a list only at commas outside quotes', () => {
    expect(splitAddressList('"a, b" <a@x.org>, c@x.org,, "d \\" ," <d@x.org>')).toEqual([
      '"a, b" <a@x.org>',
      'c@x.org',
      '"d \\" ," <d@x.org>',
    ]);
  });

  it('rejects an unbalanced quote or an angle bracket in a bare display name', () => {
    const problems = problemsOf(env({ REPORT_TO: '"Ops <ops@example.org>', REPORT_FROM: 'A>B <a@example.org>' }));
    expect(problems).toEqual([
      expect.stringMatching(/^REPORT_FROM is "A>B <a@example.org>", which is not an email address: its display name contains/),
      expect.stringMatching(
        /^REPORT_TO contains ""Ops <ops@example.org>", which is not an email address: its display name has an unbalanced quote/,
      ),
    ]);
  });
});

describe('duplicates and the recipient limit', () => {
  it('merges duplicates (case-insensitive, with or without a name) with a warning, keeping the first', () => {
    const { config, warnings } = loadConfig(
      env({ REPORT_TO: 'SecOps <secops@example.org>, ciso@example.org, SECOPS@Example.org, secops@example.org' }),
    );
    expect(config.report.to).toEqual(['SecOps <secops@example.org>', 'ciso@example.org']);
    expect(warnings).toEqual([expect.stringMatching(/^REPORT_TO lists secops@example\.org 3 times .*receives the digest once/)]);
  });

  const many = (n: number) => Array.from({ length: n }, (_, i) => `user${i}@example.org`).join(',');

  it(`accepts ${MAX_RECIPIENTS} recipients`, () => {
    expect(loadConfig(env({ REPORT_TO: many(MAX_RECIPIENTS) })).config.report.to).toHaveLength(MAX_RECIPIENTS);
  });

  it('rejects 1,001 recipients, naming the variable and SendGrid limit', () => {
    const problems = problemsOf(env({ REPORT_TO: many(1001) }));
    expect(problems).toEqual([
      expect.stringMatching(/^REPORT_TO lists 1,001 different recipients: SendGrid accepts at most 1,000 in one message/),
    ]);
  });

  it('counts recipients after merging: 1,001 entries with one repeat pass, with the warning', () => {
    const { config, warnings } = loadConfig(env({ REPORT_TO: `${many(1000)},USER0@example.org` }));
    expect(config.report.to).toHaveLength(1000);
    expect(warnings).toHaveLength(1);
  });

  it('reports the limit together with malformed entries and other variables', () => {
    const problems = problemsOf(env({ REPORT_TO: `${many(1001)},broken`, REPORT_FROM: INJECTION, LASTPASS_ACCOUNT_NUMBER: 'x' }));
    expect(problems).toHaveLength(4);
    expect(problems.filter((p) => p.startsWith('REPORT_TO '))).toHaveLength(2);
    expect(problems.filter((p) => p.startsWith('REPORT_FROM '))).toHaveLength(1);
    expect(problems.filter((p) => p.startsWith('LASTPASS_ACCOUNT_NUMBER '))).toHaveLength(1);
  });

  it('rejects a list with no recipient at all', () => {
    expect(problemsOf(env({ REPORT_TO: ',, ,' }))).toEqual(['REPORT_TO lists no recipient.']);
  });
});
