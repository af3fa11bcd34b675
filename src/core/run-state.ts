/**
 * The one storage interface: everything the worker keeps between runs goes through it.
 * Implementations: files under DATA_DIR (`createFileStore`) and PostgreSQL (`createPostgresStore`).
 * Both must pass test/store-contract.ts.
 */

import { StorageError } from '../errors.js';

import type { HistorySnapshot } from './detections/detection.js';

export type { HistorySnapshot };

/**
 * What one delivered window adds to the per-user history. `day` is the window's day (YYYY-MM-DD).
 * Merge rules: ips[ip] = max(existing day, day); vaultChanges[day] += count (once per window key);
 * `day` is added to `days`. Bounds: days older than HISTORY_RETENTION_DAYS before the newest day are
 * dropped everywhere; at most HISTORY_MAX_IPS_PER_USER IPs per user (the most recently seen kept); users
 * with nothing left are removed.
 */
export interface HistoryContribution {
  windowKey: string;
  day: string;
  users: Record<string, { ips: string[]; vaultChanges: number }>;
}

/**
 * The last minutes of a delivered window, as fingerprints (a multiset: fingerprint → count), so the next
 * run can ask LastPass for that tail again and report events that arrived after the window was reported.
 * Only the newest delivered window's tail is kept (each completeDelivery with a tail replaces it).
 */
export interface DeliveryTail {
  windowKey: string;
  /** The wall-clock range asked of LastPass for the tail (both ends inclusive). */
  from: string;
  to: string;
  fingerprints: Record<string, number>;
}

export const HISTORY_RETENTION_DAYS = 60;
export const HISTORY_MAX_IPS_PER_USER = 50;

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
  /**
   * The window's evidence bundle as sealed before sending: its label (`<day>/<run id>`) and the SHA-256 of
   * its content manifest, the hash the digest's footer shows and the bundle's manifest records. `verify`
   * cross-checks every delivered window against the archive with it. Absent without evidence (none
   * configured, or it failed before sealing) and in records written before this field existed.
   */
  evidence?: DeliveryEvidence;
}

export interface DeliveryEvidence {
  bundle: string;
  contentSha256: string;
}

export interface DeliverySummary {
  eventsReviewed: number;
  high: number;
  medium: number;
  low: number;
  info: number;
  /** Security-relevant events per category, for trends. */
  byCategory: Record<string, number>;
  /**
   * What the delivered digest said (absent in records written before it was kept): a replica's roll-up reads
   * it from the store, so an amber digest ("check this digest") is never shown there as quiet.
   */
  verdict?: { level: VerdictLevel; text: string; findings: number };
}

/** The digest's verdict level, as the digest model decides it. */
export type VerdictLevel = 'attention' | 'review' | 'untrusted' | 'low' | 'quiet';
export const VERDICT_LEVELS: readonly VerdictLevel[] = ['attention', 'review', 'untrusted', 'low', 'quiet'];

/**
 * A send that may have been accepted (issue #13): SendGrid did not confirm it (a timeout after the request
 * was written, a reset, a 5xx, 408/429). Recorded on the intent before any re-send; every re-send of the
 * window then carries the same marker and the "Possible duplicate" notice.
 */
