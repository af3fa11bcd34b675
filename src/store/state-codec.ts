/**
 * The file store's files as text: encoding and decoding (with validation) of state.json, history.json and
 * tail.json. Pure: no file system. Every problem with state.json or history.json is a StorageError that
 * names the file and says what to do; a damaged tail.json decodes to null (it only serves late-arrival
 * detection).
 */
import { describeError, StorageError } from '../errors.js';
import {
  boundDelivered,
  invalidInstants,
  isHistoryDay,
  type DeliveredWindow,
  type DeliveryEvidence,
  type DeliveryIntent,
  type DeliverySummary,
  type DeliveryTail,
  type FailureRecord,
  type HistorySnapshot,
  type RunState,
  VERDICT_LEVELS,
  type VerdictLevel,
} from '../core/run-state.js';

/** The format of state.json this build writes (and the newest it reads). */
export const FILE_STORE_FORMAT_VERSION = 1;
/** The format of history.json this build writes (and the newest it reads). */
export const HISTORY_FORMAT_VERSION = 1;
/** The format tail.json is written in (not checked on reading). */
export const TAIL_FORMAT_VERSION = 1;

/** history.json: the per-user history and the windows merged into it. */
export interface HistoryFile {
  /** Window keys whose history is merged in, oldest first; the newest HISTORY_APPLIED_WINDOWS_LIMIT. */
  appliedWindows: string[];
  history: HistorySnapshot;
}

export function encodeStateFile(state: RunState): string {
  return `${JSON.stringify({ version: FILE_STORE_FORMAT_VERSION, ...state }, null, 2)}\n`;
}

export function encodeHistoryFile(file: HistoryFile): string {
  // Compact: with 100k users this is a few MB.
  return `${JSON.stringify({ version: HISTORY_FORMAT_VERSION, appliedWindows: file.appliedWindows, ...file.history })}\n`;
}

export function encodeTailFile(tail: DeliveryTail): string {
  return `${JSON.stringify({ version: TAIL_FORMAT_VERSION, ...tail })}\n`;
}

/** The tail as written by encodeTailFile, or null when it is not one. */
export function decodeTailFile(raw: string): DeliveryTail | null {
  let t: Partial<DeliveryTail>;
  try {
    t = JSON.parse(raw) as Partial<DeliveryTail>;
  } catch {
    return null;
  }
  if (
    typeof t !== 'object' ||
    t === null ||
    typeof t.windowKey !== 'string' ||
    typeof t.from !== 'string' ||
    typeof t.to !== 'string' ||
    typeof t.fingerprints !== 'object' ||
    t.fingerprints === null
  ) {
    return null;
  }
  return { windowKey: t.windowKey, from: t.from, to: t.to, fingerprints: t.fingerprints };
}

// ---- decoding state.json ------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class Invalid extends Error {}

function at(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

/**
 * Parses a versioned JSON file of this store and checks its format version; every failure is a
 * StorageError that names the file and says what to do (`fix`). Returns the top-level record.
 */
function decodeVersioned(
  raw: string,
  file: string,
  what: 'state' | 'history',
  maxVersion: number,
  fix: string,
): Record<string, unknown> & { version: number } {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    const how = raw.trim() === '' ? 'is empty' : `is not valid JSON (${describeError(error)})`;
    throw new StorageError(`The ${what} file ${file} ${how}; it may have been cut short by a crash or edited by hand. ${fix}`);
  }
  if (!isRecord(value) || typeof value.version !== 'number' || !Number.isInteger(value.version)) {
    throw new StorageError(`The ${what} file ${file} has no format version: it is not a lastpass-audit-digest ${what} file. ${fix}`);
  }
  if (value.version > maxVersion) {
    throw new StorageError(
      `The ${what} file ${file} has format version ${value.version}, written by a newer lastpass-audit-digest (this one reads up to ${maxVersion}): upgrade this installation`,
    );
  }
  return value as Record<string, unknown> & { version: number };
}

