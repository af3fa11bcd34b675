/**
 * The configuration schema: every environment variable with its default, its help text, whether it is a
 * secret, and how it is normalised. Cross-field rules live in rules.ts; loadConfig (load-config.ts) reads
 * the schema, applies the rules and builds the `Config`.
 *
 * Over 400 lines on purpose: it is the one table of the public interface (the README's configuration table,
 * `--help` and `.env.example` are generated from or checked against it), and one entry per variable reads
 * best in one file; the parsers that grow (addresses, evidence keys, known callers) live in their own modules.
 */
import cron from 'node-cron';
import { isValidTimeZone } from '../core/wall-time.js';
import { normaliseKeyText, signingKeyProblem, verifyKeyProblem } from './evidence-keys.js';
import { type IgnoreUserRule, parseIgnoreUsers } from '../core/ignore-users.js';
import { type KnownApiCaller, parseKnownApiCallers } from '../core/known-callers.js';
import { parseSeverityOverrides, type SeverityOverride } from '../core/severity-overrides.js';
import { MAX_RECIPIENTS, parseRecipients, parseSender, type ParsedAddresses } from './addresses.js';
import { WEBHOOK_FORMATS, type WebhookFormat } from '../core/alarm.js';
import { capabilityUrlParts, urlCredentials } from '../adapters/http/redact.js';
import { ok, problem, variable, type Parsed } from './variable.js';

export const DEFAULTS = {
  LASTPASS_API_URL: 'https://lastpass.com/enterpriseapi.php',
  LASTPASS_TIMEZONE: 'America/New_York',
  LASTPASS_API_USER: 'lastpass-audit-digest',
  LASTPASS_TIMEOUT_SECONDS: '60',
  SENDGRID_API_URL: 'https://api.sendgrid.com',
  SENDGRID_EU_API_URL: 'https://api.eu.sendgrid.com',
  REPORT_SCHEDULE: '0 7 * * *',
  REPORT_TIMEZONE: 'UTC',
  REPORT_MAX_CATCHUP_DAYS: '7',
  DATA_DIR: './data',
  LOG_LEVEL: 'info',
  REPORT_RETRY_MINUTES: '10,30,60,120',
  RUN_DEADLINE_MINUTES: '30',
} as const;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type ConfigLogLevel = (typeof LOG_LEVELS)[number];

export { parseAddress } from './addresses.js';

// ---- value kinds ----------------------------------------------------------------------------------

/**
 * An http(s) URL without its trailing slashes, and without credentials (`user:password@`): those are refused
 * rather than stripped, since what they were meant to authenticate would then silently fail (and Node's
 * fetch refuses them anyway); the problem never quotes them. `example` is named in the fix; `echo: false`
 * for capabilities. Whether http:// is allowed is a rule (rules.ts: loopback or ALLOW_INSECURE_HTTP).
 */
function httpUrl(name: string, fix: { example: string; isDefault: boolean; echo?: boolean; credentials: string }) {
  return (text: string): Parsed<string> => {
    if (urlCredentials(text).length > 0) {
      return problem(
        `${name} contains credentials (user:password@ before the host), which are never sent nor shown: remove them; ${fix.credentials}.`,
      );
    }
    try {
      const u = new URL(text);
      if (u.protocol === 'https:' || u.protocol === 'http:') return ok(text.replace(/\/+$/, ''));
    } catch {
      // not a URL at all
    }
    const shown = fix.echo === false || text.includes('@') ? '' : ` ("${text}")`;
    return problem(
      `${name} is not an http(s) URL${shown}: set it to a full URL such as ${fix.example}, or unset it${fix.isDefault ? ' for the default' : ''}.`,
    );
  };
}

function wholeNumber(name: string, min: number, max: number, fallback: string) {
  return (text: string): Parsed<number> => {
    const n = Number(text);
    if (/^\d+$/.test(text) && n >= min && n <= max) return ok(n);
    return problem(`${name} must be a whole number from ${min} to ${max} (got "${text}"): unset it for the default ${fallback}.`);
  };
}

