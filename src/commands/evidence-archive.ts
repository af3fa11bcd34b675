/**
 * The evidence archive for `verify` and `export`, which need only the storage and EVIDENCE_* settings, and
 * the store's delivered windows that the archive is cross-checked against.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { accountDataDir, DEFAULT_ACCOUNT_ID, parseAccountIds } from '../config/accounts.js';
import { loadStoreCommandSettings, type StoreCommandSettings } from '../config/load-config.js';
import { ConfigError } from '../errors.js';
import { createEvidence } from '../evidence/create-evidence-archive.js';
import { describeError } from '../errors.js';
import type { DeliveredRecord, EvidenceArchive, VerifyReport } from '../ports.js';
import { VERSION } from '../version.js';
import type { CommandIo } from './io.js';
import { createCommandLogger, openStore, resolveStorage } from './wiring.js';

/**
 * The settings with the storage of one account: `--account ID`, or the only one configured. With several
 * accounts (ACCOUNTS_FILE) and no --account, a ConfigError names the choices.
 */
export function accountStoreSettings(io: CommandIo, command: string, accountId: string | undefined): StoreCommandSettings {
  const settings = loadStoreCommandSettings(io.env);
  let ids = [DEFAULT_ACCOUNT_ID];
  if (settings.accountsFile) {
    let text: string;
    try {
      text = readFileSync(resolve(io.cwd, settings.accountsFile), 'utf8');
    } catch (error) {
      throw new ConfigError([
        `ACCOUNTS_FILE ${settings.accountsFile} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}): check the path.`,
      ]);
    }
    const parsed = parseAccountIds(text, settings.accountsFile);
    if (parsed.problems.length) throw new ConfigError(parsed.problems);
    ids = parsed.ids;
  }
  let id: string;
  if (accountId !== undefined) {
    if (!ids.includes(accountId)) throw new ConfigError([`--account ${accountId}: no such account; configured: ${ids.join(', ')}.`]);
    id = accountId;
  } else if (ids.length === 1) id = ids[0]!;
  else {
    throw new ConfigError([
      `${command} works on one account's evidence and ${ids.length} are configured (ACCOUNTS_FILE): pick one with --account ID (${ids.join(', ')}).`,
    ]);
  }
  return { ...settings, storage: { ...settings.storage, dataDir: accountDataDir(settings.storage.dataDir, id), accountId: id } };
}

export async function openEvidenceArchive(
  io: CommandIo,
  scope: { command: string; account: string | undefined } = { command: 'this command', account: undefined },
): Promise<{ archive: EvidenceArchive; settings: StoreCommandSettings }> {
  const settings = accountStoreSettings(io, scope.command, scope.account);
  const { dataDir, databaseUrl, accountId } = resolveStorage(io, settings.storage);
  if (databaseUrl) {
    // The evidence tables come with the store's migrations.
    const store = openStore(io, settings.storage, createCommandLogger(io, 'error', settings.secrets));
    try {
      await store.init();
    } finally {
      await store.close();
    }
  }
  return {
    archive: createEvidence({
      dataDir,
      databaseUrl,
      ...(accountId ? { accountId } : {}),
      version: VERSION,
      settings: settings.evidence,
      now: io.now,
    }),
    settings,
  };
}

/** The delivered windows the store records (read only: the file store is not set up by this). */
export async function readDeliveredRecords(
  io: CommandIo,
  settings: StoreCommandSettings,
): Promise<{ delivered: DeliveredRecord[]; error?: undefined } | { delivered?: undefined; error: string }> {
  const store = openStore(io, settings.storage, createCommandLogger(io, 'error', settings.secrets));
  try {
    return { delivered: (await store.readState()).delivered };
  } catch (error) {
    return { error: describeError(error) };
  } finally {
    await store.close().catch(() => undefined);
  }
}

/** A report whose store could not be read fails: its delivered windows were not cross-checked. */
export function withStoreError(report: VerifyReport, error: string | undefined): VerifyReport {
  if (error === undefined) return report;
  return {
    ...report,
    ok: false,
    problems: [
      ...report.problems,
      {
        kind: 'delivery',
        where: 'store',
        message: `the store could not be read, so its delivered windows were not cross-checked against the archive: ${error}`,
      },
    ],
  };
}
