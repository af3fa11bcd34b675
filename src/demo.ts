/**
 * `demo`: the whole pipeline offline. An embedded LastPass simulator on loopback serves a realistic day
 * (tens of thousands of benign events and a handful of planted incidents, over several pages); the real
 * client, analysis, renderer and store run against it; the digest is delivered to the outbox.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createLastPassClient } from './adapters/lastpass-client.js';
import { createOutboxMailer } from './adapters/outbox-mailer.js';
import type { Config } from './config/load-config.js';
import { DEFAULTS } from './config/load-config.js';
import type { Logger } from './logger.js';
import { runReport, type Renderer, type RunOutcome } from './run-report.js';
import { generateDemoDay, type PlantedIncident } from './simulator/demo-day.js';
import { createLastPassSimulator } from './simulator/lastpass-simulator.js';
import { createFileStore } from './store/file-store.js';

export const DEMO_ACCOUNT = '8771234';
/** Not a real secret: the simulator only accepts this value. */
export const DEMO_SECRET = 'demo-provisioning-hash-0000';

export interface DemoResult {
  outcome: RunOutcome;
  digestPath: string | null;
  folder: string;
  requests: number;
  eventsServed: number;
  planted: PlantedIncident[];
}

export async function runDemo(deps: {
  dataDir: string;
  logger: Logger;
  now: () => Date;
  renderer: Renderer;
  version: string;
  benignCount?: number;
  reportTimeZone?: string;
}): Promise<DemoResult> {
  const folder = join(deps.dataDir, 'demo');
  await rm(folder, { recursive: true, force: true });
  await mkdir(folder, { recursive: true });
  const lastpassTimeZone = DEFAULTS.LASTPASS_TIMEZONE;
  const end = deps.now();
  const day = generateDemoDay({ end, hours: 24, timeZone: lastpassTimeZone, benignCount: deps.benignCount ?? 30_000 });
  const simulator = await createLastPassSimulator({
    accountNumber: DEMO_ACCOUNT,
    apiSecret: DEMO_SECRET,
    events: day.events,
    timeZone: lastpassTimeZone,
  });
  const store = createFileStore({ dir: folder });
  try {
    await store.init();
    const config: Pick<Config, 'lastpass' | 'report'> = {
      lastpass: {
        accountNumber: DEMO_ACCOUNT,
        apiSecret: DEMO_SECRET,
        apiUrl: simulator.url,
        timeZone: lastpassTimeZone,
        apiUser: DEFAULTS.LASTPASS_API_USER,
        timeoutMs: 30_000,
      },
      report: {
        from: 'LastPass digest <digest@example.org>',
        to: ['secops@example.org'],
        schedule: DEFAULTS.REPORT_SCHEDULE,
        timeZone: deps.reportTimeZone ?? DEFAULTS.REPORT_TIMEZONE,
        maxCatchupDays: 7,
      },
    };
    const outbox = createOutboxMailer({ dataDir: folder, logger: deps.logger });
    const outcome = await runReport(
      {
        config,
        store,
        lastpass: createLastPassClient({ ...config.lastpass, logger: deps.logger }),
        mailer: outbox,
        outbox,
        renderer: deps.renderer,
        logger: deps.logger,
        now: deps.now,
        version: deps.version,
        owner: 'demo',
      },
      {},
    );
    const digest = outcome.windows.find((w) => w.status === 'delivered');
    return {
      outcome,
      digestPath: digest?.destination ?? null,
      folder,
      requests: simulator.requests.length,
      eventsServed: day.events.length,
      planted: day.planted,
    };
  } finally {
    await store.close();
    await simulator.close();
  }
}
