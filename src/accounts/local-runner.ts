/**
 * The AccountRunner of the single process (`run`, `worker`): each account's run is `runReport` with that
 * account's configuration, store (files under DATA_DIR/accounts/<id>, or its rows in PostgreSQL), evidence
 * chain, FAILED notice (to its recipients) and heartbeat (HEARTBEAT_URL with `{account}` substituted).
 * Accounts run one after the other, each isolated: whatever one throws is caught and becomes its failed
 * outcome, and the next account runs all the same.
 */
import { createHeartbeat, type Heartbeat } from '../adapters/notify/heartbeat.js';
import { createSecretRedactor, upstreamText } from '../adapters/http/redact.js';
import { type AccountConfig, DEFAULT_ACCOUNT_ID } from '../config/accounts.js';
import { describeError } from '../errors.js';
import type { Logger, LogFields } from '../logger.js';
import type { LastPassClient, Mailer, Store } from '../ports.js';
import type { RunDeps, RunOptions, RunOutcome } from '../run-report.js';
import { failRun } from '../run/failure-notice.js';
import { pingOutcome, runWithHeartbeat } from '../commands/heartbeat-run.js';
import type { CommandIo } from '../commands/io.js';
import { createCommandLogger, createRunDeps, openStore } from '../commands/wiring.js';
import type { AccountRef, AccountRunner } from './account-runner.js';
import { heartbeatUrlFor } from './load-accounts.js';

/** One account's run as the roll-up and /healthz see it. */
export interface AccountRunRecord {
  id: string;
  outcome: RunOutcome;
  /** Set when the run could not even start (its store or wiring failed before runReport). */
  error?: string;
  /** Why nothing was reported for it (the roll-up built from the stores, rollup-round.ts); else the lock's reason. */
  notReported?: string;
  finishedAt: string;
}

export interface LocalAccountRunner extends AccountRunner {
  /** Like `run`, with every option of runReport (from, to, dry run, force). */
  runWith(accountId: string, options: RunOptions): Promise<RunOutcome>;
  /** Every account, in order, each isolated from the others. */
  runAll(options: RunOptions): Promise<AccountRunRecord[]>;
  /** The last run of each account in this process (null before its first). */
  last(accountId: string): AccountRunRecord | null;
  /** Sets the account's store up now; throws what its init threw (the store is set up again on next use). */
  init(accountId: string): Promise<void>;
  /** The account's store (opened on first use; the worker's health endpoint reads it). */
  store(accountId: string): Promise<Store>;
  close(): Promise<void>;
}

interface Resources {
  store: Store;
  deps: RunDeps;
  heartbeat: Heartbeat | null;
  ready: Promise<unknown>;
}

/** Log lines of a named account carry `account`. */
function accountLogger(logger: Logger, id: string): Logger {
  if (id === DEFAULT_ACCOUNT_ID) return logger;
  const add = (fields?: LogFields) => ({ account: id, ...fields });
  return {
    debug: (m, f) => logger.debug(m, add(f)),
    info: (m, f) => logger.info(m, add(f)),
    warn: (m, f) => logger.warn(m, add(f)),
    error: (m, f) => logger.error(m, add(f)),
  };
}

/**
 * LastPass's errors name the environment's variables (LASTPASS_ACCOUNT_NUMBER, LASTPASS_API_KEY); for an
 * account of ACCOUNTS_FILE they name its own fields instead, so its FAILED notice says what to fix.
 */
function withAccountHints(client: LastPassClient, account: AccountConfig): LastPassClient {
  const { apiKeyEnv } = account;
  if (!apiKeyEnv) return client;
  const hint = (error: unknown): never => {
    if (error instanceof Error) {
      error.message = error.message.replace(/LASTPASS_ACCOUNT_NUMBER and LASTPASS_API_KEY\b|\bLASTPASS_API_KEY\b/g, (m) =>
        m.startsWith('LASTPASS_ACCOUNT_NUMBER') ? `accountNumber and ${apiKeyEnv} (account "${account.id}" of ACCOUNTS_FILE)` : apiKeyEnv,
      );
    }
    throw error;
  };
  return {
    endpoint: client.endpoint,
    fetchEvents: (range, sink, options) => client.fetchEvents(range, sink, options).catch(hint),
    probe: (range, sink, options) => client.probe(range, sink, options).catch(hint),
  };
}

/**
 * A run's dependencies as one account of ACCOUNTS_FILE uses them (run, worker, backfill): LastPass errors name
 * its own fields, and the subjects of its mail start with `[id]`. The default account's are unchanged.
 */
export function forAccount(deps: RunDeps, account: AccountConfig): RunDeps {
  return {
    ...deps,
    lastpass: withAccountHints(deps.lastpass, account),
    mailer: prefixed(deps.mailer, account.id),
    outbox: prefixed(deps.outbox, account.id),
  };
}