export function decodeStateFile(raw: string, file: string): { formatVersion: number; state: RunState } {
  const fix = `Run state is never reset automatically: restore ${file} from a backup, or move it aside (for example to ${file}.bad) to start from an empty state, after which the next run covers the default window again`;
  const value = decodeVersioned(raw, file, 'state', FILE_STORE_FORMAT_VERSION, fix);
  try {
    const state = decodeRunState(value);
    const bad = invalidInstants(state);
    if (bad.length > 0) {
      throw new StorageError(
        `The state file ${file} holds ${bad.length === 1 ? 'a time that is' : 'times that are'} not an ISO-8601 instant: ${bad.join(', ')}. Nothing can be planned from it. Set ${bad.length === 1 ? 'it' : 'each'} to an instant such as "2025-03-10T07:00:00.000Z" (the cursor: the end of the last window you know was reported, or null to cover the last 24 hours next; a pendingDelivery: null), or ${fix.charAt(0).toLowerCase()}${fix.slice(1)}`,
      );
    }
    return { formatVersion: value.version, state: { ...state, delivered: boundDelivered(state.delivered) } };
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    throw new StorageError(`The state file ${file} is malformed (${error.message}). ${fix}`);
  }
}

function field(record: Record<string, unknown>, name: string, path: string): unknown {
  if (!(name in record)) throw new Invalid(`${at(path, name)} is missing`);
  return record[name];
}

function str(record: Record<string, unknown>, name: string, path: string): string {
  const v = field(record, name, path);
  if (typeof v !== 'string') throw new Invalid(`${at(path, name)} is not a string`);
  return v;
}

function strOrNull(record: Record<string, unknown>, name: string, path: string): string | null {
  const v = field(record, name, path);
  if (v !== null && typeof v !== 'string') throw new Invalid(`${at(path, name)} is not a string or null`);
  return v;
}

function count(record: Record<string, unknown>, name: string, path: string): number {
  const v = field(record, name, path);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Invalid(`${at(path, name)} is not a count`);
  return v;
}

function obj(value: unknown, path: string): Record<string, unknown> {
  if (!isRecord(value)) throw new Invalid(`${path === '' ? 'the top level' : path} is not an object`);
  return value;
}

// ---- decoding history.json ----------------------------------------------------------------------

export function decodeHistoryFile(raw: string, file: string): HistoryFile {
  const fix = `Move it aside (for example to ${file}.bad) to start the per-user history afresh: the detections that compare with earlier days stay quiet until it builds up again`;
  const value = decodeVersioned(raw, file, 'history', HISTORY_FORMAT_VERSION, fix);
  try {
    return decodeHistory(value);
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    throw new StorageError(`The history file ${file} is malformed (${error.message}). ${fix}`);
  }
}

function decodeHistory(h: Record<string, unknown>): HistoryFile {
  const applied = field(h, 'appliedWindows', '');
  if (!Array.isArray(applied) || !applied.every((k) => typeof k === 'string')) throw new Invalid('appliedWindows is not a list of keys');
  const days = field(h, 'days', '');
  if (!Array.isArray(days) || !days.every(isHistoryDay)) throw new Invalid('days is not a list of YYYY-MM-DD days');
  const usersRaw = obj(field(h, 'users', ''), 'users');
  // JSON.parse made every user an own property (even "__proto__"); Object.fromEntries keeps it that way.
  const users = Object.entries(usersRaw).map(([user, value]) => {
    const path = `users[${JSON.stringify(user)}]`;
    const u = obj(value, path);
    const ips = obj(field(u, 'ips', path), `${path}.ips`);
    for (const [ip, last] of Object.entries(ips))
      if (!isHistoryDay(last)) throw new Invalid(`${path}.ips[${JSON.stringify(ip)}] is not a day`);
    const vault = obj(field(u, 'vaultChanges', path), `${path}.vaultChanges`);
    for (const day of Object.keys(vault)) {
      if (!isHistoryDay(day)) throw new Invalid(`${path}.vaultChanges has a key that is not a day`);
      count(vault, day, `${path}.vaultChanges`);
    }
    return [user, { ips: ips as Record<string, string>, vaultChanges: vault as Record<string, number> }] as const;
  });
  return {
    appliedWindows: applied as string[],
    history: { users: Object.fromEntries(users), days: [...(days as string[])].sort() },
  };
}

