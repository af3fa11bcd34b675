/**
 * The orchestrator: one call walks the whole pipeline for what is due (or for an explicit window).
 * config ─▶ window ─▶ fetch ─▶ normalise ─▶ analyse ─▶ digest model ─▶ render ─▶ deliver ─▶ record
 * The scheduler and the CLI only call `runReport`. What is due is the run plan (core/run-plan.ts); each
 * window then goes through three stages (src/run/): fetch and analyse, compose the digest, deliver, and a
 * FAILED notice when either of the first or the last fails.
 */
import { randomUUID } from 'node:crypto';
import { CLOCK_TOLERANCE_MS } from './core/clock-sanity.js';
import { planRun, type PlannedWindow } from './core/run-plan.js';
import { checkStateTimes } from './core/state-check.js';
import { DAY_MS, windowKey } from './core/window-plan.js';
import { ClockError, StorageError, describeError } from './errors.js';
import type { LockHandle } from './ports.js';
import { readUpstreamClock } from './run/upstream-clock.js';
import type { DeliveredWindow, RunState } from './core/run-state.js';
import { createRunEvidence } from './evidence/run-evidence.js';
import { composeDigest, type ComposedDigest } from './run/compose-digest.js';
import { deliverWindow } from './run/deliver-window.js';
import { STORE_FAILED_WHAT, failRun, failWindow, noticeEvidenceFailure } from './run/failure-notice.js';
import { fetchWindow, type FetchedWindow } from './run/fetch-window.js';
import { asDeadlineFailure, deadlineError, effectiveDeadline, passed, type RunDeadline, runDeadline } from './run/run-deadline.js';
import type { FetchProgress, RunDeps, RunOptions, RunOutcome, WindowContext, WindowResult } from './run/run-types.js';

export type { RunDeps, RunOptions, RunOutcome, WindowResult, WindowStatus } from './run/run-types.js';
export { requestRange } from './core/fetch-plan.js';
export { summarise } from './run/deliver-window.js';

/**
 * Never throws for a failure of the run: a store that cannot be locked, read or written, and anything else
 * the stages did not catch, ends in a FAILED notice and a failed outcome (the callers ping the heartbeat's
 * `/fail` and exit 1), not in a quiet stack trace.
 */
export async function runReport(deps: RunDeps, options: RunOptions = {}): Promise<RunOutcome> {
  const { store, logger } = deps;
  let lock: LockHandle | null;
  try {
    lock = await store.tryLock(deps.owner ?? `run-${randomUUID()}`);
  } catch (error) {
    return { status: 'failed', windows: [await failRun(deps, options, error)], skipped: null };
  }
  if (!lock) {
    logger.warn('run.locked', { store: store.kind });
    return { status: 'locked', windows: [], skipped: null };
  }
  try {
    await options.onStart?.();
    return await runLocked(deps, options);
  } catch (error) {
    return { status: 'failed', windows: [await failRun(deps, options, error)], skipped: null };
  } finally {
    await lock.release().catch((error: unknown) => logger.error('store.unlock_failed', { error: describeError(error) }));
  }
}

