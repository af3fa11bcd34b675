/**
 * Configuration: the schema (schema.ts) normalises each variable, the named rules (rules.ts) check what
 * spans variables, and every problem and warning comes out at once, each naming the variable and the fix.
 * Storage, logging and evidence settings are read here too for the commands that need only those
 * (migrate, verify, export, demo). Pure: the environment comes in as a value.
 */
import { inferWebhookFormat, type WebhookFormat } from '../core/alarm.js';
import type { IgnoreUserRule } from '../core/ignore-users.js';
import type { KnownApiCaller } from '../core/known-callers.js';
import type { SeverityOverride } from '../core/severity-overrides.js';
import { ConfigError } from '../errors.js';
import { RULES } from './rules.js';
import { DEFAULTS, SCHEMA, VARIABLE_NAMES, type ConfigLogLevel, type Schema, type VariableName } from './schema.js';
import { inSchemaOrder, readVariables, secretsIn, textOf, type Env, type Values } from './variable.js';

export type { Env } from './variable.js';
export { DEFAULTS, parseAddress } from './schema.js';

export interface Config {
  lastpass: {
    accountNumber: string;
    apiSecret: string;
    apiUrl: string;
    timeZone: string;
    apiUser: string;
    timeoutMs: number;
    /** LASTPASS_KNOWN_API_CALLERS: API callers other than this worker that hold the secret on purpose. */
    knownApiCallers?: KnownApiCaller[];
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
    /** REPORT_SEVERITY_OVERRIDES. */
    severityOverrides?: SeverityOverride[];
    /** REPORT_IGNORE_USERS. */
    ignoreUsers?: IgnoreUserRule[];
    /** RUN_DEADLINE_MINUTES (default 30): the longest a run may take, fetches, retries and sends together. */
    runDeadlineMinutes?: number;
  };
  worker: {
    /** Delays of the retries after a failed run, within the day. */
    retryDelaysMs: number[];
    heartbeatUrl: string | null;
    /** Serve GET /healthz on this port (only when PORT is set). */
    port: number | null;
    /** WORKER_REPLICAS=on (needs DATABASE_URL): share the work with other replicas through the job queue. */
    replicas?: { concurrency: number; takeoverSeconds: number } | null;
  };
  /** NOTIFY_WEBHOOK_URL and its format (given or inferred from the host); absent or null url: no webhook. */
  notify?: { webhookUrl: string | null; webhookFormat: WebhookFormat };
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
  logLevel: ConfigLogLevel;
  /** ACCOUNTS_FILE as set (unresolved), or null: the one account of the LASTPASS_* variables. */
  accountsFile?: string | null;
  /** ROLLUP_TO: who receives the roll-up after each round over several accounts; null: nobody. */
  rollupTo?: string[] | null;
  /**
   * Which account this configuration is (src/accounts/): 'default' (or absent) for the single account of
   * the environment; it scopes the PostgreSQL rows and names the account in logs, notices and pings.
   */
  accountId?: string;
  /** Every secret value, for the redactor. */
  secrets: string[];
}

export interface LoadedConfig {
  config: Config;
  warnings: string[];
}

export interface LoadOptions {
  /** `run --dry-run`, `demo`: no SendGrid key needed. */
  dryRun?: boolean;
}

function fail(problems: readonly string[]): never {
  throw new ConfigError(
    inSchemaOrder(
      problems,
      VARIABLE_NAMES.map((n) => SCHEMA[n].name),
    ),
  );
}

export function loadConfig(env: Env, options: LoadOptions = {}): LoadedConfig {
  const read = readVariables(env, SCHEMA);
  const { values: v, warnings } = read;
  // With ACCOUNTS_FILE each account brings its own number, secret and recipients (src/config/accounts.ts).
  const perAccount = [SCHEMA.LASTPASS_ACCOUNT_NUMBER.required, SCHEMA.REPORT_TO.required];
  const problems = v.ACCOUNTS_FILE ? read.problems.filter((p) => !perAccount.includes(p)) : read.problems;
  for (const rule of RULES) {
    const found = rule.check({ values: v, text: (name: VariableName) => textOf(env, SCHEMA[name].name), dryRun: options.dryRun ?? false });
    problems.push(...(found.problems ?? []));
    warnings.push(...(found.warnings ?? []));
  }
  if (problems.length > 0) fail(problems);
  return { config: assemble(v, collectSecrets(env)), warnings };
}

