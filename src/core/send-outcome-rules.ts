/**
 * The rules of a send whose outcome is unknown (issue #13), and of the run's deadline. Pure.
 *
 * A send SendGrid did not confirm (a timeout after the request was written, a reset, a 5xx, 408/429) may
 * have been accepted: it is recorded as "maybe sent" on the delivery intent before anything else, and the
 * window is sent again with the same marker and a "Possible duplicate" notice, at most
 * MAX_UNCONFIRMED_RESENDS times within one run (each re-send may itself be a duplicate); after that the run
 * fails and the next run repairs the window the same way (core/run-plan.ts).
 */

/** RUN_DEADLINE_MINUTES when unset: a run (fetches, retries, sends) ends within 30 minutes. */
export const DEFAULT_RUN_DEADLINE_MINUTES = 30;

/** Re-sends of a window within one run after unconfirmed sends. */
export const MAX_UNCONFIRMED_RESENDS = 2;

/** The longest single wait before a re-send, whatever Retry-After says (the same cap as every retry). */
export const MAX_RESEND_WAIT_MS = 60_000;

/** Waits before the 1st, 2nd… re-send when SendGrid gave no Retry-After. */
const RESEND_WAITS_MS = [5_000, 30_000];

/** The wait before re-send number `resend` (1-based): Retry-After honoured up to the cap, else a fixed step. */
export function resendWait(retryAfterSeconds: number | null, resend: number): number {
  if (retryAfterSeconds !== null && Number.isFinite(retryAfterSeconds)) {
    return Math.min(MAX_RESEND_WAIT_MS, Math.max(0, retryAfterSeconds * 1000));
  }
  return RESEND_WAITS_MS[Math.min(resend, RESEND_WAITS_MS.length) - 1]!;
}
