/**
 * Configuration: read the raw variables, normalise them, then apply named cross-field rules. Every problem
 * is collected and reported at once, each naming the variable and the fix. Pure: the environment comes in
 * as a value.
 */
import cron from 'node-cron';
import { ConfigError } from '../errors.js';
import { isValidTimeZone } from '../core/wall-time.js';
import { createManifestSigner, createManifestVerifier } from '../evidence/evidence-signing.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface Config {
  lastpass: {
    accountNumber: string;
    apiSecret: string;
    apiUrl: string;
    timeZone: string;
    apiUser: string;
    timeoutMs: number;
  };
  sendgrid: {
    /** null only when running dry (no sending). */
    apiKey: string | null;
    apiUrl: string;
  };
  report: {
    from: string;
    to: string[];
    schedule: string;
    timeZone: string;
    maxCatchupDays: number;
    /** Minutes of each window's tail asked for again at the next run, to report late arrivals (0: off). */
    lateOverlapMinutes?: number;
  };
  worker: {
    /** Delays of the retries after a failed run, within the day. */
    retryDelaysMs: number[];
    heartbeatUrl: string | null;
    /** Serve GET /healthz on this port (only when PORT is set). */
    port: number | null;
  };
  dataDir: string;
  databaseUrl: string | null;
  /** Compliance evidence (always on for non-dry runs). */
  evidence: {
    /** EVIDENCE_RAW (default on): keep the raw response bodies; off records only their SHA-256 and size. */
    raw: boolean;
    /** EVIDENCE_RETENTION_DAYS (default 400). */
    retentionDays: number;
    /** EVIDENCE_SIGNING_KEY: HMAC secret or Ed25519 private key PEM. */
    signingKey: string | null;
    /** EVIDENCE_VERIFY_KEY: HMAC secret or Ed25519 public key PEM (for `verify`). */
    verifyKey: string | null;
  };
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Every secret value, for the redactor. */
  secrets: string[];
}

export interface LoadedConfig {
  config: Config;
  warnings: string[];
}

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
} as const;

const EMAIL_RE = /^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+$/;

/** Accepts `a@b.c` or `Name <a@b.c>`; returns the address part, or null. */
export function parseAddress(text: string): string | null {
  const t = text.trim();
  const angle = /^[^<>]*<([^<>]+)>$/.exec(t);
  const address = (angle ? angle[1]! : t).trim();
  return EMAIL_RE.test(address) ? address : null;
}

function clean(env: Env, name: string): string | undefined {
  const v = env[name];
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

function checkUrl(value: string, name: string, problems: string[], example?: string): string {
  try {
    const u = new URL(value);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('protocol');
    return value.replace(/\/+$/, '');
  } catch {
    // The heartbeat URL is a capability: never echo it.
    const shown = name === 'HEARTBEAT_URL' ? '' : ` ("${value}")`;
    problems.push(
      `${name} is not an http(s) URL${shown}: set it to a full URL such as ${example ?? (name === 'LASTPASS_API_URL' ? DEFAULTS.LASTPASS_API_URL : DEFAULTS.SENDGRID_API_URL)}, or unset it${example ? '' : ' for the default'}.`,
    );
    return value;
  }
}

function checkInt(env: Env, name: string, fallback: string, min: number, max: number, problems: string[]): number {
  const raw = clean(env, name) ?? fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) {
    problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}"): unset it for the default ${fallback}.`);
    return Number(fallback);
  }
  return n;
}

export interface LoadOptions {
  /** `run --dry-run`, `demo`: no SendGrid key needed. */
  dryRun?: boolean;
}