/** The `Config` from values that passed the schema and the rules (so every required one is there). */
function assemble(v: Values<Schema>, secrets: string[]): Config {
  const eu = v.SENDGRID_DATA_RESIDENCY === 'eu';
  return {
    lastpass: {
      // Empty only with ACCOUNTS_FILE, where every account sets its own (src/config/accounts.ts).
      accountNumber: v.LASTPASS_ACCOUNT_NUMBER ?? '',
      apiSecret: v.LASTPASS_API_KEY ?? v.LASTPASS_PROVISIONING_HASH ?? '',
      apiUrl: v.LASTPASS_API_URL!,
      timeZone: v.LASTPASS_TIMEZONE!,
      apiUser: v.LASTPASS_API_USER!,
      timeoutMs: v.LASTPASS_TIMEOUT_SECONDS! * 1000,
      knownApiCallers: v.LASTPASS_KNOWN_API_CALLERS ?? [],
    },
    sendgrid: { apiKey: v.SENDGRID_API_KEY, apiUrl: v.SENDGRID_API_URL ?? (eu ? DEFAULTS.SENDGRID_EU_API_URL : DEFAULTS.SENDGRID_API_URL) },
    report: {
      from: v.REPORT_FROM!,
      to: v.REPORT_TO ?? [],
      schedule: v.REPORT_SCHEDULE!,
      timeZone: v.REPORT_TIMEZONE!,
      maxCatchupDays: v.REPORT_MAX_CATCHUP_DAYS!,
      lateOverlapMinutes: v.REPORT_LATE_OVERLAP_MINUTES!,
      severityOverrides: v.REPORT_SEVERITY_OVERRIDES ?? [],
      ignoreUsers: v.REPORT_IGNORE_USERS ?? [],
      runDeadlineMinutes: v.RUN_DEADLINE_MINUTES!,
    },
    worker: {
      retryDelaysMs: v.REPORT_RETRY_MINUTES!,
      heartbeatUrl: v.HEARTBEAT_URL,
      port: v.PORT,
      replicas: v.WORKER_REPLICAS ? { concurrency: v.WORKER_CONCURRENCY!, takeoverSeconds: v.WORKER_TAKEOVER_SECONDS! } : null,
    },
    notify: {
      webhookUrl: v.NOTIFY_WEBHOOK_URL,
      webhookFormat: v.NOTIFY_WEBHOOK_FORMAT ?? (v.NOTIFY_WEBHOOK_URL ? inferWebhookFormat(v.NOTIFY_WEBHOOK_URL) : 'json'),
    },
    dataDir: v.DATA_DIR!,
    databaseUrl: v.DATABASE_URL,
    evidence: evidenceOf(v),
    logLevel: v.LOG_LEVEL!,
    accountsFile: v.ACCOUNTS_FILE,
    rollupTo: v.ROLLUP_TO,
    secrets,
  };
}

function evidenceOf(v: Pick<Values<Schema>, 'EVIDENCE_RAW' | 'EVIDENCE_RETENTION_DAYS' | 'EVIDENCE_SIGNING_KEY' | 'EVIDENCE_VERIFY_KEY'>) {
  return {
    raw: v.EVIDENCE_RAW ?? true,
    retentionDays: v.EVIDENCE_RETENTION_DAYS ?? 400,
    signingKey: v.EVIDENCE_SIGNING_KEY,
    verifyKey: v.EVIDENCE_VERIFY_KEY,
  };
}

/** Every secret value set in `env` (valid or not): what the redactor needs, also when the configuration is bad. */
export function collectSecrets(env: Env): string[] {
  return secretsIn(env, SCHEMA);
}

// ---- the settings of the commands that need no LastPass or SendGrid configuration ------------------

export interface StorageSettings {
  dataDir: string;
  databaseUrl: string | null;
  /** The account whose rows a PostgreSQL store reads and writes ('default' when absent); files are scoped by dataDir. */
  accountId?: string;
}

export interface StoreCommandSettings {
  storage: StorageSettings;
  logLevel: ConfigLogLevel;
  evidence: Config['evidence'];
  secrets: string[];
  /** ACCOUNTS_FILE as set, or null. */
  accountsFile: string | null;
}

const STORE_VARIABLES = {
  DATA_DIR: SCHEMA.DATA_DIR,
  DATABASE_URL: SCHEMA.DATABASE_URL,
  LOG_LEVEL: SCHEMA.LOG_LEVEL,
  EVIDENCE_RAW: SCHEMA.EVIDENCE_RAW,
  EVIDENCE_RETENTION_DAYS: SCHEMA.EVIDENCE_RETENTION_DAYS,
  EVIDENCE_SIGNING_KEY: SCHEMA.EVIDENCE_SIGNING_KEY,
  EVIDENCE_VERIFY_KEY: SCHEMA.EVIDENCE_VERIFY_KEY,
  ACCOUNTS_FILE: SCHEMA.ACCOUNTS_FILE,
};

/** migrate, verify, export: DATA_DIR, DATABASE_URL, LOG_LEVEL and EVIDENCE_*, every problem at once. */
export function loadStoreCommandSettings(env: Env): StoreCommandSettings {
  const { values: v, problems } = readVariables(env, STORE_VARIABLES);
  if (problems.length > 0) fail(problems);
  return {
    storage: { dataDir: v.DATA_DIR!, databaseUrl: v.DATABASE_URL },
    logLevel: v.LOG_LEVEL!,
    evidence: evidenceOf(v),
    secrets: secretsIn(env, STORE_VARIABLES),
    accountsFile: v.ACCOUNTS_FILE,
  };
}

/** demo: its DATA_DIR and LOG_LEVEL (default warn: the demo prints its own summary). */
export function loadDemoSettings(env: Env): { dataDir: string; logLevel: ConfigLogLevel } {
  const { values: v, problems } = readVariables(env, { DATA_DIR: SCHEMA.DATA_DIR, LOG_LEVEL: SCHEMA.LOG_LEVEL }, { LOG_LEVEL: 'warn' });
  if (problems.length > 0) fail(problems);
  return { dataDir: v.DATA_DIR!, logLevel: v.LOG_LEVEL! };
}

/** EVIDENCE_* alone, problems appended to `problems`. */
export function loadEvidenceSettings(env: Env, problems: string[]): Config['evidence'] {
  const read = readVariables(env, {
    EVIDENCE_RAW: SCHEMA.EVIDENCE_RAW,
    EVIDENCE_RETENTION_DAYS: SCHEMA.EVIDENCE_RETENTION_DAYS,
    EVIDENCE_SIGNING_KEY: SCHEMA.EVIDENCE_SIGNING_KEY,
    EVIDENCE_VERIFY_KEY: SCHEMA.EVIDENCE_VERIFY_KEY,
  });
  problems.push(...read.problems);
  return evidenceOf(read.values);
}

/** The secrets worth redacting from any text: the raw values and their URL-encoded forms. */
export function secretVariants(secrets: readonly string[]): string[] {
  return secrets.flatMap((s) => [s, encodeURIComponent(s)]);
}