export interface MaybeSent {
  /** When the unconfirmed send failed (ISO). */
  at: string;
  /** What SendGrid did (a redacted, human-readable message). */
  reason: string;
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
  /** Set when an earlier send of this key may have been accepted (absent: none known, or a crash mid-send). */
  maybeSent?: MaybeSent;
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

/** The newest DELIVERED_HISTORY_LIMIT delivered windows of `list`, oldest first (compareDelivered). */
export function boundDelivered(list: DeliveredWindow[]): DeliveredWindow[] {
  const sorted = [...list].sort(compareDelivered);
  return sorted.length > DELIVERED_HISTORY_LIMIT ? sorted.slice(sorted.length - DELIVERED_HISTORY_LIMIT) : sorted;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** Whether `value` is an ISO-8601 instant with a zone (what the stores write), not merely something Date.parse reads. */
export function isInstant(value: unknown): value is string {
  return typeof value === 'string' && ISO_INSTANT.test(value) && Number.isFinite(Date.parse(value));
}

/**
 * Every stored time of a run state that is not an instant, as "cursor \"banana\"" (path and value): the
 * stores refuse such a state with an error that names them (never "nothing due" forever).
 */
export function invalidInstants(state: RunState): string[] {
  const bad: string[] = [];
  const check = (path: string, value: string | null) => {
    if (value !== null && !isInstant(value)) bad.push(`${path} ${JSON.stringify(String(value).slice(0, 40))}`);
  };
  check('cursor', state.cursor);
  check('lastSuccessAt', state.lastSuccessAt);
  if (state.pendingDelivery) {
    for (const f of ['start', 'end', 'startedAt'] as const) check(`pendingDelivery.${f}`, state.pendingDelivery[f]);
    if (state.pendingDelivery.maybeSent) check('pendingDelivery.maybeSent.at', state.pendingDelivery.maybeSent.at);
  }
  if (state.lastFailure) for (const f of ['start', 'end', 'at'] as const) check(`lastFailure.${f}`, state.lastFailure[f]);
  state.delivered.forEach((d, i) => {
    for (const f of ['start', 'end', 'deliveredAt'] as const) check(`delivered[${i}].${f}`, d[f]);
  });
  return bad;
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
      ...(d.summary.verdict ? { verdict: { ...d.summary.verdict } } : {}),
    },
    ...(d.evidence ? { evidence: { bundle: d.evidence.bundle, contentSha256: d.evidence.contentSha256 } } : {}),
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
    ...(i.maybeSent ? { maybeSent: { at: instantOf(i.maybeSent.at, 'intent.maybeSent.at'), reason: i.maybeSent.reason } } : {}),
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

// ---- per-user history: shared rules (both stores) ---------------------------------------------------

/** How many applied history window keys every store remembers (the newest), so a re-delivery counts once. */
export const HISTORY_APPLIED_WINDOWS_LIMIT = 400;

type UserHistory = HistorySnapshot['users'][string];

/** A contribution checked and tidied: IPs de-duplicated, users with nothing to add left out. */
export interface NormalisedContribution {
  windowKey: string;
  day: string;
  users: { user: string; ips: string[]; vaultChanges: number }[];
}

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** Whether `value` is a real calendar day written YYYY-MM-DD. */
export function isHistoryDay(value: unknown): value is string {
  if (typeof value !== 'string' || !DAY_PATTERN.test(value)) return false;
  const ms = Date.parse(`${value}T00:00:00.000Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === value;
}

/** The oldest day kept when `newest` is the newest day: HISTORY_RETENTION_DAYS before it (inclusive). */
export function historyCutoff(newest: string): string {
  const ms = Date.parse(`${newest}T00:00:00.000Z`) - HISTORY_RETENTION_DAYS * 86_400_000;
  return new Date(ms).toISOString().slice(0, 10);
}

/** Input checks for completeDelivery's `history`. Throws StorageError. */
export function normaliseContribution(c: HistoryContribution): NormalisedContribution {
  if (typeof c.windowKey !== 'string' || c.windowKey === '') {
    throw new StorageError('Refusing to store a history contribution without a window key');
  }
  if (!isHistoryDay(c.day)) throw new StorageError(`Refusing to store history for day ${JSON.stringify(c.day)}: it is not YYYY-MM-DD`);
  const users: NormalisedContribution['users'] = [];
  for (const [user, entry] of Object.entries(c.users)) {
    const count = entry.vaultChanges;
    if (!Number.isSafeInteger(count) || count < 0 || count > 2_147_483_647) {
      throw new StorageError(`Refusing to store history: vaultChanges of ${JSON.stringify(user)} is not a count`);
    }
    const ips = [...new Set(entry.ips.filter((ip) => typeof ip === 'string' && ip !== ''))];
    if (ips.length === 0 && count === 0) continue;
    users.push({ user, ips, vaultChanges: count });
  }
  return { windowKey: c.windowKey, day: c.day, users };
}

/** IPs ordered as the bound keeps them: most recently seen first, then by IP (code-unit order). */
function compareIpEntries(a: [string, string], b: [string, string]): number {
  if (a[1] !== b[1]) return a[1] > b[1] ? -1 : 1;
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/**
 * The reference merge (HistoryContribution's rules): returns a new snapshot; `snapshot` is not changed.
 * Users not in the contribution are only pruned by retention. The caller decides "once per window key".
 */
export function mergeHistory(snapshot: HistorySnapshot, contribution: NormalisedContribution): HistorySnapshot {
  const { day } = contribution;
  const days = [...new Set([...snapshot.days, day])].sort();
  const newest = days[days.length - 1] as string;
  const cutoff = historyCutoff(newest);
  const byUser = new Map(contribution.users.map((u) => [u.user, u]));
  const users: [string, UserHistory][] = [];
  const seen = new Set<string>();
  const build = (user: string, before: UserHistory | undefined) => {
    const add = byUser.get(user);
    const ips = new Map<string, string>();
    for (const [ip, last] of Object.entries(before?.ips ?? {})) if (last >= cutoff) ips.set(ip, last);
    for (const ip of add?.ips ?? []) {
      const last = ips.get(ip);
      if (day >= cutoff && (last === undefined || day > last)) ips.set(ip, day);
    }
    let ipEntries = [...ips];
    if (ipEntries.length > HISTORY_MAX_IPS_PER_USER) ipEntries = ipEntries.sort(compareIpEntries).slice(0, HISTORY_MAX_IPS_PER_USER);
    const vault = new Map<string, number>();
    for (const [d, n] of Object.entries(before?.vaultChanges ?? {})) if (d >= cutoff && n > 0) vault.set(d, n);
    if (add && add.vaultChanges > 0 && day >= cutoff) vault.set(day, (vault.get(day) ?? 0) + add.vaultChanges);
    if (ipEntries.length === 0 && vault.size === 0) return;
    users.push([user, { ips: Object.fromEntries(ipEntries), vaultChanges: Object.fromEntries(vault) }]);
  };
  for (const [user, before] of Object.entries(snapshot.users)) {
    seen.add(user);
    build(user, before);
  }
  for (const user of byUser.keys()) if (!seen.has(user)) build(user, undefined);
  return { users: Object.fromEntries(users), days: days.filter((d) => d >= cutoff) };
}

export function emptyHistory(): HistorySnapshot {
  return { users: {}, days: [] };
}
