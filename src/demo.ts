/**
 * `demo`: the whole pipeline offline. An embedded LastPass simulator on loopback serves a realistic day
 * (tens of thousands of benign events and a handful of planted incidents, over several pages); the real
 * client, analysis, renderer and store run against it; the digest is delivered to the outbox.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createLastPassClient } from './adapters/lastpass/lastpass-client.js';
import { createOutboxMailer } from './adapters/mail/outbox-mailer.js';
import type { Config } from './config/load-config.js';
import { DEFAULTS } from './config/load-config.js';
import type { Logger } from './logger.js';
import { createAnalysis } from './core/analysis.js';
import { windowLabel } from './core/digest-model.js';
import type { RawEvent } from './core/types.js';
import { createWallResolver } from './core/wall-time.js';
import { windowKey } from './core/window-plan.js';
import { runReport, summarise, type RunOutcome } from './run-report.js';
import { DEMO_IGNORE_USERS, DEMO_KNOWN_API_CALLERS, generateDemoDay, type PlantedIncident } from './simulator/demo-day.js';
import { parseIgnoreUsers } from './core/ignore-users.js';
import { parseKnownApiCallers } from './core/known-callers.js';
import { createLastPassSimulator } from './simulator/lastpass-simulator.js';
import { createStore } from './store/create-store.js';
import { CATALOGUE_VERSION } from './core/catalogue.js';
import { createEvidenceArchive } from './evidence/evidence-archive.js';
import { createFileEvidenceBackend } from './evidence/file-evidence-backend.js';
import type { Clock, ProcessInfo, Renderer, Store } from './ports.js';

export const DEMO_ACCOUNT = '8771234';

/** The demo's noise control: its SIEM connector is a known API caller, its service account is not reviewed. */
const DEMO_NOISE = {
  knownApiCallers: parseKnownApiCallers(DEMO_KNOWN_API_CALLERS).value,
  ignoreUsers: parseIgnoreUsers(DEMO_IGNORE_USERS).value,
};
/** Not a real secret: the simulator only accepts this value. */
export const DEMO_SECRET = 'demo-provisioning-hash-0000';

export interface DemoResult {
  outcome: RunOutcome;
  digestPath: string | null;
  folder: string;
  requests: number;
  eventsServed: number;
  planted: PlantedIncident[];
  /** The evidence bundle of the demo run (verify with DATA_DIR=<folder>). */
  evidencePath: string | null;
}

export interface DemoDeps {
  /** The demo works in `<dataDir>/demo`, which it empties first. */
  dataDir: string;
  logger: Logger;
  now: Clock;
  renderer: Renderer;
  version: string;
  /**
   * The process the demo's store names as its lock owner (main.ts hands in the real one). Absent: a
   * stand-in that never takes a lock over; the demo's folder is its own and emptied at every start.
   */
  processInfo?: ProcessInfo;
  benignCount?: number;
  reportTimeZone?: string;
}

/** Stands in for the process when a library caller (a test) gives none; see DemoDeps.processInfo. */
const DEMO_PROCESS: ProcessInfo = { pid: 0, hostname: 'lastpass-audit-digest-demo', isProcessAlive: () => true };

