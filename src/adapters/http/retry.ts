/**
 * Retry policy as data, applied with p-retry. All waiting goes through the injected `sleep`, so tests
 * never wait; `Retry-After` is honoured up to a cap; and we give up rather than wait past `deadline`
 * (for the worker: before the next scheduled run).
 */
import pRetry, { AbortError } from 'p-retry';
import { UpstreamError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { Sleep } from '../../ports.js';

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** The longest Retry-After we accept; a longer one is treated as the cap. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 5,
  baseDelayMs: 2_000,
  maxDelayMs: 60_000,
  maxRetryAfterMs: 300_000,
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
  label: { service: string; what: string },
): Promise<T> {
  const random = runtime.random ?? Math.random;
  return pRetry(
    async (attempt) => {
      try {
        return await operation(attempt);
      } catch (error) {
        if (!isRetryable(error)) throw new AbortError(error instanceof Error ? error : new Error(String(error)));
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
        if (runtime.deadline !== undefined && runtime.now() + delay > runtime.deadline) {
          runtime.logger.warn('retry.give_up_deadline', { ...label, attempt: attemptNumber, delayMs: delay });
          throw error;
        }
        runtime.logger.warn('retry.scheduled', {
          ...label,
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