async function runLocked(deps: RunDeps, callerOptions: RunOptions): Promise<RunOutcome> {
  const { store, logger, config } = deps;
  deps.checkpoint?.('run.locked');
  // The whole run is bounded (RUN_DEADLINE_MINUTES): retries and sends honour the earlier of it and the caller's deadline.
  const deadline = runDeadline(deps.now(), config.report.runDeadlineMinutes);
  const options: RunOptions = { ...callerOptions, deadline: effectiveDeadline(deadline, callerOptions.deadline) };
  const stored = await store.readState();
  const dryRun = options.dryRun ?? false;
  // Before anything is planned: LastPass's clock (its Date header) against ours; plan to its time at the latest.
  const clock = await readUpstreamClock(deps);
  const now = clock.planNow;
  // A skew fails the run here; a LastPass that could not be asked leaves the clock unverified (the window's
  // fetch then meets the same problem, with its retries, its evidence and its FAILED notice).
  const clockFailure = clock.verdict.kind === 'skewed' ? new ClockError(clock.verdict.message) : null;
  // Stored times in the future (a wrong clock wrote them) are repaired, never trusted.
  const checked = checkStateTimes(stored, now, CLOCK_TOLERANCE_MS);
  const state = checked.state;
  if (checked.notices.length > 0) {
    logger.warn('store.times_repaired', {
      foundCursor: checked.cursorRepair?.found ?? null,
      cursor: checked.cursorRepair ? checked.cursorRepair.repaired : state.cursor,
      droppedPending: checked.dropPending?.key ?? null,
    });
  }
  if (!dryRun && clockFailure === null) {
    if (checked.cursorRepair) await store.repairCursor(checked.cursorRepair.found, checked.cursorRepair.repaired);
    if (checked.dropPending) await store.abandonDelivery(checked.dropPending.key);
  }
  const explicit = options.from !== undefined || options.to !== undefined;
  const plan = planRun({
    state,
    now,
    maxCatchupDays: config.report.maxCatchupDays,
    ...(options.from ? { from: options.from } : {}),
    ...(options.to ? { to: options.to } : {}),
    dryRun,
    force: options.force ?? false,
  });
  const first = plan.windows.find((w) => !w.skip);
  if (first) first.notices.push(...checked.notices);
  if (clockFailure !== null) {
    // Loud, before any window is fetched: the FAILED notice names what is due by LastPass's clock.
    const planned = first ?? noticeWindow(now);
    const ctx = { ...windowContext(deps, options, state, state.delivered, planned, deadline), probes: clock.probes, cautions: [] };
    const evidence = createRunEvidence(null, logger, deps.now);
    const result = await failWindow(deps, ctx, evidence, {
      what: "This machine's clock disagrees with LastPass's, so no window was planned or fetched.",
      error: clockFailure,
      run: () => ({ windowKey: ctx.key, startedAt: ctx.startedAt.toISOString(), finishedAt: deps.now().toISOString() }),
    });
    return { status: 'failed', windows: [result], skipped: plan.skipped };
  }
  const { repair, skipped } = plan;
  if (repair) logger.warn('run.repair_pending_delivery', { key: repair.key, marker: repair.marker, startedAt: repair.startedAt });
  if (!explicit && plan.windows.length === 0) {
    logger.info('run.nothing_due', { cursor: state.cursor });
    return { status: 'nothing-due', windows: [], skipped: null };
  }
  if (skipped) {
    logger.error('run.coverage_skipped', {
      from: skipped.start.toISOString(),
      to: skipped.end.toISOString(),
      maxCatchupDays: config.report.maxCatchupDays,
    });
  }

  const results: WindowResult[] = [];
  // The delivered days the trends see: the stored ones, then this run's, as each is delivered.
  let delivered: DeliveredWindow[] = state.delivered;
  for (const planned of plan.windows) {
    if (planned.skip) {
      const already = planned.delivered!;
      logger.info('run.already_delivered', { key: planned.key, deliveredAt: already.deliveredAt, messageId: already.messageId });
      results.push({ key: planned.key, window: planned.window, status: 'already-delivered', messageId: already.messageId });
      continue;
    }
    const cautions = planned === first && checked.caution ? [checked.caution] : [];
    const ctx: WindowContext = { ...windowContext(deps, options, state, delivered, planned, deadline), probes: clock.probes, cautions };
    // No window starts after the run's deadline: it fails loudly and stays due (so do the ones after it).
    const result = passed(deadline, deps.now()) ? await failAtDeadline(deps, ctx) : await processWindow(deps, options, ctx);
    results.push(result);
    if (result.delivered) delivered = [...delivered, result.delivered];
    if (result.status === 'failed' || result.evidenceError) {
      // Later windows wait: coverage stays contiguous, and the next run starts from this one again. A
      // delivered window whose evidence failed stops the run too, so its recorded failure is the last word
      // (a later window's delivery would reset the failure count and turn /healthz and the roll-up green).
      return { status: 'failed', windows: results, skipped };
    }
  }
  // Evidence that could not be written fails the run loudly; the digests themselves were delivered.
  return { status: results.some((r) => r.evidenceError) ? 'failed' : 'ok', windows: results, skipped };
}

