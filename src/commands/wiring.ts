/**
 * The real adapters, wired in one place for the commands: logger, store, LastPass client, mailers,
 * renderer, evidence archive, all from a `Config` (or the store-only settings) and the command's io.
 */
import { resolve } from 'node:path';
import { createLastPassClient } from '../adapters/lastpass/lastpass-client.js';
import { createOutboxMailer } from '../adapters/mail/outbox-mailer.js';
import { createSendGridMailer } from '../adapters/mail/sendgrid-mailer.js';
import { createWebhookNotifier } from '../adapters/notify/webhook-notifier.js';
import { createRenderer } from '../adapters/renderer.js';
import type { RetryPolicy } from '../adapters/http/retry.js';
import { secretVariants, type Config, type Env, type StorageSettings } from '../config/load-config.js';
import { createEvidence } from '../evidence/create-evidence-archive.js';
import { createLogger, createRedactor, type Logger, type LogLevel } from '../logger.js';
import type { LastPassClient, Mailer, Notifier, Store } from '../ports.js';
import type { RunDeps } from '../run-report.js';
import { createStore } from '../store/create-store.js';
import { VERSION } from '../version.js';
import type { CommandIo, Writer } from './io.js';

/** `text` and a newline to `writer`. */
export function printer(writer: Writer): (text: string) => void {
  return (text) => writer.write(`${text}\n`);
}

/** JSON lines on `writer` (stderr unless a progress bar owns it), every secret redacted. */
export function createCommandLogger(io: CommandIo, level: LogLevel, secrets: readonly string[], writer: Writer = io.stderr): Logger {
  return createLogger({
    level,
    redact: createRedactor(secretVariants(secrets)),
    write: (line) => writer.write(`${line}\n`),
    now: io.now,
  });
}

/** DATA_DIR (and DATABASE_URL) with DATA_DIR resolved against the command's working directory. */
export function resolveStorage(io: CommandIo, storage: StorageSettings): StorageSettings {
  return {
    dataDir: resolve(io.cwd, storage.dataDir),
    databaseUrl: storage.databaseUrl,
    ...(storage.accountId ? { accountId: storage.accountId } : {}),
  };
}

export function openStore(io: CommandIo, storage: StorageSettings, logger: Logger): Store {
  const { dataDir, databaseUrl, accountId } = resolveStorage(io, storage);
  return createStore({
    dataDir,
    databaseUrl,
    ...(accountId ? { accountId } : {}),
    logger,
    checkpoint: io.checkpoint,
    processInfo: io.processInfo,
    now: io.now,
  });
}

export function createLastPass(io: CommandIo, config: Config, logger: Logger, retryPolicy?: RetryPolicy): LastPassClient {
  return createLastPassClient({
    ...config.lastpass,
    secrets: config.secrets,
    logger,
    now: () => io.now().getTime(),
    ...(retryPolicy ? { retryPolicy } : {}),
  });
}

/** The orchestrator's dependencies for `run`, `backfill` and `worker`. Dry runs go to the outbox and leave no evidence. */
export function createRunDeps(io: CommandIo, config: Config, logger: Logger, store: Store, dryRun: boolean): RunDeps {
  const { dataDir, databaseUrl, accountId } = resolveStorage(io, config);
  const outbox = createOutboxMailer({ dataDir, logger });
  const mailer: Mailer =
    config.sendgrid.apiKey && !dryRun
      ? createSendGridMailer({
          apiKey: config.sendgrid.apiKey,
          apiUrl: config.sendgrid.apiUrl,
          secrets: config.secrets,
          logger,
          now: () => io.now().getTime(),
        })
      : outbox;
  const webhookUrl = config.notify?.webhookUrl ?? null;
  // Dry runs never notify: the alarm webhook is for real runs only.
  const notifier: Notifier | null =
    webhookUrl && !dryRun
      ? createWebhookNotifier({
          url: webhookUrl,
          format: config.notify?.webhookFormat ?? 'json',
          logger,
          secrets: config.secrets,
          now: () => io.now().getTime(),
        })
      : null;
  return {
    config,
    store,
    lastpass: createLastPass(io, config, logger),
    mailer,
    outbox,
    renderer: createRenderer(),
    ...(notifier ? { notifier } : {}),
    logger,
    now: io.now,
    version: VERSION,
    owner: `${io.processInfo.hostname}:${io.processInfo.pid}`,
    ...(io.checkpoint ? { checkpoint: io.checkpoint } : {}),
    // Dry runs are not deliveries: they leave no evidence bundle.
    ...(dryRun
      ? {}
      : {
          evidence: createEvidence({
            dataDir,
            databaseUrl,
            ...(accountId ? { accountId } : {}),
            version: VERSION,
            settings: config.evidence,
            now: io.now,
          }),
        }),
  };
}

/** Deployments whose disk does not survive a republish, where state must live in DATABASE_URL. */
export function ephemeralDiskWarning(env: Env, storage: StorageSettings): string | null {
  if (storage.databaseUrl || env.REPLIT_DEPLOYMENT !== '1') return null;
  return `DATA_DIR (${storage.dataDir}) is on the deployment's own disk, which Replit replaces at every republish or restart onto a new container: the worker would forget what it delivered (and re-send or skip windows). Add a PostgreSQL database (Tools > Database) so that DATABASE_URL is set.`;
}
