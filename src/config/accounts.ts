/**
 * ACCOUNTS_FILE: many LastPass accounts as data. The file is a JSON array; each entry names an account (a
 * slug `id`), its number, the *name* of the environment variable that holds its API secret (secrets stay in
 * the environment, never in the file), its zones, its recipients and the per-account noise control (the
 * same syntax as LASTPASS_KNOWN_API_CALLERS, REPORT_SEVERITY_OVERRIDES and REPORT_IGNORE_USERS). Every
 * problem comes out at once, each naming the account (`accounts[2] "acme"`) and the field. Pure: the file's
 * text and the environment come in as values (src/accounts/load-accounts.ts reads the file).
 */
import { join } from 'node:path';
import { isValidTimeZone } from '../core/wall-time.js';
import { parseIgnoreUsers } from '../core/ignore-users.js';
import { parseKnownApiCallers } from '../core/known-callers.js';
import { parseSeverityOverrides } from '../core/severity-overrides.js';
import { parseRecipients } from './addresses.js';
import type { Config } from './load-config.js';
import type { Env } from './variable.js';

/** The id of the single account configured by the environment (and the one that keeps today's paths). */
export const DEFAULT_ACCOUNT_ID = 'default';

/** A slug: lower-case letters, digits and single dashes, 1 to 40 characters, starting with a letter or digit. */
export const ACCOUNT_ID_PATTERN = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,39}$/;

/** One configured account with the whole configuration its runs use. */
export interface AccountConfig {
  id: string;
  config: Config;
  /** The variable holding its API secret (accounts of ACCOUNTS_FILE); absent for the environment's account. */
  apiKeyEnv?: string;
}

const FIELDS = [
  'id',
  'accountNumber',
  'apiKeyEnv',
  'lastpassTimeZone',
  'recipients',
  'reportTimeZone',
  'knownApiCallers',
  'severityOverrides',
  'ignoreUsers',
] as const;

/** Where an account's files live: DATA_DIR itself for `default` (existing deployments unchanged), else DATA_DIR/accounts/<id>. */
export function accountDataDir(dataDir: string, id: string): string {
  return id === DEFAULT_ACCOUNT_ID ? dataDir : join(dataDir, 'accounts', id);
}

/** The single account of the environment. */
export function defaultAccount(config: Config): AccountConfig {
  return { id: DEFAULT_ACCOUNT_ID, config: { ...config, accountId: DEFAULT_ACCOUNT_ID } };
}

export interface ParsedAccounts {
  accounts: AccountConfig[];
  problems: string[];
  /** Every account's API secret (for the redactor), also when some account has problems. */
  secrets: string[];
}

/**
 * The accounts of the file's `text`, each with its configuration derived from `base` (the environment's).
 * `file` names the file in the problems. `secrets: false` (verify, export, history, show): only the ids and
 * the shape are checked, the API secrets need not be set.
 */
export function parseAccounts(text: string, env: Env, base: Config, options: { file: string; secrets?: boolean }): ParsedAccounts {
  const problems: string[] = [];
  const secrets: string[] = [];
  const accounts: AccountConfig[] = [];
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    const why = jsonErrorWhere(text, error);
    return { accounts, secrets, problems: [`ACCOUNTS_FILE ${options.file} is not valid JSON (${why}): see docs/accounts.example.json.`] };
  }
  if (!Array.isArray(data) || data.length === 0) {
    return {
      accounts,
      secrets,
      problems: [`ACCOUNTS_FILE ${options.file} must hold a non-empty JSON array of accounts: see docs/accounts.example.json.`],
    };
  }
  const seen = new Map<string, number>();
  data.forEach((entry: unknown, index) => {
    const parsed = parseEntry(entry, index, env, base, options.secrets ?? true, seen);
    problems.push(...parsed.problems);
    secrets.push(...parsed.secrets);
    if (parsed.account) accounts.push(parsed.account);
  });
  return { accounts: problems.length ? [] : accounts, problems, secrets };
}

