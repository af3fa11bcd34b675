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

export type Service = 'lastpass' | 'sendgrid' | 'heartbeat';

/** An upstream answered badly or not at all. `url` is already redacted. */
export class UpstreamError extends DigestError {
  override name = 'UpstreamError';
  readonly service: Service;
  readonly status: number | null;
  readonly url: string;
  readonly retryable: boolean;
  /** Seconds the upstream asked us to wait (Retry-After), if any. */
  readonly retryAfterSeconds: number | null;
  constructor(
    message: string,
    details: {
      service: Service;
      status?: number | null;
      url: string;
      retryable: boolean;
      retryAfterSeconds?: number | null;
      cause?: unknown;
    },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.service = details.service;
    this.status = details.status ?? null;
    this.url = details.url;
    this.retryable = details.retryable;
    this.retryAfterSeconds = details.retryAfterSeconds ?? null;
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
