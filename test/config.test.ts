/**
 * loadConfig: every problem at once, each naming its variable and the fix; the documented defaults; the
 * alias and region rules; and secrets that never reach a message but always reach the redactor.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  collectSecrets,
  DEFAULTS,
  loadConfig,
  loadDemoSettings,
  loadEvidenceSettings,
  loadStoreCommandSettings,
  secretVariants,
  type Env,
} from '../src/config/load-config.js';
import { SCHEMA } from '../src/config/schema.js';
import { createManifestSigner, createManifestVerifier } from '../src/evidence/evidence-signing.js';
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

  it('refuses a six-field (seconds) schedule: the workers plan in whole minutes', () => {
    expect(problemFor(problemsOf(env({ REPORT_SCHEDULE: '30 0 7 * * *' })), 'REPORT_SCHEDULE')).toMatch(/use five fields/);
    expect(loadConfig(env({ REPORT_SCHEDULE: ' 0 7 * * 1-5 ' })).config.report.schedule.trim()).toBe('0 7 * * 1-5');
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
      knownApiCallers: [],
    });
    expect(config.sendgrid).toEqual({ apiKey: SG_KEY, apiUrl: 'https://api.sendgrid.com' });
    expect(config.report).toEqual({
      from: 'LastPass digest <security-bot@example.org>',
      to: ['secops@example.org', 'ciso@example.org'],
      schedule: '0 7 * * *',
      timeZone: 'UTC',
      maxCatchupDays: 7,
      lateOverlapMinutes: 15,
      severityOverrides: [],
      ignoreUsers: [],
      runDeadlineMinutes: 30,
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

  it('reads RUN_DEADLINE_MINUTES, reports a bad value and a deadline shorter than a LastPass timeout, its retry and a send, naming the fix', () => {
    expect(loadConfig(env({ RUN_DEADLINE_MINUTES: '45' })).config.report.runDeadlineMinutes).toBe(45);
    expect(problemsOf(env({ RUN_DEADLINE_MINUTES: '0' }))).toEqual([
      expect.stringMatching(/^RUN_DEADLINE_MINUTES must be a whole number from 1 to 1440 \(got "0"\): unset it for the default 30/),
    ]);
    // Reported together with every other problem.
    expect(problemsOf(env({ RUN_DEADLINE_MINUTES: 'soon', LASTPASS_TIMEOUT_SECONDS: 'x' }))).toHaveLength(2);
    expect(problemsOf(env({ RUN_DEADLINE_MINUTES: '2', LASTPASS_TIMEOUT_SECONDS: '90' }))).toEqual([
      'RUN_DEADLINE_MINUTES=2 is shorter than one LastPass request that times out (LASTPASS_TIMEOUT_SECONDS=90), its retry and a send (210 s): raise RUN_DEADLINE_MINUTES to at least 4 or lower LASTPASS_TIMEOUT_SECONDS.',
    ]);
    expect(loadConfig(env({ RUN_DEADLINE_MINUTES: '3', LASTPASS_TIMEOUT_SECONDS: '60' })).config.report.runDeadlineMinutes).toBe(3);
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

describe('schema, then named rules, all at once', () => {
  it('reports the problems of the schema and of the cross-field rules together, in the order of the variables', () => {
    const problems = problemsOf(
      env({
        LASTPASS_ACCOUNT_NUMBER: undefined,
        LASTPASS_PROVISIONING_HASH: 'ffffeeeeddddccccbbbbaaaa99998888',
        SENDGRID_DATA_RESIDENCY: 'eu',
        SENDGRID_API_URL: 'https://sendgrid.example.test',
        REPORT_SCHEDULE: 'daily',
        LOG_LEVEL: 'loud',
      }),
    );
    expect(problems.map((p) => p.split(/[ :]/)[0])).toEqual([
      'LASTPASS_ACCOUNT_NUMBER',
      'LASTPASS_API_KEY', // api-key-alias-conflict
      'SENDGRID_API_URL', // sendgrid-url-vs-residency
      'REPORT_SCHEDULE',
      'LOG_LEVEL',
    ]);
  });

  it('names a malformed alias by its own name and still knows the secret is set', () => {
    const problems = problemsOf(env({ LASTPASS_API_KEY: undefined, LASTPASS_PROVISIONING_HASH: 'has a space' }));
    expect(problems).toEqual([expect.stringMatching(/^LASTPASS_PROVISIONING_HASH contains whitespace/)]);
  });

  it('collects every secret set in the environment even when the configuration is invalid (for the redactor)', () => {
    const secrets = collectSecrets({
      LASTPASS_API_KEY: 'has a space in it',
      SENDGRID_API_KEY: SG_KEY,
      DATABASE_URL: DB_URL,
      HEARTBEAT_URL: 'https://hc-ping.example.test/uuid-1234',
      EVIDENCE_SIGNING_KEY: 'short',
    });
    expect(secrets).toEqual(
      expect.arrayContaining(['has a space in it', SG_KEY, DB_PASSWORD, 'https://hc-ping.example.test/uuid-1234', 'short']),
    );
    expect(() => loadConfig({ LASTPASS_API_KEY: 'has a space in it' })).toThrow(ConfigError);
  });
});

describe('the settings of migrate, verify, export and demo', () => {
  it('reads DATA_DIR, DATABASE_URL, LOG_LEVEL and EVIDENCE_* without any LastPass or SendGrid variable', () => {
    expect(loadStoreCommandSettings({})).toEqual({
      storage: { dataDir: './data', databaseUrl: null },
      logLevel: 'info',
      evidence: { raw: true, retentionDays: 400, signingKey: null, verifyKey: null },
      secrets: [],
      accountsFile: null,
    });
    const s = loadStoreCommandSettings({
      DATA_DIR: ' /srv/digest ',
      DATABASE_URL: DB_URL,
      LOG_LEVEL: 'DEBUG',
      EVIDENCE_VERIFY_KEY: 'x'.repeat(20),
    });
    expect(s.storage).toEqual({ dataDir: '/srv/digest', databaseUrl: DB_URL });
    expect(s.logLevel).toBe('debug');
    expect(s.secrets).toEqual(expect.arrayContaining([DB_PASSWORD, 'x'.repeat(20)]));
  });

  it('reports every bad storage, logging and evidence value at once, with the same messages as loadConfig', () => {
    let error: unknown;
    try {
      loadStoreCommandSettings({
        DATABASE_URL: 'mysql://u:p@h/db',
        LOG_LEVEL: 'loud',
        EVIDENCE_RAW: 'maybe',
        EVIDENCE_SIGNING_KEY: 'short',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems.map((p) => p.split(' ')[0])).toEqual(['DATABASE_URL', 'EVIDENCE_RAW', 'EVIDENCE_SIGNING_KEY', 'LOG_LEVEL']);
    expect(problemFor(problems, 'DATABASE_URL')).toBe(problemFor(problemsOf(env({ DATABASE_URL: 'mysql://u:p@h/db' })), 'DATABASE_URL'));
  });

  it('gives the demo its DATA_DIR and a quieter default log level, and refuses a bad LOG_LEVEL', () => {
    expect(loadDemoSettings({})).toEqual({ dataDir: './data', logLevel: 'warn' });
    expect(loadDemoSettings({ DATA_DIR: '/tmp/x', LOG_LEVEL: 'info' })).toEqual({ dataDir: '/tmp/x', logLevel: 'info' });
    expect(() => loadDemoSettings({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL must be one of/);
  });
});

describe('evidence keys', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const ED_PRIVATE = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const ED_PUBLIC = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const RSA = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

  it('accepts and refuses exactly the keys the evidence signer and verifier accept and refuse, with their messages', () => {
    const cases: [string, string][] = [
      ['EVIDENCE_SIGNING_KEY', ED_PRIVATE],
      ['EVIDENCE_SIGNING_KEY', ED_PRIVATE.replace(/\n/g, '\\n')],
      ['EVIDENCE_SIGNING_KEY', 'x'.repeat(16)],
      ['EVIDENCE_SIGNING_KEY', 'short'],
      ['EVIDENCE_SIGNING_KEY', RSA],
      ['EVIDENCE_SIGNING_KEY', '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----'],
      ['EVIDENCE_VERIFY_KEY', ED_PUBLIC],
      ['EVIDENCE_VERIFY_KEY', ED_PRIVATE],
      ['EVIDENCE_VERIFY_KEY', 'any hmac secret'],
      ['EVIDENCE_VERIFY_KEY', RSA],
      ['EVIDENCE_VERIFY_KEY', '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----'],
    ];
    for (const [name, key] of cases) {
      let archiveMessage: string | null = null;
      try {
        const normalised = key.replace(/\\n/g, '\n');
        if (name === 'EVIDENCE_SIGNING_KEY') createManifestSigner(normalised);
        else createManifestVerifier(normalised);
      } catch (error) {
        archiveMessage = (error as Error).message;
      }
      const problems: string[] = [];
      loadEvidenceSettings({ [name]: key }, problems);
      expect(problems, `${name} ${key.slice(0, 30)}`).toEqual(archiveMessage === null ? [] : [archiveMessage]);
    }
  });
});

describe('the README', () => {
  it('documents every variable of the schema', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    for (const name of Object.keys(SCHEMA)) expect(readme, name).toContain(`\`${name}\``);
  });
});

describe('noise control (LASTPASS_KNOWN_API_CALLERS, REPORT_SEVERITY_OVERRIDES, REPORT_IGNORE_USERS)', () => {
  it('reads all three into the configuration', () => {
    const { config } = loadConfig(
      env({
        LASTPASS_KNOWN_API_CALLERS: 'Microsoft Sentinel CCP@198.51.100.0/24, splunk.collector',
        REPORT_SEVERITY_OVERRIDES: 'Log in=info, Login to Admin Console=info',
        REPORT_IGNORE_USERS: 'svc-scim@example.org, *@robots.example.org',
      }),
    );
    expect(config.lastpass.knownApiCallers?.map((c) => c.label)).toEqual(['Microsoft Sentinel CCP', 'splunk.collector']);
    expect(config.report.severityOverrides).toHaveLength(2);
    expect(config.report.ignoreUsers).toHaveLength(2);
  });

  it('defaults to none of each', () => {
    const { config } = loadConfig(env());
    expect([config.lastpass.knownApiCallers, config.report.severityOverrides, config.report.ignoreUsers]).toEqual([[], [], []]);
  });

  it('reports a bad entry of each together with the other problems, each naming its variable', () => {
    const error = (() => {
      try {
        loadConfig(
          env({
            LASTPASS_ACCOUNT_NUMBER: undefined,
            LASTPASS_KNOWN_API_CALLERS: 'Sentinel@300.1.1.0/24',
            REPORT_SEVERITY_OVERRIDES: 'No Such Action=low',
            REPORT_IGNORE_USERS: '*@',
          }),
        );
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    for (const name of ['LASTPASS_ACCOUNT_NUMBER', 'LASTPASS_KNOWN_API_CALLERS', 'REPORT_SEVERITY_OVERRIDES', 'REPORT_IGNORE_USERS']) {
      expect(
        problems.some((p) => p.includes(name)),
        name,
      ).toBe(true);
    }
  });
});