function parseEntry(
  entry: unknown,
  index: number,
  env: Env,
  base: Config,
  needSecrets: boolean,
  seen: Map<string, number>,
): { account: AccountConfig | null; problems: string[]; secrets: string[] } {
  const problems: string[] = [];
  const secrets: string[] = [];
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    return { account: null, secrets, problems: [`accounts[${index}] must be an object with id, accountNumber, apiKeyEnv and recipients.`] };
  }
  const e = entry as Record<string, unknown>;
  const rawId = typeof e.id === 'string' ? e.id : null;
  const label = rawId === null ? `accounts[${index}]` : `accounts[${index}] ${JSON.stringify(rawId)}`;
  const say = (field: string, text: string) => problems.push(`${label} ${field}: ${text}`);

  for (const key of Object.keys(e)) {
    if ((FIELDS as readonly string[]).includes(key)) continue;
    if (/key|secret|hash|password/i.test(key)) {
      say(key, 'secrets never go in the accounts file: put the secret in an environment variable and name it in apiKeyEnv.');
    } else {
      say(key, `is not a known field (known: ${FIELDS.join(', ')}).`);
    }
  }
  if (rawId === null) say('id', 'is required: a slug such as "acme" (lower-case letters, digits and dashes).');
  else if (!ACCOUNT_ID_PATTERN.test(rawId)) {
    say('id', 'must be a slug: lower-case letters, digits and single dashes, at most 40 characters, e.g. "acme-eu".');
  } else {
    const first = seen.get(rawId);
    if (first !== undefined)
      say('id', `is used by accounts[${first}] too: every account needs its own id (it names its state and evidence).`);
    else seen.set(rawId, index);
  }

  const number = typeof e.accountNumber === 'number' && Number.isSafeInteger(e.accountNumber) ? String(e.accountNumber) : e.accountNumber;
  if (number === undefined) say('accountNumber', 'is required: the account number (cid) from the Admin Console.');
  else if (typeof number !== 'string' || !/^\d+$/.test(number))
    say('accountNumber', 'must be the numeric account number (cid), digits only.');

  let apiSecret = '';
  if (e.apiKeyEnv === undefined) {
    say('apiKeyEnv', 'is required: the name of the environment variable holding this account\'s API secret, e.g. "LASTPASS_API_KEY_ACME".');
  } else if (typeof e.apiKeyEnv !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.apiKeyEnv)) {
    say('apiKeyEnv', 'must be the name of an environment variable (letters, digits, underscores), not the secret itself.');
  } else if (needSecrets) {
    const value = env[e.apiKeyEnv]?.trim();
    // A name that does not look like an environment variable may be the secret pasted in: never echoed.
    const named = /^[A-Z_][A-Z0-9_]{0,63}$/.test(e.apiKeyEnv) ? e.apiKeyEnv : 'a variable';
    if (!value)
      say(
        'apiKeyEnv',
        `names ${named}, which is not set: set it (in Replit Secrets or the environment) to this account's API secret${named === e.apiKeyEnv ? '' : ' (if the value is the secret itself, move it to an environment variable and name that here)'}.`,
      );
    else {
      secrets.push(value);
      if (/\s/.test(value)) say('apiKeyEnv', `${e.apiKeyEnv} contains whitespace: paste the secret exactly as the Admin Console shows it.`);
      else apiSecret = value;
    }
  }

  const zone = (field: 'lastpassTimeZone' | 'reportTimeZone', fallback: string): string => {
    const z = e[field];
    if (z === undefined) return fallback;
    if (typeof z !== 'string' || !isValidTimeZone(z)) {
      say(field, `${JSON.stringify(z)} is not an IANA time zone: use a name such as America/New_York or Europe/Berlin.`);
      return fallback;
    }
    return z;
  };
  const lastpassTimeZone = zone('lastpassTimeZone', base.lastpass.timeZone);
  const reportTimeZone = zone('reportTimeZone', base.report.timeZone);

  let to: string[] = [];
  const recipients = listText(e.recipients);
  if (recipients === undefined)
    say('recipients', 'is required: the addresses of this account\'s security contact, e.g. ["secops@acme.example"].');
  else if (recipients === null) say('recipients', 'must be a string of comma-separated addresses or an array of addresses.');
  else {
    const parsed = parseRecipients(recipients, 'recipients');
    for (const p of parsed.problems) say('recipients', p.replace(/^recipients /, ''));
    to = parsed.value ?? [];
  }

  const noise = <T>(field: string, variable: string, parse: (t: string) => { value: T[]; problems: string[] }, fallback: T[]): T[] => {
    const t = listText(e[field]);
    if (t === undefined) return fallback;
    if (t === null) {
      say(field, `must be a string (the syntax of ${variable}) or an array of entries.`);
      return fallback;
    }
    const parsed = parse(t);
    for (const p of parsed.problems) say(field, p.replaceAll(variable, field));
    return parsed.value;
  };
  const knownApiCallers = noise('knownApiCallers', 'LASTPASS_KNOWN_API_CALLERS', parseKnownApiCallers, base.lastpass.knownApiCallers ?? []);
  const severityOverrides = noise(
    'severityOverrides',
    'REPORT_SEVERITY_OVERRIDES',
    (t) => parseSeverityOverrides(t),
    base.report.severityOverrides ?? [],
  );
  const ignoreUsers = noise('ignoreUsers', 'REPORT_IGNORE_USERS', parseIgnoreUsers, base.report.ignoreUsers ?? []);

  if (problems.length || rawId === null) return { account: null, problems, secrets };
  const config: Config = {
    ...base,
    accountId: rawId,
    lastpass: { ...base.lastpass, accountNumber: number as string, apiSecret, timeZone: lastpassTimeZone, knownApiCallers },
    report: { ...base.report, to, timeZone: reportTimeZone, severityOverrides, ignoreUsers },
    dataDir: accountDataDir(base.dataDir, rawId),
  };
  return { account: { id: rawId, config, apiKeyEnv: e.apiKeyEnv as string }, problems, secrets };
}

