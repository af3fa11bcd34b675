/**
 * The plan of one run, from the stored state and the clock: which windows to report, in order, and what
 * each one's digest must say about itself. Pure: the orchestrator (run-report.ts) carries it out.
 *
 * - Due windows are contiguous from the cursor (window-plan.ts), at most REPORT_MAX_CATCHUP_DAYS of them;
 *   anything older is the skipped span, stated in the first digest and accounted for by it.
 * - A send whose outcome was never recorded (the process died mid-send) is repaired first, as the very same
 *   window: sent again with the same marker and a "possible duplicate" notice, and what is due after it is
 *   planned from its end. Re-planning from the cursor instead would send an overlapping window under a new
 *   key: a silent duplicate.
 * - A window already delivered is not sent again, unless forced (and then says so).
 */
import { formatDuration, formatUtc } from './display-time.js';
import type { DeliveredWindow, DeliveryIntent, MaybeSent, RunState } from './run-state.js';
import type { ReportWindow } from './types.js';
import { DAY_MS, planDueWindows, windowKey } from './window-plan.js';

export interface RunPlanInput {
  state: Pick<RunState, 'cursor' | 'delivered' | 'pendingDelivery'>;
  now: Date;
  maxCatchupDays: number;
  /** An explicit window (`run --from/--to`): only that one is planned. */
  from?: Date;
  to?: Date;
  dryRun: boolean;
  force: boolean;
}

export interface PlannedWindow {
  window: ReportWindow;
  key: string;
  /** The earlier delivery of this same window, if any. */
  delivered: DeliveredWindow | null;
  /** Delivered before and not forced: reported as already delivered, nothing is fetched or sent. */
  skip: boolean;
  /** What the digest says about itself (coverage gap, possible duplicate, forced re-send), in that order. */
  notices: string[];
  /** The marker of the unrecorded send this window repeats; null: a fresh send, with a new marker. */
  marker: string | null;
  /** Which attempt at sending this window's key this is (1 for a fresh send). */
  attempt: number;
  /**
   * What is known of the earlier send this window repeats: SendGrid left it unconfirmed (`maybeSent`), or
   * the worker stopped mid-send (null with `marker` set). A re-send after either keeps the intent even when
   * SendGrid then refuses it: the earlier one may still have been accepted.
   */
  maybeSent: MaybeSent | null;
  /** Where the delivered record starts: the skipped span's start for the digest that states it. */
  recordStart: Date;
}

export interface RunPlan {
  windows: PlannedWindow[];
  /** The span that will not be reviewed (down longer than the catch-up cap), or null. */
  skipped: ReportWindow | null;
  /** The unrecorded send that is repaired first, or null. */
  repair: DeliveryIntent | null;
}

export function planRun(input: RunPlanInput): RunPlan {
  const { state, dryRun, force, maxCatchupDays } = input;
  const { windows, skipped, repair } = input.from || input.to ? explicitWindow(input) : dueWindows(input);
  // A dry run sends nothing, so it repeats no unrecorded send.
  const pending = dryRun ? null : state.pendingDelivery;
  const planned = windows.map((window, i): PlannedWindow => {
    const key = windowKey(window);
    const delivered = state.delivered.find((d) => d.key === key) ?? null;
    const skip = delivered !== null && !force;
    const gap = i === 0 ? skipped : null;
    const retryOf = pending !== null && pending.key === key ? pending : null;
    const notices: string[] = [];
    if (!skip) {
      if (gap) notices.push(coverageGapNotice(gap, maxCatchupDays));
      if (retryOf) notices.push(possibleDuplicateNotice(retryOf));
      if (delivered && force) notices.push(`Re-sent on request (--force); first delivered ${delivered.deliveredAt}.`);
    }
    return {
      window,
      key,
      delivered,
      skip,
      notices,
      marker: retryOf ? retryOf.marker : null,
      attempt: retryOf ? retryOf.attempt + 1 : 1,
      maybeSent: retryOf?.maybeSent ?? null,
      // The digest that states a skipped span accounts for it in the state, so the cursor moves past it.
      recordStart: gap ? gap.start : window.start,
    };
  });
  return { windows: planned, skipped, repair };
}

type Windows = Pick<RunPlan, 'skipped' | 'repair'> & { windows: ReportWindow[] };

function explicitWindow(input: RunPlanInput): Windows {
  // Never a window that ends after now (the clock already checked against LastPass's): the rest has not happened.
  const end = input.to && input.to.getTime() < input.now.getTime() ? input.to : input.now;
  const start = input.from ?? new Date(end.getTime() - DAY_MS);
  if (start.getTime() >= end.getTime()) return { windows: [], skipped: null, repair: null };
  return { windows: [{ start, end }], skipped: null, repair: null };
}

function dueWindows(input: RunPlanInput): Windows {
  const { state } = input;
  const pending = input.dryRun ? null : state.pendingDelivery;
  const cursorMs = state.cursor ? Date.parse(state.cursor) : null;
  const repair = pending !== null && (cursorMs === null || Date.parse(pending.end) > cursorMs) ? pending : null;
  const plan = planDueWindows({
    cursor: repair ? new Date(repair.end) : cursorMs !== null ? new Date(cursorMs) : null,
    now: input.now,
    maxCatchupDays: input.maxCatchupDays,
  });
  if (!repair) return { windows: plan.windows, skipped: plan.skipped, repair: null };
  const repairWindow = { start: new Date(repair.start), end: new Date(repair.end) };
  // The first attempt stated any span it skipped: keep stating it, and keep accounting for it.
  const skipped =
    cursorMs !== null && cursorMs < repairWindow.start.getTime() ? { start: new Date(cursorMs), end: repairWindow.start } : null;
  // Improbable (down for longer than the cap right after a crash mid-send): the rest is reported next run.
  const windows = plan.skipped ? [repairWindow] : [repairWindow, ...plan.windows];
  return { windows, skipped, repair };
}

export function coverageGapNotice(skipped: ReportWindow, maxCatchupDays: number): string {
  const from = skipped.start.getTime();
  const to = skipped.end.getTime();
  return `Coverage gap: ${formatUtc(from)} to ${formatUtc(to)} (${formatDuration(to - from)}) was NOT reviewed: the worker was down longer than REPORT_MAX_CATCHUP_DAYS=${maxCatchupDays}. Review it with: lastpass-audit-digest run --from ${skipped.start.toISOString()} --to ${skipped.end.toISOString()}`;
}

/**
 * The notice of a re-send whose earlier send may have been accepted: after a crash mid-send (no outcome
 * recorded) or after SendGrid left it unconfirmed (`maybeSent`, in this run or an earlier one).
 */
export function possibleDuplicateNotice(pending: Pick<DeliveryIntent, 'startedAt' | 'marker' | 'maybeSent'>): string {
  const why = pending.maybeSent
    ? `SendGrid did not confirm it (${pending.maybeSent.reason.replace(/\.$/, '')}), so it may have been accepted`
    : 'its outcome was not recorded (the worker stopped mid-send)';
  return `Possible duplicate: a send of this digest started at ${pending.startedAt} and ${why}. It is sent again with the same marker ${pending.marker}; if you already have it, ignore one.`;
}
