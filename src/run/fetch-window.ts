/**
 * Stage 1 of a window: fetch and analyse. The evidence bundle is opened with the request (never the API
 * secret), the previous window's tail is asked again for late arrivals, then the window's own range, page
 * by page: each page's rows go to the window intake (core) and each raw page to the evidence archive
 * (hashed and compressed on the thread pool while the next page is fetched; evidence errors are recorded,
 * never thrown). Any failure here means no digest for this window.
 */
import type { NoiseControlSettings } from '../core/noise-control.js';
import type { AnalysisResult } from '../core/analysis.js';
import { windowLabel } from '../core/digest-model.js';
import { lateArrivalNotice, lateOverlapMs, planWindowFetch, requestRange } from '../core/fetch-plan.js';
import type { DeliveryTail } from '../core/run-state.js';
import type { WallRange } from '../core/types.js';
import { createWindowIntake } from '../core/window-intake.js';
import type { RunEvidence } from '../evidence/run-evidence.js';
import type { FetchProgress, RunDeps, RunOptions, WindowContext } from './run-types.js';
import type { Caution } from '../core/digest-model.js';
import { judgeOutOfRange, type OutOfRangeCounts } from '../core/out-of-range-rule.js';
import { IncompleteDataError } from '../errors.js';
import type { FetchStats, RequestTiming } from '../ports.js';
import { checkZone } from './zone-self-check.js';
import { wallPlusOneSecond } from '../core/wall-time.js';

export interface FetchedWindow {
  analysis: AnalysisResult;
  /** The wall-clock range asked for (null: the window holds no wall time of its own). */
  requested: WallRange | null;
  requests: number;
  pages: number;
  /** This window's tail, kept with its delivery for the next run's late-arrival check. */
  tail: DeliveryTail | undefined;
  /** The digest's notice about late arrivals of the previous window's tail, or null. */
  lateNotice: string | null;
  /** Reasons not to read the digest as an all-clear found while fetching (rows outside the asked range). */
  cautions: Caution[];
}

export async function fetchWindow(
  deps: RunDeps,
  options: RunOptions,
  ctx: WindowContext,
  evidence: RunEvidence,
  progress: FetchProgress,
): Promise<FetchedWindow> {
  const { config, logger } = deps;
  const { key, window } = ctx;
  const requested = requestRange(window, config.lastpass.timeZone);
  const span = { start: window.start.toISOString(), end: window.end.toISOString(), key };
  await evidence.begin({
    day: windowLabel(window, config.report.timeZone),
    window: span,
    // The API secret (provhash) is never recorded.
    request: {
      cmd: 'reporting',
      cid: config.lastpass.accountNumber,
      apiuser: config.lastpass.apiUser,
      url: deps.lastpass.endpoint,
      data: requested,
      lastpassTimeZone: config.lastpass.timeZone,
      window: span,
    },
    startedAt: ctx.startedAt,
  });
  const overlapMs = lateOverlapMs(config.report.lateOverlapMinutes);
  const storedTail = overlapMs > 0 ? await deps.store.readTail() : null;
  const plan = planWindowFetch({ window, lastpassTimeZone: config.lastpass.timeZone, overlapMs, storedTail });
  const { previousTail } = plan;
  const intake = createWindowIntake({
    apiUser: config.lastpass.apiUser,
    windowStart: window.start.getTime(),
    windowEnd: window.end.getTime(),
    history: await deps.store.readHistory(),
    tailFrom: plan.tailFrom,
    knownTail: previousTail ? previousTail.fingerprints : null,
    noise: noiseSettings(config),
  });
  const deadline = options.deadline === undefined ? {} : { deadline: options.deadline };
  // Rows outside the asked ranges, over every response of this window (core/out-of-range-rule.ts).
  const counts: OutOfRangeCounts = { rowsReturned: 0, outOfRangeBefore: 0, outOfRangeAfter: 0 };
  const count = (stats: FetchStats) => {
    counts.rowsReturned += stats.rowsReturned;
    counts.outOfRangeBefore += stats.outOfRangeBefore;
    counts.outOfRangeAfter += stats.outOfRangeAfter;
  };
  // Every request of this run so far, for the zone self-check: the clock probe, then the fetches.
  const timings: RequestTiming[] = [...ctx.probes];
  let tailRequests = 0;
  if (previousTail) {
    const stats = await deps.lastpass.fetchEvents({ from: previousTail.from, to: previousTail.to }, intake.late, {
      ...deadline,
      onPage: (page) => evidence.page(page.bytes),
    });
    tailRequests = stats.requests;
    count(stats);
    timings.push(...stats.timings);
    progress.requests += stats.requests;
    progress.pages += stats.pages;
  }
  if (requested) {
    let pageNumber = 0;
    const stats = await deps.lastpass.fetchEvents(requested, intake.window, {
      ...deadline,
      onPage: async (page) => {
        deps.checkpoint?.(`fetch.page.${++pageNumber}`);
        await evidence.page(page.bytes);
      },
    });
    count(stats);
    timings.push(...stats.timings);
    progress.requests += stats.requests;
    progress.pages += stats.pages;
    logger.info('lastpass.fetched', {
      key,
      requests: stats.requests,
      pages: stats.pages,
      events: stats.events,
      retries: stats.retries,
      outOfRange: stats.outOfRange,
    });
  }
  const cautions: Caution[] = [];
  const outOfRange = judgeOutOfRange(counts, requested ?? previousTail ?? { from: '', to: '' }, config.lastpass.timeZone);
  if (outOfRange.kind === 'fail') throw new IncompleteDataError(outOfRange.message);
  if (outOfRange.kind === 'caution') cautions.push(outOfRange.caution);
  const taken = intake.finish();
  // Does LastPass speak LASTPASS_TIMEZONE? This run's own Reporting rows say (run/zone-self-check.ts).
  const zone = await checkZone({
    lastpass: deps.lastpass,
    logger,
    now: deps.now,
    timeZone: config.lastpass.timeZone,
    apiUser: config.lastpass.apiUser,
    requests: timings,
    echoes: taken.analysis.ownApiWalls,
    ...(requested ? { notBefore: wallPlusOneSecond(requested.to) } : {}),
  });
  if (zone.caution) cautions.unshift(zone.caution);
  let lateNotice: string | null = null;
  if (previousTail) {
    logger.info('lastpass.late_arrivals', { key, previous: previousTail.windowKey, late: taken.lateArrivals, requests: tailRequests });
    lateNotice = lateArrivalNotice(taken.lateArrivals, overlapMs, previousTail);
  }
  return {
    analysis: taken.analysis,
    requested,
    requests: progress.requests,
    pages: progress.pages,
    tail: plan.tailRange ? { windowKey: key, ...plan.tailRange, fingerprints: taken.tailPrints } : undefined,
    lateNotice,
    cautions,
  };
}

/** The run's noise-control settings, as the analysis and the digest's coverage section take them. */
export function noiseSettings(config: RunDeps['config']): NoiseControlSettings {
  return {
    knownApiCallers: config.lastpass.knownApiCallers ?? [],
    severityOverrides: config.report.severityOverrides ?? [],
    ignoreUsers: config.report.ignoreUsers ?? [],
  };
}
