/**
 * One error family. Messages say what happened and what to do next; they never contain a secret.
 * `cause` is only ever a sanitised value (never a raw SendGrid/pg error whose config holds a key).
 */

export class DigestError extends Error {
  override name = 'DigestError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Bad configuration or usage. Exit code 2. */
export class ConfigError extends DigestError {
  override name = 'ConfigError';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(
      problems.length === 1
        ? `Configuration problem: ${problems[0]}`
        : `${problems.length} configuration problems:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.problems = problems;
  }
}

export type Service = 'lastpass' | 'sendgrid' | 'heartbeat' | 'webhook';

/**
 * What a failed send tells about the message (issue #13): `not-sent` it certainly did not leave (connection
 * refused, DNS, a 4xx other than 408/429): a plain retry, no notice; `unknown` it may have been accepted (a
 * timeout after the request was written, a reset, a 5xx, 408/429): recorded as "maybe sent" before any
 * re-send, and a re-send carries the same marker and the "Possible duplicate" notice.
 */
export type SendOutcome = 'not-sent' | 'unknown';

/** An upstream answered badly or not at all. `url` is already redacted. */
export class UpstreamError extends DigestError {
  override name = 'UpstreamError';
  readonly service: Service;
  readonly status: number | null;
  readonly url: string;
  readonly retryable: boolean;
  /** Seconds the upstream asked us to wait (Retry-After), if any. */
  readonly retryAfterSeconds: number | null;
  /** For a failed send (SendGrid): whether the message may have left; null for everything else. */
  readonly sendOutcome: SendOutcome | null;
  constructor(
    message: string,
    details: {
      service: Service;
      status?: number | null;
      url: string;
      retryable: boolean;
      retryAfterSeconds?: number | null;
      sendOutcome?: SendOutcome | null;
      cause?: unknown;
    },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.service = details.service;
    this.status = details.status ?? null;
    this.url = details.url;
    this.retryable = details.retryable;
    this.retryAfterSeconds = details.retryAfterSeconds ?? null;
    this.sendOutcome = details.sendOutcome ?? null;
  }
}

/**
 * Retrying stopped because the next attempt (or the wait before it) would pass the deadline. The details
 * (service, status, URL, retryAfter) are the last error's; `deadline` is the one that stopped it, so the
 * orchestrator can tell the run's own deadline (RUN_DEADLINE_MINUTES) from the worker's next scheduled run.
 */
export class RetryDeadlineError extends UpstreamError {
  override name = 'RetryDeadlineError';
  readonly deadline: number;
  /** The error of the last attempt (null: the deadline had passed before the first one). */
  readonly last: UpstreamError | null;
  constructor(last: unknown, deadline: number, service: Service, url: string) {
    const upstream = last instanceof UpstreamError ? last : null;
    super(
      upstream
        ? `${upstream.message} Gave up retrying: the next attempt would start after the deadline.`
        : `The deadline passed before the ${service} request could be made.`,
      {
        service: upstream?.service ?? service,
        status: upstream?.status ?? null,
        url: upstream?.url ?? url,
        retryable: true,
        retryAfterSeconds: upstream?.retryAfterSeconds ?? null,
        sendOutcome: upstream?.sendOutcome ?? null,
      },
    );
    this.deadline = deadline;
    this.last = upstream;
  }
}

/** LastPass rejected the credentials (the XML `Authorization Error`). Never retried. */
export class AuthorizationError extends UpstreamError {
  override name = 'AuthorizationError';
}

/**
 * SendGrid refused the message as too large (HTTP 413). Never retried with the same body: the delivery stage
 * re-sends the digest once without its attachments (run/deliver-window.ts).
 */
export class MessageTooLargeError extends UpstreamError {
  override name = 'MessageTooLargeError';
}

/** The fetched data cannot be trusted to be complete (e.g. more than a page of events in one second). */
export class IncompleteDataError extends DigestError {
  override name = 'IncompleteDataError';
}

/** The local clock disagrees with an upstream's by more than the tolerance: nothing is planned from it. */
export class ClockError extends DigestError {
  override name = 'ClockError';
}

/**
 * The run passed its deadline (RUN_DEADLINE_MINUTES): it stops loudly instead of waiting on upstreams for
 * ever. The message names the variable, when the run started and the last problem met.
 */
export class RunDeadlineError extends DigestError {
  override name = 'RunDeadlineError';
}

export class RenderError extends DigestError {
  override name = 'RenderError';
}

export class StorageError extends DigestError {
  override name = 'StorageError';
}

/**
 * The compliance evidence could not be written, read back or exported as asked (a bundle used out of order,
 * an unusable signing key, a chain head that moved under a concurrent writer). Storage failures underneath
 * it are StorageErrors.
 */
export class EvidenceError extends DigestError {
  override name = 'EvidenceError';
}

/** A short, safe description of any thrown value. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
