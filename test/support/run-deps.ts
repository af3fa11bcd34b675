/**
 * The real adapters wired for a `runReport` test: the LastPass client against a simulator, the SendGrid
 * mailer against nock at `sendgridUrl`, the outbox under `dataDir`, a recording logger, a fixed clock, and
 * no real waiting between retries.
 */
import { createLastPassClient } from '../../src/adapters/lastpass/lastpass-client.js';
import { createOutboxMailer } from '../../src/adapters/mail/outbox-mailer.js';
import { createRenderer } from '../../src/adapters/renderer.js';
import { createSendGridMailer } from '../../src/adapters/mail/sendgrid-mailer.js';
import type { Config } from '../../src/config/load-config.js';
import type { RunDeps } from '../../src/run-report.js';
import type { LastPassSimulator } from '../../src/simulator/lastpass-simulator.js';
import { recordingLogger } from './recording-logger.js';
import type { Store } from '../../src/ports.js';

export interface TestRunDepsOptions {
  sim: LastPassSimulator;
  store: Store;
  dataDir: string;
  apiSecret: string;
  sendgridKey: string;
  sendgridUrl: string;
  now: Date;
  report?: Partial<Config['report']>;
  renderer?: RunDeps['renderer'];
  /** A clock that moves (every adapter and the run read it, and `sleep` advances it); default: `now`, fixed. */
  clock?: { now: () => Date; sleep: (ms: number) => Promise<void> };
  /** The SendGrid client's timeout (default: the mailer's own). */
  sendTimeoutMs?: number;
}

export function createTestRunDeps(o: TestRunDepsOptions): RunDeps & { logger: ReturnType<typeof recordingLogger> } {
  const logger = recordingLogger();
  const config: Pick<Config, 'lastpass' | 'report'> = {
    lastpass: {
      accountNumber: '8771234',
      apiSecret: o.apiSecret,
      apiUrl: o.sim.url,
      timeZone: 'America/New_York',
      apiUser: 'lastpass-audit-digest',
      timeoutMs: 5_000,
    },
    report: {
      from: 'Digest <digest@example.org>',
      to: ['secops@example.org'],
      schedule: '0 7 * * *',
      timeZone: 'UTC',
      maxCatchupDays: 7,
      ...o.report,
    },
  };
  const sleep = o.clock?.sleep ?? (async () => {});
  const now = o.clock?.now ?? (() => o.now);
  const ms = () => now().getTime();
  return {
    config,
    store: o.store,
    lastpass: createLastPassClient({ ...config.lastpass, logger, sleep, now: ms }),
    mailer: createSendGridMailer({
      apiKey: o.sendgridKey,
      apiUrl: o.sendgridUrl,
      logger,
      sleep,
      now: ms,
      ...(o.sendTimeoutMs === undefined ? {} : { timeoutMs: o.sendTimeoutMs }),
    }),
    outbox: createOutboxMailer({ dataDir: o.dataDir, logger }),
    renderer: o.renderer ?? createRenderer(),
    logger,
    now,
    ...(o.clock ? { sleep } : {}),
    version: '0.0.0-test',
  };
}