export async function runDemo(deps: DemoDeps): Promise<DemoResult> {
  const folder = join(deps.dataDir, 'demo');
  await rm(folder, { recursive: true, force: true });
  await mkdir(folder, { recursive: true });
  const lastpassTimeZone = DEFAULTS.LASTPASS_TIMEZONE;
  const end = deps.now();
  const day = generateDemoDay({ end, hours: 24, timeZone: lastpassTimeZone, benignCount: deps.benignCount ?? 30_000, integrations: true });
  const simulator = await createLastPassSimulator({
    accountNumber: DEMO_ACCOUNT,
    apiSecret: DEMO_SECRET,
    events: day.events,
    timeZone: lastpassTimeZone,
    // As LastPass does: a Date header (the run's clock check) and a row for each API call (its zone self-check).
    now: () => deps.now().getTime(),
    logApiCalls: true,
  });
  // Files in the demo's own folder, whatever DATABASE_URL says.
  const store = createStore({
    dataDir: folder,
    databaseUrl: null,
    logger: deps.logger,
    processInfo: deps.processInfo ?? DEMO_PROCESS,
    now: deps.now,
  });
  const evidence = createEvidenceArchive({
    backend: createFileEvidenceBackend({ dir: join(folder, 'evidence') }),
    version: deps.version,
    catalogueVersion: CATALOGUE_VERSION,
    now: deps.now,
  });
  try {
    await store.init();
    await seedEarlierDays(store, end, lastpassTimeZone, deps.reportTimeZone ?? DEFAULTS.REPORT_TIMEZONE, deps.benignCount ?? 30_000);
    const config: Pick<Config, 'lastpass' | 'report'> = {
      lastpass: {
        accountNumber: DEMO_ACCOUNT,
        apiSecret: DEMO_SECRET,
        apiUrl: simulator.url,
        timeZone: lastpassTimeZone,
        apiUser: DEFAULTS.LASTPASS_API_USER,
        timeoutMs: 30_000,
        // The demo tenant runs a SIEM connector with the same secret, declared as a known caller.
        knownApiCallers: DEMO_NOISE.knownApiCallers,
      },
      report: {
        from: 'LastPass digest <digest@example.org>',
        to: ['secops@example.org'],
        schedule: DEFAULTS.REPORT_SCHEDULE,
        timeZone: deps.reportTimeZone ?? DEFAULTS.REPORT_TIMEZONE,
        maxCatchupDays: 7,
        // And a provisioning service account whose routine failures nobody needs to read.
        ignoreUsers: DEMO_NOISE.ignoreUsers,
      },
    };
    const outbox = createOutboxMailer({ dataDir: folder, logger: deps.logger });
    const outcome = await runReport(
      {
        config,
        store,
        lastpass: createLastPassClient({ ...config.lastpass, logger: deps.logger, now: () => deps.now().getTime() }),
        mailer: outbox,
        outbox,
        renderer: deps.renderer,
        logger: deps.logger,
        now: deps.now,
        version: deps.version,
        owner: 'demo',
        evidence,
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
      evidencePath: digest?.evidence?.location ?? null,
    };
  } finally {
    await evidence.close();
    await store.close();
    await simulator.close();
  }
}

/**
 * Gives the demo a past: a week of earlier delivered days (same users, same usual IPs), so that trends
 * have a baseline and "new source" knows each user's usual IPs. The planted sign-in from a new IP is left
 * out of the past, so that it is new today.
 */
export async function seedEarlierDays(
  store: Store,
  end: Date,
  lastpassTimeZone: string,
  reportTimeZone: string,
  benignCount: number,
): Promise<void> {
  const resolve = createWallResolver(lastpassTimeZone);
  for (let d = 7; d >= 1; d--) {
    const dayEnd = new Date(end.getTime() - d * 86_400_000);
    const window = { start: new Date(dayEnd.getTime() - 86_400_000), end: dayEnd };
    const day = generateDemoDay({ end: dayEnd, hours: 24, timeZone: lastpassTimeZone, benignCount, integrations: true });
    const exclude = new Set<RawEvent>(day.planted.filter((p) => p.id === 'new-ip').flatMap((p) => p.events));
    const analysis = createAnalysis({
      apiUser: DEFAULTS.LASTPASS_API_USER,
      windowStart: window.start.getTime(),
      windowEnd: window.end.getTime(),
      detectors: [],
      ...DEMO_NOISE,
    });
    for (const e of day.events) {
      if (exclude.has(e)) continue;
      analysis.add({ at: resolve(e.Time), wall: e.Time, username: e.Username, ip: e.IP_Address, action: e.Action, data: e.Data });
    }
    const result = analysis.result();
    const key = windowKey(window);
    await store.completeDelivery(
      {
        key,
        start: window.start.toISOString(),
        end: window.end.toISOString(),
        deliveredAt: window.end.toISOString(),
        messageId: null,
        marker: `${key}.demo-seed`,
        summary: summarise(result),
      },
      { windowKey: key, day: windowLabel(window, reportTimeZone), users: result.history },
    );
  }
}