/** A list field as the comma-separated text its parser reads: undefined when absent, null when of the wrong type. */
function listText(value: unknown): string | undefined | null {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join(',');
  return null;
}

/**
 * Only the ids of the accounts file, for the commands that read state and evidence (verify, export,
 * history, show): no secret needs to be set for them. Problems as parseAccounts reports them.
 */
export function parseAccountIds(text: string, file: string): { ids: string[]; problems: string[] } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    const why = jsonErrorWhere(text, error);
    return { ids: [], problems: [`ACCOUNTS_FILE ${file} is not valid JSON (${why}): see docs/accounts.example.json.`] };
  }
  if (!Array.isArray(data) || data.length === 0) {
    return { ids: [], problems: [`ACCOUNTS_FILE ${file} must hold a non-empty JSON array of accounts: see docs/accounts.example.json.`] };
  }
  const ids: string[] = [];
  const problems: string[] = [];
  data.forEach((entry: unknown, index) => {
    const id = typeof entry === 'object' && entry !== null ? (entry as { id?: unknown }).id : undefined;
    if (typeof id !== 'string' || !ACCOUNT_ID_PATTERN.test(id)) problems.push(`accounts[${index}] id: must be a slug such as "acme".`);
    else if (ids.includes(id)) problems.push(`accounts[${index}] ${JSON.stringify(id)} id: is used by accounts[${ids.indexOf(id)}] too.`);
    else ids.push(id);
  });
  return { ids, problems };
}

/**
 * Where a JSON.parse error is, as line and column: V8's own message quotes a few characters of the text,
 * and the file may hold a secret (a pasted key, or a .env named by mistake), so none of it is repeated.
 */
function jsonErrorWhere(text: string, error: unknown): string {
  const at = /position (\d+)/.exec(error instanceof Error ? error.message : '');
  if (!at) return 'check its quotes, commas and brackets; a JSON validator names the line';
  const before = text.slice(0, Number(at[1]));
  const line = before.split('\n').length;
  return `unexpected text at line ${line}, column ${before.length - before.lastIndexOf('\n')}`;
}
