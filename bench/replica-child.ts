/**
 * One replica of the replica bench (`bench.js replica <spec>`, spawned by bench/replicas.ts): the real
 * replica worker (src/replica-worker.ts) on the pg-boss adapter, running per job the real `runReport`
 * (LastPass client, analysis, renderer, the SendGrid mailer with @sendgrid/mail) on that account's
 * PostgreSQL store (scoped by account id, as ACCOUNTS_FILE accounts are); no evidence archive. The run
 * clock is fixed at the window end, so every account has the same due window. The accounts are the bench's
 * own `AccountRunner` over N ids. Prints READY once it works, and its peak RSS (VmHWM) on SIGTERM.
 */
import os from 'node:os';
import type { AccountRunner } from '../src/accounts/account-runner.js';
import { createLastPassClient } from '../src/adapters/lastpass/lastpass-client.js';
import { createSendGridMailer } from '../src/adapters/mail/sendgrid-mailer.js';
import { createPgBossQueue } from '../src/adapters/queue/pg-boss-queue.js';
import { createRenderer } from '../src/adapters/renderer.js';
import { DEFAULTS } from '../src/config/load-config.js';
import { createLogger } from '../src/logger.js';
import { createReplicaWorker, type ReplicaJob } from '../src/replica-worker.js';
import { runReport } from '../src/run-report.js';
import { createPostgresStore } from '../src/store/postgres-store.js';
import { VERSION } from '../src/version.js';
import {
  ACCOUNT,
  accountId,
  MARK,
  peakRssKiB,
  READY,
  type ReplicaSpec,
  SECRET,
  SG_KEY,
  TAKEOVER_SECONDS,
  WINDOW_END,
} from './replica-common.js';

export async function replicaChild(specJson: string): Promise<number> {
  const spec = JSON.parse(specJson) as ReplicaSpec;
  const logger = createLogger({
    level: process.env.BENCH_REPLICA_LOG === 'info' ? 'info' : 'warn',
    write: (line) => process.stderr.write(`${line}\n`),
  });
  const now = () => new Date(WINDOW_END);
  const lastpassConfig = {
    accountNumber: ACCOUNT,
    apiSecret: SECRET,
    apiUrl: spec.lastpassUrl,
    timeZone: DEFAULTS.LASTPASS_TIMEZONE,
    apiUser: DEFAULTS.LASTPASS_API_USER,
    timeoutMs: 60_000,
  };
  // The adapters judge the run's deadline on the run's (fixed) clock too.
  const lastpass = createLastPassClient({ ...lastpassConfig, logger, now: () => WINDOW_END });
  const mailer = createSendGridMailer({ apiKey: SG_KEY, apiUrl: spec.sendgridUrl, logger, now: () => WINDOW_END });
  const renderer = createRenderer();
  let runs = 0;
  const ids = Array.from({ length: spec.accounts }, (_, i) => ({ id: accountId(i) }));
  const runner: AccountRunner = {
    accounts: () => ids,
    async run(id, options) {
      const store = createPostgresStore({ connectionString: spec.databaseUrl, accountId: id, maxConnections: 2, now });
      try {
        await store.init();
        runs++;
        return await runReport(
          {
            config: {
              lastpass: lastpassConfig,
              report: {
                from: 'LastPass digest <digest@example.org>',
                to: [`secops+${id}@example.org`],
                schedule: DEFAULTS.REPORT_SCHEDULE,
                timeZone: DEFAULTS.REPORT_TIMEZONE,
                maxCatchupDays: 7,
              },
            },
            store,
            lastpass,
            mailer,
            outbox: mailer,
            renderer,
            logger,
            now,
            version: VERSION,
            owner: `${os.hostname()}:${process.pid}`,
          },
          options.deadline !== undefined ? { deadline: options.deadline } : {},
        );
      } finally {
        await store.close();
      }
    },
  };
  const worker = createReplicaWorker({
    schedule: '0 0 1 1 *',
    timeZone: 'UTC',
    queue: createPgBossQueue<ReplicaJob>({
      connectionString: spec.databaseUrl,
      logger,
      takeoverSeconds: TAKEOVER_SECONDS,
      expireInSeconds: 3600,
      maxConnections: spec.concurrency + 2,
    }),
    runner,
    concurrency: spec.concurrency,
    logger,
    now: () => new Date(),
  });
  await worker.start();
  process.stdout.write(`${READY}\n`);
  await new Promise<void>((resolvePromise) => process.once('SIGTERM', () => resolvePromise()));
  await worker.stop(10_000);
  process.stdout.write(`${MARK}${JSON.stringify({ peakRssKiB: peakRssKiB(), runs })}\n`);
  return 0;
}
