/**
 * The roll-up of one scheduled round as the stores tell it (replica mode: no replica saw the whole round).
 * Pure: each account's RunState in, the per-account records the roll-up model (rollup.ts) takes out. An
 * account's round is its latest delivery or failure at or after the scheduled time, whichever is later; one
 * with neither is "not yet reported" (never an all-clear).
 */
import type { RollupDigest, RunOutcome, WindowResult } from '../run/run-types.js';
import type { DeliveredWindow, RunState } from '../core/run-state.js';
import type { AccountRunRecord } from './local-runner.js';

/** One account as read for the roll-up: its state, or why it could not be read. */
export interface RoundAccount {
  id: string;
  state: RunState | null;
  /** Set when its store could not be read. */
  readError?: string;
}

/**
 * The delivered digest as the store keeps it: its own verdict when recorded, else (a record written before
 * verdicts were kept) the level its counts imply.
 */
function digestOf(d: DeliveredWindow): RollupDigest {
  const { high, medium, low, info } = d.summary;
  const kept = d.summary.verdict;
  if (kept) {
    return {
      verdict: kept.text,
      verdictLevel: kept.level,
      findingCount: kept.findings,
      bySeverity: { high, medium, low, info },
      topFindings: [],
    };
  }
  const verdictLevel: RollupDigest['verdictLevel'] = high > 0 ? 'attention' : medium > 0 ? 'review' : low > 0 ? 'low' : 'quiet';
  const findingCount = high + medium + low;
  const verdict = findingCount
    ? `${high} high, ${medium} medium, ${low} low-severity events in ${d.summary.eventsReviewed.toLocaleString('en-US')} reviewed`
    : `Nothing to report in ${d.summary.eventsReviewed.toLocaleString('en-US')} events reviewed`;
  return { verdict, verdictLevel, findingCount, bySeverity: { high, medium, low, info }, topFindings: [] };
}

/** Per account, what its store says of the round that was scheduled for `scheduledFor`. */
export function roundRecords(scheduledFor: Date, accounts: readonly RoundAccount[], now: Date): AccountRunRecord[] {
  const since = scheduledFor.getTime();
  const finishedAt = now.toISOString();
  return accounts.map(({ id, state, readError }): AccountRunRecord => {
    if (!state) {
      const error = `its store could not be read: ${readError ?? 'unknown error'}`;
      return { id, outcome: { status: 'failed', windows: [], skipped: null }, error, finishedAt };
    }
    const delivered = state.delivered.filter((d) => Date.parse(d.deliveredAt) >= since);
    const lastDelivered = Math.max(-Infinity, ...delivered.map((d) => Date.parse(d.deliveredAt)));
    const failure = state.lastFailure && Date.parse(state.lastFailure.at) >= since ? state.lastFailure : null;
    if (failure && Date.parse(failure.at) >= lastDelivered) {
      const window: WindowResult = {
        key: failure.key,
        window: { start: new Date(failure.start), end: new Date(failure.end) },
        status: 'failed',
        error: failure.message,
      };
      return { id, outcome: { status: 'failed', windows: [window], skipped: null }, finishedAt };
    }
    if (delivered.length === 0) {
      const outcome: RunOutcome = { status: 'locked', windows: [], skipped: null };
      return { id, outcome, notReported: 'Not yet reported: its store has no delivery or failure since the scheduled time.', finishedAt };
    }
    const windows = delivered.map(
      (d): WindowResult => ({
        key: d.key,
        window: { start: new Date(d.start), end: new Date(d.end) },
        status: 'delivered',
        messageId: d.messageId,
        eventsReviewed: d.summary.eventsReviewed,
        digest: digestOf(d),
      }),
    );
    return { id, outcome: { status: 'ok', windows, skipped: null }, finishedAt };
  });
}
