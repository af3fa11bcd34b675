/**
 * loadConfig: every problem at once, each naming its variable and the fix; the documented defaults; the
 * alias and region rules; and secrets that never reach a message but always reach the redactor.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULTS, loadConfig, secretVariants, type Env } from '../src/config/load-config.js';
import { ConfigError } from '../src/errors.js';
import { createRedactor } from '../src/logger.js';

const LP_SECRET = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
const SG_KEY = 'SG.cfg-test-key.Zq81mXw0pLk3vB7nR2sT9yU4';
const DB_PASSWORD = 'p@ss/w0rd!x';
const DB_URL = `postgresql://digest:${encodeURIComponent(DB_PASSWORD)}@db.example.test:5432/digest`;

const VALID: Env = {
  LASTPASS_ACCOUNT_NUMBER: '8771234',
  LASTPASS_API_KEY: LP_SECRET,
  SENDGRID_API_KEY: SG_KEY,
  REPORT_FROM: 'LastPass digest <security-bot@example.org>',
  REPORT_TO: 'secops@example.org, ciso@example.org',
};

function env(overrides: Record<string, string | undefined> = {}): Env {
  const out: Record<string, string | undefined> = { ...VALID, ...overrides };
  for (const [k, v] of Object.entries(out)) if (v === undefined) delete out[k];
  return out;
}

function problemsOf(e: Env, options: { dryRun?: boolean } = {}): readonly string[] {
  try {
    loadConfig(e, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected loadConfig to throw a ConfigError');
}

function errorOf(e: Env, options: { dryRun?: boolean } = {}): ConfigError {
  try {
    loadConfig(e, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected loadConfig to throw a ConfigError');
}

/** The one problem that starts with the variable's name. */
function problemFor(problems: readonly string[], variable: string): string {
  const matching = problems.filter((p) => p.startsWith(`${variable} `));
  expect(matching, `exactly one problem about ${variable} in ${JSON.stringify(problems)}`).toHaveLength(1);
  return matching[0] as string;
}

describe('required variables', () => {
  it('lists every missing required variable at once, each with how to fix it', () => {
    const error = errorOf({});
    const problems = error.problems;
    expect(problems).toHaveLength(5);
    const fixes: Record<string, RegExp> = {
      LASTPASS_ACCOUNT_NUMBER: /Admin Console/,
      LASTPASS_API_KEY: /Advanced > Enterprise API/,
      SENDGRID_API_KEY: /Settings > API Keys|--dry-run/,
      REPORT_FROM: /verified in SendGrid|Sender Authentication/,
      REPORT_TO: /comma-separated/,
    };
    for (const [variable, fix] of Object.entries(fixes)) {
      const problem = problemFor(problems, variable);
      expect(problem).toMatch(/is not set: /);
      expect(problem).toMatch(fix);
      expect(error.message).toContain(variable);
    }
    expect(error.message).toMatch(/^5 configuration problems:/);
  });

  it('treats blank and whitespace-only values as not set', () => {
    const problems = problemsOf(env({ LASTPASS_ACCOUNT_NUMBER: '   ', REPORT_TO: '' }));
    expect(problems).toHaveLength(2);
    expect(problemFor(problems, 'LASTPASS_ACCOUNT_NUMBER')).toMatch(/is not set/);
    expect(problemFor(problems, 'REPORT_TO')).toMatch(/is not set/);
  });

  it('does not need SENDGRID_API_KEY for a dry run', () => {
    const { config } = loadConfig(env({ SENDGRID_API_KEY: undefined }), { dryRun: true });
    expect(config.sendgrid.apiKey).toBeNull();
    expect(config.secrets).not.toContain(null);
    expect(problemsOf(env({ SENDGRID_API_KEY: undefined }))).toEqual([expect.stringMatching(/^SENDGRID_API_KEY is not set/)]);
  });
});

