/**
 * The stored times, checked against the clock before a run is planned from them. Pure.
 *
 * A cursor (or a delivered window, or a pending send) later than now by more than the clock tolerance was
 * written by a clock that was wrong (a VM three days ahead for one run): planning from it would find
 * "nothing due" for days. It is repaired, with a notice in the next digest, never trusted:
 * - a delivered window that ends in the future, or was recorded as delivered in the future (by the wrong
 *   clock itself), covered time that had not happened yet: it takes no part in the plan, the trends or the
 *   silence baseline;
 * - the cursor goes back to the start of the earliest such window (everything before it was real), or,
 *   when none explains it, to the end of the newest real one; with neither, to none (the last 24 h);
 * - a pending send of a window that ends in the future is dropped (that window was never real);
 * - the digest that follows says so at the top (a caution: earlier digests were not true).
 * Times that are not instants at all are the stores' decoding errors (they name the store and the fix).
 */
import type { Caution } from './digest-model.js';
import { formatDuration } from './display-time.js';
import type { DeliveredWindow, DeliveryIntent, RunState } from './run-state.js';

export interface StateCheck {
  /** The state to plan from. */
  state: RunState;
  /** The cursor to store instead of the one found (null: no repair needed). */
  cursorRepair: { found: string; repaired: string | null } | null;
  /** A pending send to drop (its window ends in the future). */
  dropPending: DeliveryIntent | null;
  /** What the next digest says about the repair. */
  notices: string[];
  /** The caution of the next digest when earlier ones covered time that had not happened (null: none). */
  caution: Caution | null;
}

export function checkStateTimes(state: RunState, now: Date, toleranceMs: number): StateCheck {
  const limit = now.getTime() + toleranceMs;
  const future = (iso: string) => Date.parse(iso) > limit;
  const unreal = (d: DeliveredWindow) => future(d.end) || future(d.deliveredAt);
  const bogus = state.delivered.filter(unreal);
  const delivered = state.delivered.filter((d) => !unreal(d));
  const notices: string[] = [];
  let cursor = state.cursor;
  let cursorRepair: StateCheck['cursorRepair'] = null;
  if (state.cursor !== null && future(state.cursor)) {
    const found = state.cursor;
    const earliestBogus = [...bogus].sort((a, b) => Date.parse(a.start) - Date.parse(b.start))[0];
    const newestReal = [...delivered].sort((a, b) => Date.parse(b.end) - Date.parse(a.end))[0];
    let repaired: string | null = earliestBogus ? earliestBogus.start : newestReal ? newestReal.end : null;
    if (repaired !== null && Date.parse(repaired) > now.getTime()) repaired = now.toISOString();
    cursor = repaired;
    cursorRepair = { found, repaired };
    notices.push(
      `Repaired: the stored cursor was ${found}, ${formatDuration(Date.parse(found) - now.getTime())} in the future (a clock was wrong when it was written), which would have made nothing due until then. Coverage restarts at ${repaired ?? 'the last 24 hours'}${bogus.length ? `; ${describeBogus(bogus)}` : ''}.`,
    );
  } else if (bogus.length > 0) {
    notices.push(`Repaired: ${describeBogus(bogus)}.`);
  }
  let pendingDelivery = state.pendingDelivery;
  let dropPending: DeliveryIntent | null = null;
  if (pendingDelivery !== null && future(pendingDelivery.end)) {
    dropPending = pendingDelivery;
    notices.push(
      `Repaired: an unfinished send of the window ${pendingDelivery.start} … ${pendingDelivery.end}, which ends in the future, is not repeated: that window was planned from a wrong clock.`,
    );
    pendingDelivery = null;
  }
  const caution: Caution | null =
    cursorRepair !== null || bogus.length > 0
      ? {
          headline: 'Earlier digests covered time that had not happened yet',
          detail: `A clock was wrong when earlier digests were made: ${bogus.length ? describeBogus(bogus) : 'the stored cursor lay in the future'}. This digest covers the time again from ${cursor ?? 'the last 24 hours'}; check that this machine's clock is right (run "lastpass-audit-digest check").`,
        }
      : null;
  return { state: { ...state, cursor, delivered, pendingDelivery }, cursorRepair, dropPending, notices, caution };
}

function describeBogus(bogus: readonly DeliveredWindow[]): string {
  const keys = bogus.map((d) => d.key);
  return `${bogus.length === 1 ? 'the digest' : `${bogus.length} digests`} sent for ${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', …' : ''} covered time that had not happened yet and reviewed nothing real: disregard ${bogus.length === 1 ? 'it' : 'them'}`;
}