/** The window a FAILED notice names when nothing is due: the last 24 hours by the checked clock. */
function noticeWindow(now: Date): PlannedWindow {
  const window = { start: new Date(now.getTime() - DAY_MS), end: now };
  return {
    window,
    key: windowKey(window),
    delivered: null,
    skip: false,
    notices: [],
    marker: null,
    attempt: 1,
    maybeSent: null,
    recordStart: window.start,
  };
}

function windowContext(
  deps: RunDeps,
  options: RunOptions,
  state: RunState,
  delivered: readonly DeliveredWindow[],
  planned: PlannedWindow,
  deadline: RunDeadline,
): Omit<WindowContext, 'probes' | 'cautions'> {
  return {
    key: planned.key,
    window: planned.window,
    dryRun: options.dryRun ?? false,
    prior: delivered.map((d) => ({
      start: d.start,
      end: d.end,
      byCategory: d.summary.byCategory,
      eventsReviewed: d.summary.eventsReviewed,
    })),
    recordStart: planned.recordStart,
    coveredUntil: state.cursor,
    notices: planned.notices,
    marker: planned.marker ?? `${planned.key}.${randomUUID().slice(0, 8)}`,
    attempt: planned.attempt,
    maybeSent: planned.maybeSent,
    runDeadline: deadline,
    consecutiveFailures: state.consecutiveFailures,
    startedAt: deps.now(),
  };
}

/** One window through the stages. Every failure ends in a FAILED notice and a failed evidence bundle. */
async function processWindow(deps: RunDeps, options: RunOptions, ctx: WindowContext): Promise<WindowResult> {
  const { key, window } = ctx;
  deps.logger.info('run.window_start', { key, start: window.start.toISOString(), end: window.end.toISOString(), dryRun: ctx.dryRun });
  const evidence = createRunEvidence(ctx.dryRun ? null : (deps.evidence ?? null), deps.logger, deps.now);
  const progress: FetchProgress = { requests: 0, pages: 0 };
  const runRecord = () => ({
    windowKey: key,
    startedAt: ctx.startedAt.toISOString(),
    finishedAt: deps.now().toISOString(),
    ms: deps.now().getTime() - ctx.startedAt.getTime(),
    requests: progress.requests,
    pages: progress.pages,
    attempt: ctx.attempt,
    marker: ctx.marker,
  });
  let built: { fetched: FetchedWindow; digest: ComposedDigest };
  try {
    const fetched = await fetchWindow(deps, options, ctx, evidence, progress);
    built = { fetched, digest: await composeDigest(deps, ctx, fetched, evidence) };
  } catch (error) {
    return failWindow(deps, ctx, evidence, {
      what:
        error instanceof StorageError
          ? STORE_FAILED_WHAT
          : 'The events of this window could not be fetched completely, so no digest was built.',
      error: asDeadlineFailure(error, ctx.runDeadline),
      run: runRecord,
    });
  }
  // Delivery sends its own FAILED notice when it fails; evidence that could not be written is as loud.
  const result = await deliverWindow(deps, options, ctx, built.fetched, built.digest, evidence, runRecord);
  return result.status === 'delivered' && result.evidenceError ? noticeEvidenceFailure(deps, ctx, result) : result;
}

/** A window due after the run's deadline passed: not fetched, a FAILED notice naming RUN_DEADLINE_MINUTES. */
async function failAtDeadline(deps: RunDeps, ctx: WindowContext): Promise<WindowResult> {
  const evidence = createRunEvidence(null, deps.logger, deps.now);
  return failWindow(deps, ctx, evidence, {
    what: "The run reached its deadline before this window's turn, so it was not fetched.",
    error: deadlineError(ctx.runDeadline, null),
    run: () => ({ windowKey: ctx.key, startedAt: ctx.startedAt.toISOString(), finishedAt: deps.now().toISOString() }),
  });
}