function timeZone(fix: (zone: string) => string) {
  return (text: string): Parsed<string> => (isValidTimeZone(text) ? ok(text) : problem(fix(text)));
}

/** The DATABASE_URL password in every form it may be written or used in (raw, decoded). */
export function databasePasswords(url: string): string[] {
  const raw = /^[a-z]+:\/\/[^:/@]*:([^@]*)@/i.exec(url)?.[1];
  if (!raw) return [];
  const forms = [raw];
  try {
    forms.push(decodeURIComponent(raw));
  } catch {
    // A literal "%" that is not an escape: pg uses the text as written.
  }
  return forms;
}

/** A key as written (maybe with literal "\n") and as used. */
const keyForms = (text: string) => [text, normaliseKeyText(text)];

/** An address parser (addresses.ts) as a variable's parse: its problems, or its value with its warnings. */
function fromAddresses<T>(parse: (text: string) => ParsedAddresses<T>) {
  return (text: string): Parsed<T> => {
    const { value, problems, warnings } = parse(text);
    return problems.length || value === null ? problem(...problems) : ok(value, warnings);
  };
}

/** One of the core noise-control parsers as a variable's parse (they name the variable in their problems). */
function fromCore<T>(parse: (text: string) => { value: T; problems: string[] }) {
  return (text: string): Parsed<T> => {
    const { value, problems } = parse(text);
    return problems.length ? problem(...problems) : ok(value);
  };
}

// ---- the variables, in the README's order ---------------------------------------------------------

