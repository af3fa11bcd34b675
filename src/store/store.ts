/**
 * The one storage interface: everything the worker keeps between runs goes through it.
 * Implementations: files under DATA_DIR (`createFileStore`) and PostgreSQL (`createPostgresStore`).
 * Both must pass test/store-contract.ts.
 */

import { StorageError } from '../errors.js';

export type StoreKind = 'files' | 'postgres';

/** A window that was delivered (or written to the outbox by a non-dry run). ISO-8601 UTC strings. */
export interface DeliveredWindow {
  key: string;
  start: string;
  end: string;
  deliveredAt: string;
  /** SendGrid's x-message-id, or null when delivery was to the outbox. */
  messageId: string | null;
  /** The idempotency marker sent in custom_args. */
  marker: string;
  /** Counts for trends and the verdict of later days. */
  summary: DeliverySummary;
}

export interface DeliverySummary {
  eventsReviewed: number;
  high: number;
  medium: number;
  low: number;
  info: number;
  /** Security-relevant events per category, for trends. */
  byCategory: Record<string, number>;
}

/** Recorded before a send; cleared (by completeDelivery) after it. Survives a crash in between. */
export interface DeliveryIntent {
  key: string;
  start: string;
  end: string;
  marker: string;
  startedAt: string;
  /** How many times a send was attempted for this key (1 on the first attempt). */
  attempt: number;
}

export interface FailureRecord {
  key: string;
  start: string;
  end: string;
  at: string;
  /** A redacted, human-readable message. Never a secret. */
  message: string;
}

export interface RunState {
  /** End (ISO) of the contiguous delivered coverage: the next due window starts here. null before the first delivery. */
  cursor: string | null;
  /** Most recent delivered windows, newest last; bounded (the store keeps at least 400). */
  delivered: DeliveredWindow[];
  /** A send whose outcome is not recorded yet (the process died mid-send), or null. */
  pendingDelivery: DeliveryIntent | null;
  consecutiveFailures: number;
  lastFailure: FailureRecord | null;
  lastSuccessAt: string | null;
}

export interface LockHandle {
  release(): Promise<void>;
}

export interface Store {
  readonly kind: StoreKind;
  /** Human description for logs and `check` (never contains a password). */
  readonly description: string;
  /** Create/upgrade the schema or directories. Idempotent; safe when two processes call it at once. */
  init(): Promise<void>;
  /** Schema version (postgres) or format version (files). */
  schemaVersion(): Promise<number>;
  readState(): Promise<RunState>;
  /** Atomically record that a send for `intent.key` is about to happen. */
  beginDelivery(intent: DeliveryIntent): Promise<void>;
  /**
   * Atomically: record the delivered window, clear the pending intent for its key, reset the failure
   * counter, set lastSuccessAt, and advance `cursor` to `delivered.end` when the window starts at or before
   * the cursor (or the cursor is null) and ends after it.
   */
  completeDelivery(delivered: DeliveredWindow): Promise<void>;
  /** Atomically record a failed run: increments consecutiveFailures and sets lastFailure. The cursor does not move. */
  recordFailure(failure: FailureRecord): Promise<void>;
  /**
   * Try to take the cross-process "one run at a time" lock without waiting.
   * Returns null when another process holds it. Files: a lock file with the owner's pid and host,
   * taken over when the owner is dead (same host) or the lock is older than `staleAfterMs`.
   * PostgreSQL: a session-level advisory lock on a dedicated connection.
   */
  tryLock(owner: string): Promise<LockHandle | null>;
  close(): Promise<void>;
}

export function emptyRunState(): RunState {
  return {
    cursor: null,
    delivered: [],
    pendingDelivery: null,
    consecutiveFailures: 0,
    lastFailure: null,
    lastSuccessAt: null,
  };
}

/** How many delivered windows every store keeps (the newest, by `end`). */
export const DELIVERED_HISTORY_LIMIT = 400;

/**
 * The cursor rule shared by every store: the cursor advances to `window.end` when the window starts at or
 * before the cursor (or the cursor is null) and ends after it; otherwise it stays where it is (a window
 * after a gap, or one entirely before the cursor, never moves it).
 */
export function nextCursor(cursor: string | null, window: { start: string; end: string }): string | null {
  if (cursor === null) return window.end;
  const at = Date.parse(cursor);
  if (Date.parse(window.start) <= at && Date.parse(window.end) > at) return window.end;
  return cursor;
}

/** Orders delivered windows oldest first: by end, then deliveredAt, then key. */
export function compareDelivered(a: DeliveredWindow, b: DeliveredWindow): number {
  return (
    Date.parse(a.end) - Date.parse(b.end) ||
    Date.parse(a.deliveredAt) - Date.parse(b.deliveredAt) ||
    (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  );
}

/**
 * An instant as the stores keep it: canonical ISO-8601 UTC with milliseconds (what `Date#toISOString`
 * gives), so both implementations return identical strings. Returns null for a value that is not a date.
 */
export function canonicalInstant(value: string): string | null {
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

function instantOf(value: string, what: string): string {
  const canonical = canonicalInstant(value);
  if (canonical === null) throw new StorageError(`Refusing to store ${what} ${JSON.stringify(value)}: it is not an ISO-8601 instant`);
  return canonical;
}

/** Input checks shared by the stores: instants made canonical, counts checked. Throws StorageError. */
export function normaliseDelivered(d: DeliveredWindow): DeliveredWindow {
  return {
    key: d.key,
    start: instantOf(d.start, 'delivered.start'),
    end: instantOf(d.end, 'delivered.end'),
    deliveredAt: instantOf(d.deliveredAt, 'delivered.deliveredAt'),
    messageId: d.messageId,
    marker: d.marker,
    summary: {
      eventsReviewed: d.summary.eventsReviewed,
      high: d.summary.high,
      medium: d.summary.medium,
      low: d.summary.low,
      info: d.summary.info,
      byCategory: { ...d.summary.byCategory },
    },
  };
}

export function normaliseIntent(i: DeliveryIntent): DeliveryIntent {
  return {
    key: i.key,
    start: instantOf(i.start, 'intent.start'),
    end: instantOf(i.end, 'intent.end'),
    marker: i.marker,
    startedAt: instantOf(i.startedAt, 'intent.startedAt'),
    attempt: i.attempt,
  };
}

export function normaliseFailure(f: FailureRecord): FailureRecord {
  return {
    key: f.key,
    start: instantOf(f.start, 'failure.start'),
    end: instantOf(f.end, 'failure.end'),
    at: instantOf(f.at, 'failure.at'),
    message: f.message,
  };
}