describe('malformed values', () => {
  it('names several malformed values together', () => {
    const problems = problemsOf(
      env({
        LASTPASS_ACCOUNT_NUMBER: 'acme-corp',
        LASTPASS_TIMEZONE: 'US/Eastern-ish',
        REPORT_SCHEDULE: 'every day at 7',
        REPORT_TO: 'secops@example.org, not-an-address, ciso@example.org',
        LASTPASS_API_URL: 'lastpass.com/enterpriseapi.php',
      }),
    );
    expect(problems).toHaveLength(5);
    expect(problemFor(problems, 'LASTPASS_ACCOUNT_NUMBER')).toMatch(/digits only/);
    expect(problemFor(problems, 'LASTPASS_TIMEZONE')).toMatch(
      /"US\/Eastern-ish" is not an IANA time zone: use a name such as America\/New_York/,
    );
    expect(problemFor(problems, 'REPORT_SCHEDULE')).toMatch(/not a valid cron expression: use five fields/);
    expect(problemFor(problems, 'REPORT_TO')).toMatch(/"not-an-address", which is not an email address/);
    expect(problemFor(problems, 'LASTPASS_API_URL')).toMatch(/not an http\(s\) URL .*https:\/\/lastpass\.com\/enterpriseapi\.php/);
  });

  it('reports a bad REPORT_TIMEZONE, REPORT_FROM, SENDGRID_API_URL and DATABASE_URL together', () => {
    const problems = problemsOf(
      env({
        REPORT_TIMEZONE: 'Mars/Olympus_Mons',
        REPORT_FROM: 'security bot',
        SENDGRID_API_URL: 'ftp://api.sendgrid.com',
        DATABASE_URL: 'mysql://digest:secret@db.example.test/digest',
      }),
    );
    expect(problems).toHaveLength(4);
    problemFor(problems, 'REPORT_TIMEZONE');
    problemFor(problems, 'REPORT_FROM');
    expect(problemFor(problems, 'SENDGRID_API_URL')).toContain('https://api.sendgrid.com');
    expect(problemFor(problems, 'DATABASE_URL')).toMatch(/PostgreSQL URL/);
  });

  it('accepts "Name <address>" and plain addresses in REPORT_TO and REPORT_FROM', () => {
    const { config } = loadConfig(
      env({ REPORT_FROM: 'security-bot@example.org', REPORT_TO: 'SecOps <secops@example.org>,ciso@example.org,' }),
    );
    expect(config.report.from).toBe('security-bot@example.org');
    expect(config.report.to).toEqual(['SecOps <secops@example.org>', 'ciso@example.org']);
  });
});