export function loadConfig(env: Env, options: LoadOptions = {}): LoadedConfig {
  const problems: string[] = [];
  const warnings: string[] = [];

  // --- LastPass
  const accountNumber = clean(env, 'LASTPASS_ACCOUNT_NUMBER');
  if (!accountNumber) {
    problems.push(
      'LASTPASS_ACCOUNT_NUMBER is not set: copy the account number from the LastPass Admin Console (Advanced > Enterprise API, or the account number shown under your admin name).',
    );
  } else if (!/^\d+$/.test(accountNumber)) {
    problems.push(
      `LASTPASS_ACCOUNT_NUMBER must be the numeric account number (cid) from the Admin Console, digits only (got ${accountNumber.length} characters that are not all digits).`,
    );
  }
  const key = clean(env, 'LASTPASS_API_KEY');
  const hash = clean(env, 'LASTPASS_PROVISIONING_HASH');
  if (key && hash && key !== hash) {
    problems.push(
      'LASTPASS_API_KEY and LASTPASS_PROVISIONING_HASH are both set and differ: they name the same secret (the provisioning hash); keep one of them.',
    );
  }
  const apiSecret = key ?? hash;
  if (!apiSecret) {
    problems.push(
      'LASTPASS_API_KEY is not set: create or copy the API secret (the "provisioning hash") in the Admin Console under Advanced > Enterprise API, and set it as LASTPASS_API_KEY (LASTPASS_PROVISIONING_HASH is accepted too).',
    );
  } else if (/\s/.test(apiSecret)) {
    problems.push('LASTPASS_API_KEY contains whitespace: paste the secret exactly as the Admin Console shows it.');
  }
  const apiUrl = checkUrl(clean(env, 'LASTPASS_API_URL') ?? DEFAULTS.LASTPASS_API_URL, 'LASTPASS_API_URL', problems);
  const lpZone = clean(env, 'LASTPASS_TIMEZONE') ?? DEFAULTS.LASTPASS_TIMEZONE;
  if (!isValidTimeZone(lpZone)) {
    problems.push(
      `LASTPASS_TIMEZONE "${lpZone}" is not an IANA time zone: use a name such as America/New_York or Europe/Berlin (the zone of the admin account that owns the API secret).`,
    );
  }
  const apiUser = clean(env, 'LASTPASS_API_USER') ?? DEFAULTS.LASTPASS_API_USER;
  if (apiUser.length > 64 || /[\r\n]/.test(apiUser)) {
    problems.push(
      'LASTPASS_API_USER must be a short single-line label (at most 64 characters): unset it for the default "lastpass-audit-digest".',
    );
  }
  const timeoutSeconds = checkInt(env, 'LASTPASS_TIMEOUT_SECONDS', DEFAULTS.LASTPASS_TIMEOUT_SECONDS, 5, 600, problems);

  // --- SendGrid
  const sgKey = clean(env, 'SENDGRID_API_KEY') ?? null;
  if (!sgKey && !options.dryRun) {
    problems.push(
      'SENDGRID_API_KEY is not set: create an API key with the "Mail Send" permission in SendGrid (Settings > API Keys), or use --dry-run to write the digest to the outbox instead.',
    );
  } else if (sgKey && !sgKey.startsWith('SG.')) {
    warnings.push('SENDGRID_API_KEY does not start with "SG.": SendGrid keys normally do; check that the whole key was pasted.');
  }
  const residency = (clean(env, 'SENDGRID_DATA_RESIDENCY') ?? 'global').toLowerCase();
  if (residency !== 'global' && residency !== 'eu') {
    problems.push(`SENDGRID_DATA_RESIDENCY must be "global" or "eu" (got "${residency}").`);
  }
  const sgUrlRaw = clean(env, 'SENDGRID_API_URL');
  if (sgUrlRaw && residency === 'eu') {
    problems.push(
      'SENDGRID_API_URL and SENDGRID_DATA_RESIDENCY=eu are both set: keep one (the EU setting selects https://api.eu.sendgrid.com).',
    );
  }
  const sgUrl = checkUrl(
    sgUrlRaw ?? (residency === 'eu' ? DEFAULTS.SENDGRID_EU_API_URL : DEFAULTS.SENDGRID_API_URL),
    'SENDGRID_API_URL',
    problems,
  );

  // --- Report
  const from = clean(env, 'REPORT_FROM');
  if (!from)
    problems.push(
      'REPORT_FROM is not set: use a sender address verified in SendGrid (Settings > Sender Authentication), e.g. "LastPass digest <security-bot@example.org>".',
    );
  else if (!parseAddress(from))
    problems.push(`REPORT_FROM is not an email address ("${from}"): use "name@example.org" or "Name <name@example.org>".`);
  const toRaw = clean(env, 'REPORT_TO');
  const to: string[] = [];
  if (!toRaw) {
    problems.push('REPORT_TO is not set: list the recipients, comma-separated, e.g. "secops@example.org, ciso@example.org".');
  } else {
    for (const part of toRaw
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      if (parseAddress(part)) to.push(part);
      else problems.push(`REPORT_TO contains "${part}", which is not an email address: separate recipients with commas.`);
    }
    if (to.length === 0 && !problems.some((p) => p.startsWith('REPORT_TO'))) problems.push('REPORT_TO lists no recipient.');
  }
  const schedule = clean(env, 'REPORT_SCHEDULE') ?? DEFAULTS.REPORT_SCHEDULE;
  if (!cron.validate(schedule)) {
    problems.push(
      `REPORT_SCHEDULE "${schedule}" is not a valid cron expression: use five fields "minute hour day month weekday", e.g. "0 7 * * *" for 07:00 daily.`,
    );
  }
  const reportZone = clean(env, 'REPORT_TIMEZONE') ?? DEFAULTS.REPORT_TIMEZONE;
  if (!isValidTimeZone(reportZone)) {
    problems.push(`REPORT_TIMEZONE "${reportZone}" is not an IANA time zone: use a name such as UTC, Europe/London or America/Chicago.`);
  }
  const maxCatchupDays = checkInt(env, 'REPORT_MAX_CATCHUP_DAYS', DEFAULTS.REPORT_MAX_CATCHUP_DAYS, 1, 90, problems);
  const lateOverlapMinutes = checkInt(env, 'REPORT_LATE_OVERLAP_MINUTES', '15', 0, 720, problems);

  // --- Worker
  const retryRaw = clean(env, 'REPORT_RETRY_MINUTES') ?? DEFAULTS.REPORT_RETRY_MINUTES;
  const retryDelaysMs: number[] = [];
  if (retryRaw.toLowerCase() !== 'off') {
    for (const part of retryRaw.split(',').map((p) => p.trim())) {
      const n = Number(part);
      if (!/^\d+$/.test(part) || n < 1 || n > 720) {
        problems.push(
          `REPORT_RETRY_MINUTES must be comma-separated minutes from 1 to 720, or "off" (got "${retryRaw}"): e.g. "${DEFAULTS.REPORT_RETRY_MINUTES}".`,
        );
        break;
      }
      retryDelaysMs.push(n * 60_000);
    }
  }
  const heartbeatUrl = clean(env, 'HEARTBEAT_URL') ?? null;
  if (heartbeatUrl) checkUrl(heartbeatUrl, 'HEARTBEAT_URL', problems, 'https://hc-ping.com/<your-check-uuid>');
  const portRaw = clean(env, 'PORT');
  let port: number | null = null;
  if (portRaw !== undefined) {
    port = Number(portRaw);
    if (!/^\d+$/.test(portRaw) || port < 1 || port > 65_535) {
      problems.push(`PORT must be a TCP port number (got "${portRaw}"): unset it to serve no health endpoint.`);
      port = null;
    }
  }

  // --- Storage
  const dataDir = clean(env, 'DATA_DIR') ?? DEFAULTS.DATA_DIR;
  const databaseUrl = clean(env, 'DATABASE_URL') ?? null;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must be a PostgreSQL URL (postgresql://user:password@host:5432/db): unset it to keep state in DATA_DIR.');
  }
  const evidence = loadEvidenceSettings(env, problems);
  const logLevel = (clean(env, 'LOG_LEVEL') ?? DEFAULTS.LOG_LEVEL).toLowerCase();
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    problems.push(`LOG_LEVEL must be one of debug, info, warn, error (got "${logLevel}").`);
  }

  if (problems.length > 0) throw new ConfigError(problems);

  // The heartbeat URL is a capability (anyone holding it can fake the pings): treat it as a secret too.
  const secrets = [
    apiSecret,
    sgKey,
    ...databasePasswords(databaseUrl),
    clean(env, 'EVIDENCE_SIGNING_KEY'),
    clean(env, 'EVIDENCE_VERIFY_KEY'),
    heartbeatUrl ?? undefined,
  ].filter((s): s is string => typeof s === 'string' && s.length > 0);
  return {
    config: {
      lastpass: {
        accountNumber: accountNumber!,
        apiSecret: apiSecret!,
        apiUrl,
        timeZone: lpZone,
        apiUser,
        timeoutMs: timeoutSeconds * 1000,
      },
      sendgrid: { apiKey: sgKey, apiUrl: sgUrl },
      report: { from: from!, to, schedule, timeZone: reportZone, maxCatchupDays, lateOverlapMinutes },
      worker: { retryDelaysMs, heartbeatUrl, port },
      dataDir,
      databaseUrl,
      evidence,
      logLevel: logLevel as Config['logLevel'],
      secrets,
    },
    warnings,
  };
}

