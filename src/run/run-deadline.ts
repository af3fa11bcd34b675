/**
 * The run's deadline (RUN_DEADLINE_MINUTES, issue #13): `run` and each worker run end within a bounded
 * time across LastPass fetches, retries and sends. Retries never wait past it and no request starts after
 * it (adapters/http/retry.ts); a window is not started after it; past it the window fails loudly with a
 * message naming the variable (FAILED notice attempted, exit 1, the window stays due).
 */
import { DEFAULT_RUN_DEADLINE_MINUTES } from '../core/send-outcome-rules.js';
import { RetryDeadlineError, RunDeadlineError, describeError } from '../errors.js';

export interface RunDeadline {
  /** Epoch ms. */
  at: number;
  minutes: number;
  startedAt: Date;
}

export function runDeadline(startedAt: Date, minutes: number | undefined): RunDeadline {
  const m = minutes ?? DEFAULT_RUN_DEADLINE_MINUTES;
  return { at: startedAt.getTime() + m * 60_000, minutes: m, startedAt };
}

/** The deadline retries and sends honour: the run's, or the caller's (the worker's next scheduled run) when earlier. */
export function effectiveDeadline(deadline: RunDeadline, callerDeadline: number | undefined): number {
  return callerDeadline === undefined ? deadline.at : Math.min(callerDeadline, deadline.at);
}

export function passed(deadline: RunDeadline, now: Date): boolean {
  return now.getTime() >= deadline.at;
}

/** The loud failure: the variable, when the run started and had to end, and the last problem met. */
export function deadlineError(deadline: RunDeadline, last: unknown): RunDeadlineError {
  const lastText = last === null || last === undefined ? '' : ` The last problem: ${describeError(last).replace(/\.$/, '')}.`;
  return new RunDeadlineError(
    `The run passed its deadline RUN_DEADLINE_MINUTES=${deadline.minutes}: it started at ${deadline.startedAt.toISOString()} and had to end by ${new Date(deadline.at).toISOString()}, so it stopped.${lastText} Next: the window stays due and is reported at the next run; if LastPass or SendGrid were only slow, raise RUN_DEADLINE_MINUTES.`,
  );
}

/** A retry that gave up at the run's deadline becomes the deadline failure; anything else is unchanged. */
export function asDeadlineFailure(error: unknown, deadline: RunDeadline): unknown {
  if (error instanceof RetryDeadlineError && error.deadline >= deadline.at) return deadlineError(deadline, error.last);
  return error;
}