export const SCHEMA = {
  LASTPASS_ACCOUNT_NUMBER: variable<string>({
    name: 'LASTPASS_ACCOUNT_NUMBER',
    help: 'the account number (cid), digits only',
    required:
      'LASTPASS_ACCOUNT_NUMBER is not set: copy the account number from the LastPass Admin Console (Advanced > Enterprise API, or the account number shown under your admin name).',
    parse: (t) =>
      /^\d+$/.test(t)
        ? ok(t)
        : problem(
            `LASTPASS_ACCOUNT_NUMBER must be the numeric account number (cid) from the Admin Console, digits only (got ${t.length} characters that are not all digits).`,
          ),
  }),
  LASTPASS_API_KEY: variable<string>({
    name: 'LASTPASS_API_KEY',
    help: 'the API secret (provhash); required (or its alias LASTPASS_PROVISIONING_HASH)',
    secret: true,
    parse: (t) =>
      /\s/.test(t) ? problem('LASTPASS_API_KEY contains whitespace: paste the secret exactly as the Admin Console shows it.') : ok(t),
  }),
  LASTPASS_PROVISIONING_HASH: variable<string>({
    name: 'LASTPASS_PROVISIONING_HASH',
    help: 'alias of LASTPASS_API_KEY',
    secret: true,
    parse: (t) =>
      /\s/.test(t)
        ? problem('LASTPASS_PROVISIONING_HASH contains whitespace: paste the secret exactly as the Admin Console shows it.')
        : ok(t),
  }),
  LASTPASS_API_URL: variable<string>({
    name: 'LASTPASS_API_URL',
    help: 'the endpoint: a proxy or a regional host',
    default: DEFAULTS.LASTPASS_API_URL,
    // Its credentials, if any were set, are redacted everywhere (the URL itself is refused, see httpUrl).
    secret: urlCredentials,
    parse: httpUrl('LASTPASS_API_URL', {
      example: DEFAULTS.LASTPASS_API_URL,
      isDefault: true,
      credentials: 'LastPass is authenticated by LASTPASS_API_KEY in the request body, and a proxy that needs a password is not supported',
    }),
  }),
  LASTPASS_TIMEZONE: variable<string>({
    name: 'LASTPASS_TIMEZONE',
    help: 'IANA zone of the wall-clock times LastPass speaks',
    default: DEFAULTS.LASTPASS_TIMEZONE,
    parse: timeZone(
      (z) =>
        `LASTPASS_TIMEZONE "${z}" is not an IANA time zone: use a name such as America/New_York or Europe/Berlin (the zone of the admin account that owns the API secret).`,
    ),
  }),
  LASTPASS_KNOWN_API_CALLERS: variable<KnownApiCaller[]>({
    name: 'LASTPASS_KNOWN_API_CALLERS',
    help: 'other API callers that hold the secret on purpose: label or label@CIDR, comma-separated ("-" = no label)',
    parse: fromCore(parseKnownApiCallers),
  }),
  LASTPASS_API_USER: variable<string>({
    name: 'LASTPASS_API_USER',
    help: 'the apiuser label; rows of this caller are our own',
    default: DEFAULTS.LASTPASS_API_USER,
    parse: (t) =>
      t.length > 64 || /[\r\n]/.test(t)
        ? problem(
            'LASTPASS_API_USER must be a short single-line label (at most 64 characters): unset it for the default "lastpass-audit-digest".',
          )
        : ok(t),
  }),
  LASTPASS_TIMEOUT_SECONDS: variable<number>({
    name: 'LASTPASS_TIMEOUT_SECONDS',
    help: 'per-request timeout, seconds',
    default: DEFAULTS.LASTPASS_TIMEOUT_SECONDS,
    parse: wholeNumber('LASTPASS_TIMEOUT_SECONDS', 5, 600, DEFAULTS.LASTPASS_TIMEOUT_SECONDS),
  }),
  SENDGRID_API_KEY: variable<string>({
    name: 'SENDGRID_API_KEY',
    help: 'SendGrid key with the Mail Send permission; required unless --dry-run',
    secret: true,
    parse: (t) =>
      ok(
        t,
        t.startsWith('SG.')
          ? []
          : ['SENDGRID_API_KEY does not start with "SG.": SendGrid keys normally do; check that the whole key was pasted.'],
      ),
  }),
  SENDGRID_API_URL: variable<string>({
    name: 'SENDGRID_API_URL',
    help: `endpoint (default ${DEFAULTS.SENDGRID_API_URL}, or the EU one with SENDGRID_DATA_RESIDENCY=eu)`,
    secret: urlCredentials,
    parse: httpUrl('SENDGRID_API_URL', {
      example: DEFAULTS.SENDGRID_API_URL,
      isDefault: true,
      credentials: 'SendGrid is authenticated by SENDGRID_API_KEY',
    }),
  }),
  SENDGRID_DATA_RESIDENCY: variable<'global' | 'eu'>({
    name: 'SENDGRID_DATA_RESIDENCY',
    help: `global, or eu for ${DEFAULTS.SENDGRID_EU_API_URL}`,
    default: 'global',
    parse: (t) => {
      const r = t.toLowerCase();
      return r === 'global' || r === 'eu' ? ok(r) : problem(`SENDGRID_DATA_RESIDENCY must be "global" or "eu" (got "${r}").`);
    },
  }),
  REPORT_FROM: variable<string>({
    name: 'REPORT_FROM',
    help: 'a verified SendGrid sender, address or "Name <address>"',
    required:
      'REPORT_FROM is not set: use a sender address verified in SendGrid (Settings > Sender Authentication), e.g. "LastPass digest <security-bot@example.org>".',
    parse: fromAddresses((t) => parseSender(t, 'REPORT_FROM')),
  }),
  REPORT_TO: variable<string[]>({
    name: 'REPORT_TO',
    help: `comma-separated recipients (at most ${MAX_RECIPIENTS}; repeats are sent once)`,
    required: 'REPORT_TO is not set: list the recipients, comma-separated, e.g. "secops@example.org, ciso@example.org".',
    parse: fromAddresses((t) => parseRecipients(t, 'REPORT_TO')),
  }),
  ROLLUP_TO: variable<string[]>({
    name: 'ROLLUP_TO',
    help: `recipients of the roll-up after each round over several accounts, comma-separated like REPORT_TO`,
    parse: fromAddresses((t) => parseRecipients(t, 'ROLLUP_TO')),
  }),
  ACCOUNTS_FILE: variable<string>({
    name: 'ACCOUNTS_FILE',
    help: 'a JSON file of LastPass accounts to report on (see "Running for many accounts"); unset: the one account of LASTPASS_*',
    parse: (t) => ok(t),
  }),
  REPORT_SCHEDULE: variable<string>({
    name: 'REPORT_SCHEDULE',
    help: 'cron expression (minute hour day month weekday)',
    default: DEFAULTS.REPORT_SCHEDULE,
    // Five fields only: the workers' catch-up, health and replica de-duplication work in whole minutes, and
    // node-cron's optional seconds field would make every scheduled time fall between them.
    parse: (t) =>
      t.trim().split(/\s+/).length === 5 && cron.validate(t)
        ? ok(t)
        : problem(
            `REPORT_SCHEDULE "${t}" is not a valid cron expression: use five fields "minute hour day month weekday", e.g. "0 7 * * *" for 07:00 daily.`,
          ),
  }),
  REPORT_TIMEZONE: variable<string>({
    name: 'REPORT_TIMEZONE',
    help: 'zone of the schedule and of the times shown in the digest',
    default: DEFAULTS.REPORT_TIMEZONE,
    parse: timeZone((z) => `REPORT_TIMEZONE "${z}" is not an IANA time zone: use a name such as UTC, Europe/London or America/Chicago.`),
  }),
  REPORT_MAX_CATCHUP_DAYS: variable<number>({
    name: 'REPORT_MAX_CATCHUP_DAYS',
    help: 'after a longer outage, only the most recent days are reported',
    default: DEFAULTS.REPORT_MAX_CATCHUP_DAYS,
    parse: wholeNumber('REPORT_MAX_CATCHUP_DAYS', 1, 90, DEFAULTS.REPORT_MAX_CATCHUP_DAYS),
  }),
  REPORT_LATE_OVERLAP_MINUTES: variable<number>({
    name: 'REPORT_LATE_OVERLAP_MINUTES',
    help: 'minutes of the previous window asked for again for late arrivals; 0 disables',
    default: '15',
    parse: wholeNumber('REPORT_LATE_OVERLAP_MINUTES', 0, 720, '15'),
  }),
  REPORT_SEVERITY_OVERRIDES: variable<SeverityOverride[]>({
    name: 'REPORT_SEVERITY_OVERRIDES',
    help: 'severities of your own: action=severity, comma-separated (names as the catalogue knows them)',
    parse: fromCore((t) => parseSeverityOverrides(t)),
  }),
  REPORT_IGNORE_USERS: variable<IgnoreUserRule[]>({
    name: 'REPORT_IGNORE_USERS',
    help: 'users not reviewed (service accounts): exact names or *@domain, comma-separated',
    parse: fromCore(parseIgnoreUsers),
  }),
  REPORT_RETRY_MINUTES: variable<number[]>({
    name: 'REPORT_RETRY_MINUTES',
    help: 'retries after a failed run, minutes, comma-separated; off disables',
    default: DEFAULTS.REPORT_RETRY_MINUTES,
    parse: (t) => {
      if (t.toLowerCase() === 'off') return ok([]);
      const delays: number[] = [];
      for (const part of t.split(',').map((p) => p.trim())) {
        const n = Number(part);
        if (!/^\d+$/.test(part) || n < 1 || n > 720)
          return problem(
            `REPORT_RETRY_MINUTES must be comma-separated minutes from 1 to 720, or "off" (got "${t}"): e.g. "${DEFAULTS.REPORT_RETRY_MINUTES}".`,
          );
        delays.push(n * 60_000);
      }
      return ok(delays);
    },
  }),
  RUN_DEADLINE_MINUTES: variable<number>({
    name: 'RUN_DEADLINE_MINUTES',
    help: 'the longest one run may take (LastPass fetches, retries, sends); past it the run fails loudly',
    default: DEFAULTS.RUN_DEADLINE_MINUTES,
    parse: wholeNumber('RUN_DEADLINE_MINUTES', 1, 1440, DEFAULTS.RUN_DEADLINE_MINUTES),
  }),
  HEARTBEAT_URL: variable<string>({
    name: 'HEARTBEAT_URL',
    help: "dead-man's switch pinged after every run (a secret)",
    // The heartbeat URL is a capability (anyone holding it can fake the pings): a secret, never echoed.
    secret: capabilityUrlParts,
    parse: (t) => {
      const checked = httpUrl('HEARTBEAT_URL', {
        example: 'https://hc-ping.com/<your-check-uuid>',
        isDefault: false,
        echo: false,
        credentials: 'use the ping URL exactly as the monitoring service shows it (its path is the secret)',
      })(t);
      return checked.ok ? ok(t) : checked; // used as written
    },
  }),
  NOTIFY_WEBHOOK_URL: variable<string>({
    name: 'NOTIFY_WEBHOOK_URL',
    help: 'second alarm channel: a Slack, Teams (Workflows) or JSON webhook for FAILED notices and high findings (a secret)',
    // The webhook URL is a capability (its path or query is the token): a secret, never echoed.
    secret: capabilityUrlParts,
    parse: (t) => {
      const checked = httpUrl('NOTIFY_WEBHOOK_URL', {
        example: 'https://hooks.slack.com/services/T000/B000/XXXX',
        isDefault: false,
        echo: false,
        credentials: 'use the webhook URL exactly as Slack, Teams or your receiver shows it (its path is the secret)',
      })(t);
      return checked.ok ? ok(t) : checked; // used as written
    },
  }),
  NOTIFY_WEBHOOK_FORMAT: variable<WebhookFormat>({
    name: 'NOTIFY_WEBHOOK_FORMAT',
    help: 'slack, teams or json; unset: inferred from the webhook host',
    parse: (t) => {
      const f = t.toLowerCase();
      return (WEBHOOK_FORMATS as readonly string[]).includes(f)
        ? ok(f as WebhookFormat)
        : problem(`NOTIFY_WEBHOOK_FORMAT must be slack, teams or json (got "${f}"): unset it to infer the format from the webhook's host.`);
    },
  }),
  ALLOW_INSECURE_HTTP: variable<boolean>({
    name: 'ALLOW_INSECURE_HTTP',
    help: '1 allows http:// endpoints on hosts other than loopback (secrets then cross the network unencrypted)',
    default: '0',
    parse: (t) => {
      const v = t.toLowerCase();
      if (['1', 'on', 'true', 'yes'].includes(v)) return ok(true);
      if (['0', 'off', 'false', 'no'].includes(v)) return ok(false);
      return problem(`ALLOW_INSECURE_HTTP must be 1 or 0 (got "${v}"): unset it to refuse http:// endpoints that are not loopback.`);
    },
  }),
  PORT: variable<number>({
    name: 'PORT',
    help: 'serve GET /healthz on this port (the worker)',
    parse: (t) => {
      const port = Number(t);
      return /^\d+$/.test(t) && port >= 1 && port <= 65_535
        ? ok(port)
        : problem(`PORT must be a TCP port number (got "${t}"): unset it to serve no health endpoint.`);
    },
  }),
  DATA_DIR: variable<string>({
    name: 'DATA_DIR',
    help: 'outbox; run state, history and evidence when no database is configured',
    default: DEFAULTS.DATA_DIR,
    parse: (t) => ok(t),
  }),
  DATABASE_URL: variable<string>({
    name: 'DATABASE_URL',
    help: 'PostgreSQL for run state, history and evidence',
    secret: databasePasswords,
    parse: (t) =>
      /^postgres(ql)?:\/\//.test(t)
        ? ok(t)
        : problem('DATABASE_URL must be a PostgreSQL URL (postgresql://user:password@host:5432/db): unset it to keep state in DATA_DIR.'),
  }),
  WORKER_REPLICAS: variable<boolean>({
    name: 'WORKER_REPLICAS',
    help: 'on: the worker is one of several replicas sharing DATABASE_URL through its job queue (pg-boss)',
    default: 'off',
    parse: (t) => {
      const v = t.toLowerCase();
      if (['on', 'true', '1', 'yes'].includes(v)) return ok(true);
      if (['off', 'false', '0', 'no'].includes(v)) return ok(false);
      return problem(`WORKER_REPLICAS must be on or off (got "${v}"): on runs the worker as one of several replicas on DATABASE_URL.`);
    },
  }),
  WORKER_CONCURRENCY: variable<number>({
    name: 'WORKER_CONCURRENCY',
    help: 'replicas: account runs at once in one worker process',
    default: '4',
    parse: wholeNumber('WORKER_CONCURRENCY', 1, 64, '4'),
  }),
  WORKER_TAKEOVER_SECONDS: variable<number>({
    name: 'WORKER_TAKEOVER_SECONDS',
    help: "replicas: the longest a dead replica's run waits before another takes it over",
    default: '120',
    parse: wholeNumber('WORKER_TAKEOVER_SECONDS', 15, 300, '120'),
  }),
  EVIDENCE_RAW: variable<boolean>({
    name: 'EVIDENCE_RAW',
    help: 'off keeps only the SHA-256 and size of the raw LastPass responses',
    default: 'on',
    parse: (t) => {
      const v = t.toLowerCase();
      if (['on', 'true', '1'].includes(v)) return ok(true);
      if (['off', 'false', '0'].includes(v)) return ok(false);
      return problem(`EVIDENCE_RAW must be on or off (got "${v}").`);
    },
  }),
  EVIDENCE_RETENTION_DAYS: variable<number>({
    name: 'EVIDENCE_RETENTION_DAYS',
    help: 'bundles older than this are pruned after a run',
    default: '400',
    parse: wholeNumber('EVIDENCE_RETENTION_DAYS', 1, 36_500, '400'),
  }),
  EVIDENCE_SIGNING_KEY: variable<string>({
    name: 'EVIDENCE_SIGNING_KEY',
    help: 'signs every evidence manifest: an Ed25519 private key PEM or an HMAC secret (a secret)',
    secret: keyForms,
    parse: (t) => {
      const key = normaliseKeyText(t);
      const p = signingKeyProblem(key);
      return p ? problem(p) : ok(key);
    },
  }),
  EVIDENCE_VERIFY_KEY: variable<string>({
    name: 'EVIDENCE_VERIFY_KEY',
    help: 'for verify/export: the Ed25519 public key PEM, or the HMAC secret',
    secret: keyForms,
    parse: (t) => {
      const key = normaliseKeyText(t);
      const p = verifyKeyProblem(key);
      return p ? problem(p) : ok(key);
    },
  }),
  LOG_LEVEL: variable<ConfigLogLevel>({
    name: 'LOG_LEVEL',
    help: 'debug, info, warn or error (JSON lines on stderr)',
    default: DEFAULTS.LOG_LEVEL,
    parse: (t) => {
      const level = t.toLowerCase();
      return (LOG_LEVELS as readonly string[]).includes(level)
        ? ok(level as ConfigLogLevel)
        : problem(`LOG_LEVEL must be one of debug, info, warn, error (got "${level}").`);
    },
  }),
} as const;

export type Schema = typeof SCHEMA;
export type VariableName = keyof Schema;
export const VARIABLE_NAMES = Object.keys(SCHEMA) as VariableName[];