/** EVIDENCE_*: also used alone by `verify` and `export`, which need no LastPass or SendGrid settings. */
export function loadEvidenceSettings(env: Env, problems: string[]): Config['evidence'] {
  const rawText = (clean(env, 'EVIDENCE_RAW') ?? 'on').toLowerCase();
  if (!['on', 'off', 'true', 'false', '1', '0'].includes(rawText)) problems.push(`EVIDENCE_RAW must be on or off (got "${rawText}").`);
  const retentionDays = checkInt(env, 'EVIDENCE_RETENTION_DAYS', '400', 1, 36_500, problems);
  // PEM keys arrive with literal "\n" from some secret stores: accept both.
  const key = (name: string) => clean(env, name)?.replace(/\\n/g, '\n') ?? null;
  const signingKey = key('EVIDENCE_SIGNING_KEY');
  if (signingKey) {
    try {
      createManifestSigner(signingKey);
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
  }
  const verifyKey = key('EVIDENCE_VERIFY_KEY');
  if (verifyKey) {
    try {
      createManifestVerifier(verifyKey);
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
  }
  return { raw: !['off', 'false', '0'].includes(rawText), retentionDays, signingKey, verifyKey };
}

/** The DATABASE_URL password in every form it may be written or used in (raw, decoded). */
function databasePasswords(url: string | null): string[] {
  if (!url) return [];
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

/** The secrets worth redacting from any text: the raw values and their URL-encoded forms. */
export function secretVariants(secrets: readonly string[]): string[] {
  return secrets.flatMap((s) => [s, encodeURIComponent(s)]);
}