function decodeRunState(value: unknown): RunState {
  const s = obj(value, '');
  const deliveredRaw = field(s, 'delivered', '');
  if (!Array.isArray(deliveredRaw)) throw new Invalid('delivered is not a list');
  const pending = field(s, 'pendingDelivery', '');
  const failure = field(s, 'lastFailure', '');
  return {
    cursor: strOrNull(s, 'cursor', ''),
    delivered: deliveredRaw.map((d: unknown, i) => decodeDelivered(d, `delivered[${i}]`)),
    pendingDelivery: pending === null ? null : decodeIntent(pending, 'pendingDelivery'),
    consecutiveFailures: count(s, 'consecutiveFailures', ''),
    lastFailure: failure === null ? null : decodeFailure(failure, 'lastFailure'),
    lastSuccessAt: strOrNull(s, 'lastSuccessAt', ''),
  };
}

/** The optional evidence of a delivered window: absent in records written before it existed. */
function decodeDeliveryEvidence(d: Record<string, unknown>, path: string): { evidence?: DeliveryEvidence } {
  if (!('evidence' in d) || d.evidence === undefined) return {};
  const e = obj(d.evidence, `${path}.evidence`);
  const contentSha256 = str(e, 'contentSha256', `${path}.evidence`);
  if (!/^[0-9a-f]{64}$/.test(contentSha256)) throw new Invalid(`${path}.evidence.contentSha256 is not a SHA-256 (64 hex digits)`);
  return { evidence: { bundle: str(e, 'bundle', `${path}.evidence`), contentSha256 } };
}

function decodeDelivered(value: unknown, path: string): DeliveredWindow {
  const d = obj(value, path);
  const summary = obj(field(d, 'summary', path), `${path}.summary`);
  const byCategoryRaw = obj(field(summary, 'byCategory', `${path}.summary`), `${path}.summary.byCategory`);
  const byCategory: Record<string, number> = {};
  for (const name of Object.keys(byCategoryRaw)) byCategory[name] = count(byCategoryRaw, name, `${path}.summary.byCategory`);
  return {
    key: str(d, 'key', path),
    start: str(d, 'start', path),
    end: str(d, 'end', path),
    deliveredAt: str(d, 'deliveredAt', path),
    messageId: strOrNull(d, 'messageId', path),
    marker: str(d, 'marker', path),
    ...decodeDeliveryEvidence(d, path),
    summary: {
      eventsReviewed: count(summary, 'eventsReviewed', `${path}.summary`),
      high: count(summary, 'high', `${path}.summary`),
      medium: count(summary, 'medium', `${path}.summary`),
      low: count(summary, 'low', `${path}.summary`),
      info: count(summary, 'info', `${path}.summary`),
      byCategory,
      ...decodeVerdict(summary, `${path}.summary`),
    },
  };
}

/** The delivered digest's verdict, when the record has one (older records do not). */
function decodeVerdict(summary: Record<string, unknown>, path: string): Pick<DeliverySummary, 'verdict'> {
  if (summary.verdict === undefined) return {};
  const v = obj(summary.verdict, `${path}.verdict`);
  const level = str(v, 'level', `${path}.verdict`);
  if (!(VERDICT_LEVELS as readonly string[]).includes(level)) throw new Invalid(`${path}.verdict.level is not a verdict level`);
  return {
    verdict: { level: level as VerdictLevel, text: str(v, 'text', `${path}.verdict`), findings: count(v, 'findings', `${path}.verdict`) },
  };
}

function decodeIntent(value: unknown, path: string): DeliveryIntent {
  const i = obj(value, path);
  return {
    key: str(i, 'key', path),
    start: str(i, 'start', path),
    end: str(i, 'end', path),
    marker: str(i, 'marker', path),
    startedAt: str(i, 'startedAt', path),
    attempt: count(i, 'attempt', path),
    ...(i.maybeSent === undefined || i.maybeSent === null
      ? {}
      : (() => {
          const m = obj(i.maybeSent, `${path}.maybeSent`);
          return { maybeSent: { at: str(m, 'at', `${path}.maybeSent`), reason: str(m, 'reason', `${path}.maybeSent`) } };
        })()),
  };
}

function decodeFailure(value: unknown, path: string): FailureRecord {
  const f = obj(value, path);
  return {
    key: str(f, 'key', path),
    start: str(f, 'start', path),
    end: str(f, 'end', path),
    at: str(f, 'at', path),
    message: str(f, 'message', path),
  };
}
