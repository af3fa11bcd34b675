/**
 * Reads ACCOUNTS_FILE (resolved against the command's working directory) and parses it
 * (src/config/accounts.ts); without it, the one account of the environment. Every problem at once, as a
 * ConfigError (exit 2). Each account's configuration carries every account's secret for the redactor.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { capabilityUrlParts } from '../adapters/http/redact.js';
import { type AccountConfig, DEFAULT_ACCOUNT_ID, defaultAccount, parseAccounts } from '../config/accounts.js';
import type { Config, Env } from '../config/load-config.js';
import { ConfigError } from '../errors.js';

export function loadAccounts(config: Config, env: Env, cwd: string, options: { secrets?: boolean } = {}): AccountConfig[] {
  if (!config.accountsFile) return [defaultAccount(config)];
  const path = resolve(cwd, config.accountsFile);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError([
      `ACCOUNTS_FILE ${config.accountsFile} cannot be read (${code}): check the path (relative to ${cwd}), or unset ACCOUNTS_FILE for the one account of LASTPASS_*.`,
    ]);
  }
  const parsed = parseAccounts(text, env, config, { file: config.accountsFile, secrets: options.secrets ?? true });
  if (parsed.problems.length) throw new ConfigError(parsed.problems);
  const heartbeatSecrets = config.worker.heartbeatUrl
    ? parsed.accounts.flatMap((a) => capabilityUrlParts(heartbeatUrlFor(config.worker.heartbeatUrl!, a.id)))
    : [];
  const secrets = [...new Set([...config.secrets, ...parsed.secrets, ...heartbeatSecrets])];
  return parsed.accounts.map((a) => ({ ...a, config: { ...a.config, secrets } }));
}

/** HEARTBEAT_URL with `{account}` replaced by the account's id (URL-encoded; ids are slugs anyway). */
export function heartbeatUrlFor(template: string, accountId: string): string {
  return template.replaceAll('{account}', encodeURIComponent(accountId)).replaceAll('%7Baccount%7D', encodeURIComponent(accountId));
}

/** The account `--account ID` names, or, without it, the only one; throws a ConfigError naming the choices. */
export function pickAccount(accounts: readonly AccountConfig[], id: string | undefined, command: string): AccountConfig {
  if (id !== undefined) {
    const found = accounts.find((a) => a.id === id);
    if (found) return found;
    throw new ConfigError([`--account ${id}: no such account; configured: ${accounts.map((a) => a.id).join(', ')}.`]);
  }
  if (accounts.length === 1) return accounts[0]!;
  throw new ConfigError([
    `${command} works on one account and ${accounts.length} are configured (ACCOUNTS_FILE): pick one with --account ID (${accounts.map((a) => a.id).join(', ')}).`,
  ]);
}

export { DEFAULT_ACCOUNT_ID };
