/**
 * Retry policy as data, applied with p-retry. All waiting goes through the injected `sleep`, so tests
 * never wait; `Retry-After` is honoured up to a cap (60 s per wait: a `Retry-After: 3600` never parks a run
 * for an hour); and we give up rather than wait past `deadline` (the run's deadline, RUN_DEADLINE_MINUTES,
 * or for the worker the next scheduled run, whichever is earlier), nor start any attempt after it. Giving up
 * for the deadline throws a `RetryDeadlineError` carrying the last error's details, so the orchestrator can
 * say which deadline stopped the run.
 */
import pRetry, { AbortError } from 'p-retry';
import { RetryDeadlineError, UpstreamError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { Sleep } from '../../ports.js';

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** The longest Retry-After we wait; a longer one is treated as the cap. */
  maxRetryAfterMs: number;
}

/** The longest single wait for a Retry-After (issue #13: `Retry-After: 3600` on every answer must not stall a run). */
export const MAX_RETRY_AFTER_MS = 60_000;

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 5,
  baseDelayMs: 2_000,
  maxDelayMs: 60_000,
  maxRetryAfterMs: MAX_RETRY_AFTER_MS,
};

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export interface RetryRuntime {
  policy: RetryPolicy;
  sleep: Sleep;
  logger: Logger;
  now: () => number;
  /** Epoch ms after which no retry may start. */
  deadline?: number;
  /** 0..1, for jitter; injectable for deterministic tests. */
  random?: () => number;
  /** Which errors are retried (default: an UpstreamError marked retryable). */
  shouldRetry?: (error: unknown) => boolean;
}

/** The delay before retry number `attempt` (1-based) of an error. */
export function retryDelay(error: unknown, attempt: number, policy: RetryPolicy, random: () => number): number {
  if (error instanceof UpstreamError && error.retryAfterSeconds !== null) {
    return Math.min(policy.maxRetryAfterMs, Math.max(0, error.retryAfterSeconds * 1000));
  }
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  // "Equal jitter": half fixed, half random, so retries of several workers spread out.
  return Math.round(exp / 2 + (exp / 2) * random());
}

export function isRetryable(error: unknown): boolean {
  return error instanceof UpstreamError && error.retryable;
}

export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  runtime: RetryRuntime,
  label: { service: UpstreamError['service']; what: string; url?: string },
): Promise<T> {
  const random = runtime.random ?? Math.random;
  const shouldRetry = runtime.shouldRetry ?? isRetryable;
  const { deadline } = runtime;
  return pRetry(
    async (attempt) => {
      if (deadline !== undefined && runtime.now() >= deadline) {
        // Nothing starts after the deadline (a page request of a long fetch, a send after slow pages).
        runtime.logger.warn('retry.give_up_deadline', { service: label.service, what: label.what, attempt, delayMs: 0 });
        throw new AbortError(new RetryDeadlineError(null, deadline, label.service, label.url ?? ''));
      }
      try {
        return await operation(attempt);
      } catch (error) {
        if (!shouldRetry(error)) throw new AbortError(error instanceof Error ? error : new Error(String(error)));
        throw error;
      }
    },
    {
      retries: runtime.policy.retries,
      minTimeout: 0,
      maxTimeout: 0,
      randomize: false,
      onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
        if (retriesLeft <= 0) return;
        const delay = retryDelay(error, attemptNumber, runtime.policy, random);
        if (deadline !== undefined && runtime.now() + delay > deadline) {
          runtime.logger.warn('retry.give_up_deadline', {
            service: label.service,
            what: label.what,
            attempt: attemptNumber,
            delayMs: delay,
          });
          throw new RetryDeadlineError(error, deadline, label.service, label.url ?? '');
        }
        runtime.logger.warn('retry.scheduled', {
          service: label.service,
          what: label.what,
          attempt: attemptNumber,
          retriesLeft,
          delayMs: delay,
          status: error instanceof UpstreamError ? error.status : null,
          error: error.message,
        });
        await runtime.sleep(delay);
      },
    },
  );
}