/** Subjects of a named account start with `[id]`, so a provider reading several accounts' mail tells them apart. */
function prefixed(mailer: Mailer, id: string): Mailer {
  if (id === DEFAULT_ACCOUNT_ID) return mailer;
  return { send: (message, options) => mailer.send({ ...message, subject: `[${id}] ${message.subject}` }, options) };
}

export function createLocalAccountRunner(options: {
  io: CommandIo;
  accounts: readonly AccountConfig[];
  dryRun?: boolean;
  /** Keep each account's store open between runs (the worker); `run` closes them after each account. */
  keepOpen?: boolean;
}): LocalAccountRunner {
  const { io, accounts } = options;
  const dryRun = options.dryRun ?? false;
  const open = new Map<string, Resources>();
  const records = new Map<string, AccountRunRecord>();

  const find = (id: string): AccountConfig => {
    const account = accounts.find((a) => a.id === id);
    if (!account) throw new Error(`No account "${id}" is configured (configured: ${accounts.map((a) => a.id).join(', ')})`);
    return account;
  };

  const resources = (account: AccountConfig): Resources => {
    const known = open.get(account.id);
    if (known) return known;
    const { config } = account;
    const logger = accountLogger(createCommandLogger(io, config.logLevel, config.secrets), account.id);
    const store = openStore(io, config, logger);
    const deps = createRunDeps(io, config, logger, store, dryRun);
    const made: Resources = {
      store,
      deps: forAccount(deps, account),
      heartbeat:
        config.worker.heartbeatUrl && !dryRun
          ? createHeartbeat({ url: heartbeatUrlFor(config.worker.heartbeatUrl, account.id), logger, secrets: config.secrets })
          : null,
      ready: store.init().then(
        () => null,
        (error: unknown) => error ?? new Error('store init failed'),
      ),
    };
    open.set(account.id, made);
    return made;
  };

  const release = async (id: string) => {
    const r = open.get(id);
    if (!r) return;
    open.delete(id);
    await r.deps.evidence?.close().catch((error: unknown) => r.deps.logger.error('evidence.close_failed', { error: describeError(error) }));
    await r.store.close().catch((error: unknown) => r.deps.logger.error('store.close_failed', { error: describeError(error) }));
  };

  const runWith = async (accountId: string, runOptions: RunOptions): Promise<RunOutcome> => {
    const account = find(accountId);
    let outcome: RunOutcome;
    let error: string | undefined;
    let r: Resources | null = null;
    let broken = false;
    try {
      r = resources(account);
      // A store that cannot even be set up is a failed run like any other: FAILED notice, /fail.
      const notReady = await r.ready;
      if (notReady === null) outcome = await runWithHeartbeat(r.deps, runOptions, r.heartbeat);
      else {
        broken = true; // set up again on the next run
        outcome = { status: 'failed', windows: [await failRun(r.deps, runOptions, notReady)], skipped: null };
        await pingOutcome(r.heartbeat, outcome);
      }
    } catch (thrown) {
      // Isolation: nothing one account does holds up the next.
      broken = true;
      // Redacted and capped like every failure text (it reaches stderr and the roll-up mail).
      error = upstreamText(describeError(thrown), createSecretRedactor(account.config.secrets));
      outcome = { status: 'failed', windows: [], skipped: null };
      if (!r) io.stderr.write(`lastpass-audit-digest: account ${account.id} could not be set up: ${error}\n`);
      else {
        r.deps.logger.error('account.run_crashed', { error });
        try {
          outcome = { status: 'failed', windows: [await failRun(r.deps, runOptions, thrown)], skipped: null };
          await pingOutcome(r.heartbeat, outcome);
        } catch {
          // the failed outcome stands; the FAILED notice path logs its own problems
        }
      }
    } finally {
      if (r && (broken || !options.keepOpen)) await release(account.id);
    }
    records.set(account.id, { id: account.id, outcome, ...(error ? { error } : {}), finishedAt: io.now().toISOString() });
    return outcome;
  };

  return {
    accounts: (): readonly AccountRef[] => accounts.map((a) => ({ id: a.id })),
    async run(accountId, runOptions) {
      if (runOptions.signal?.aborted) {
        find(accountId);
        return { status: 'locked', windows: [], skipped: null };
      }
      return runWith(accountId, runOptions.deadline === undefined ? {} : { deadline: runOptions.deadline });
    },
    runWith,
    async runAll(runOptions) {
      const out: AccountRunRecord[] = [];
      for (const account of accounts) {
        await runWith(account.id, runOptions);
        out.push(records.get(account.id)!);
      }
      return out;
    },
    last: (id) => records.get(id) ?? null,
    async init(accountId) {
      const failed = await resources(find(accountId)).ready;
      if (failed !== null) {
        await release(accountId);
        throw failed;
      }
    },
    async store(accountId) {
      const r = resources(find(accountId));
      await r.ready;
      return r.store;
    },
    async close() {
      for (const id of [...open.keys()]) await release(id);
    },
  };
}