describe('the LastPass secret alias', () => {
  it('accepts LASTPASS_PROVISIONING_HASH instead of LASTPASS_API_KEY', () => {
    const { config } = loadConfig(env({ LASTPASS_API_KEY: undefined, LASTPASS_PROVISIONING_HASH: LP_SECRET }));
    expect(config.lastpass.apiSecret).toBe(LP_SECRET);
    expect(config.secrets).toContain(LP_SECRET);
  });

  it('accepts both when they are equal', () => {
    const { config } = loadConfig(env({ LASTPASS_PROVISIONING_HASH: LP_SECRET }));
    expect(config.lastpass.apiSecret).toBe(LP_SECRET);
  });

  it('refuses both when they differ, without echoing either', () => {
    const other = 'ffffeeeeddddccccbbbbaaaa99998888';
    const error = errorOf(env({ LASTPASS_PROVISIONING_HASH: other }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/LASTPASS_API_KEY and LASTPASS_PROVISIONING_HASH are both set and differ/);
    expect(error.message).not.toContain(LP_SECRET);
    expect(error.message).not.toContain(other);
  });
});

describe('SendGrid region', () => {
  it('selects the EU endpoint with SENDGRID_DATA_RESIDENCY=eu', () => {
    expect(loadConfig(env({ SENDGRID_DATA_RESIDENCY: 'eu' })).config.sendgrid.apiUrl).toBe('https://api.eu.sendgrid.com');
    expect(loadConfig(env({ SENDGRID_DATA_RESIDENCY: 'EU' })).config.sendgrid.apiUrl).toBe('https://api.eu.sendgrid.com');
  });

  it('uses the global endpoint by default and a custom SENDGRID_API_URL without its trailing slash', () => {
    expect(loadConfig(env()).config.sendgrid.apiUrl).toBe('https://api.sendgrid.com');
    expect(loadConfig(env({ SENDGRID_API_URL: 'https://sendgrid.example.test/' })).config.sendgrid.apiUrl).toBe(
      'https://sendgrid.example.test',
    );
  });

  it('refuses SENDGRID_API_URL together with SENDGRID_DATA_RESIDENCY=eu', () => {
    const problems = problemsOf(env({ SENDGRID_DATA_RESIDENCY: 'eu', SENDGRID_API_URL: 'https://sendgrid.example.test' }));
    expect(problems).toEqual([expect.stringMatching(/SENDGRID_API_URL and SENDGRID_DATA_RESIDENCY=eu are both set/)]);
  });

  it('refuses an unknown residency', () => {
    expect(problemsOf(env({ SENDGRID_DATA_RESIDENCY: 'us' }))).toEqual([
      expect.stringMatching(/^SENDGRID_DATA_RESIDENCY must be "global" or "eu"/),
    ]);
  });
});

describe('defaults', () => {
  it('fills the documented defaults', () => {
    const { config, warnings } = loadConfig(env());
    expect(warnings).toEqual([]);
    expect(config.lastpass).toEqual({
      accountNumber: '8771234',
      apiSecret: LP_SECRET,
      apiUrl: 'https://lastpass.com/enterpriseapi.php',
      timeZone: 'America/New_York',
      apiUser: 'lastpass-audit-digest',
      timeoutMs: 60_000,
    });
    expect(config.sendgrid).toEqual({ apiKey: SG_KEY, apiUrl: 'https://api.sendgrid.com' });
    expect(config.report).toEqual({
      from: 'LastPass digest <security-bot@example.org>',
      to: ['secops@example.org', 'ciso@example.org'],
      schedule: '0 7 * * *',
      timeZone: 'UTC',
      maxCatchupDays: 7,
      lateOverlapMinutes: 15,
    });
    expect(config.dataDir).toBe('./data');
    expect(config.databaseUrl).toBeNull();
    expect(config.logLevel).toBe('info');
    expect(DEFAULTS.LASTPASS_TIMEZONE).toBe('America/New_York');
  });

  it('reads LASTPASS_TIMEOUT_SECONDS in seconds', () => {
    expect(loadConfig(env({ LASTPASS_TIMEOUT_SECONDS: '90' })).config.lastpass.timeoutMs).toBe(90_000);
    expect(problemsOf(env({ LASTPASS_TIMEOUT_SECONDS: '1.5' }))).toEqual([
      expect.stringMatching(/^LASTPASS_TIMEOUT_SECONDS must be a whole number/),
    ]);
  });

  it('warns, without failing, about a SendGrid key that does not start with SG.', () => {
    const { warnings } = loadConfig(env({ SENDGRID_API_KEY: 'not-a-sendgrid-key-123' }));
    expect(warnings).toEqual([expect.stringMatching(/SENDGRID_API_KEY does not start with "SG\."/)]);
    expect(warnings.join('\n')).not.toContain('not-a-sendgrid-key-123');
  });
});

describe('secrets', () => {
  it('never puts a secret into a problem, even when the secret itself is malformed', () => {
    const lpWithSpace = 'a1b2c3d4e5f6 0718293a4b5c6d7e8f90';
    const sgMalformed = 'SG.bad key with spaces';
    const dbPassword = 'hunter2hunter2';
    const error = errorOf({
      LASTPASS_ACCOUNT_NUMBER: LP_SECRET, // the secret pasted into the wrong variable
      LASTPASS_API_KEY: lpWithSpace,
      SENDGRID_API_KEY: sgMalformed,
      DATABASE_URL: `mysql://digest:${dbPassword}@db.example.test/digest`,
      REPORT_FROM: 'security-bot@example.org',
      REPORT_TO: 'secops@example.org',
    });
    problemFor(error.problems, 'LASTPASS_API_KEY');
    problemFor(error.problems, 'LASTPASS_ACCOUNT_NUMBER');
    problemFor(error.problems, 'DATABASE_URL');
    for (const secret of [lpWithSpace, ...lpWithSpace.split(' '), sgMalformed, 'bad key with spaces', dbPassword, LP_SECRET]) {
      expect(error.message).not.toContain(secret);
      for (const p of error.problems) expect(p).not.toContain(secret);
    }
  });

  it('lists the LastPass secret, the SendGrid key and the DATABASE_URL password as secrets', () => {
    const { config } = loadConfig(env({ DATABASE_URL: DB_URL }));
    expect(config.databaseUrl).toBe(DB_URL);
    expect(config.secrets).toEqual(expect.arrayContaining([LP_SECRET, SG_KEY, DB_PASSWORD]));
  });

  it('lists a DATABASE_URL password with a literal % (which pg accepts) as a secret', () => {
    // pg-connection-string re-encodes a stray "%" before parsing, so this URL connects with the password
    // "Xy7%zzQ9!w": it must be redacted like any other.
    const raw = 'Xy7%zzQ9!w';
    const { config } = loadConfig(env({ DATABASE_URL: `postgresql://digest:${raw}@db.example.test:5432/digest` }));
    expect(config.secrets).toContain(raw);
    const redact = createRedactor(secretVariants(config.secrets));
    expect(redact(`password=${raw}`)).toBe('password=[redacted]');
  });

  it('redacts every secret, raw and URL-encoded, through createRedactor(secretVariants(...))', () => {
    const { config } = loadConfig(env({ DATABASE_URL: DB_URL }));
    const redact = createRedactor(secretVariants(config.secrets));
    const text = [
      `provhash=${LP_SECRET}`,
      `Authorization: Bearer ${SG_KEY}`,
      `password ${DB_PASSWORD}`,
      `connecting to ${DB_URL}`,
      `key=${encodeURIComponent(SG_KEY)}&p=${encodeURIComponent(DB_PASSWORD)}`,
    ].join('\n');
    const out = redact(text);
    for (const s of [LP_SECRET, SG_KEY, DB_PASSWORD, encodeURIComponent(DB_PASSWORD)]) expect(out).not.toContain(s);
    expect(out).toContain('postgresql://digest:[redacted]@db.example.test:5432/digest');
    expect(out).toContain('Bearer [redacted]');
  });
});
