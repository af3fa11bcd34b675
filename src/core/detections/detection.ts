/**
 * The shared contract of the detections that span events (and days). Each detector sees every event of
 * the window once, with its classification, keeps only what it needs, and at the end returns findings
 * that say why they fired. Pure: history and thresholds come in as values.
 */
import type { Classification } from '../classify.js';
import type { AuditEvent, Category, Severity } from '../types.js';

export interface Finding {
  /** The detector that fired, e.g. "failed-signin-burst" ("event" for a single high/medium event). */
  detector: string;
  /** Which of a detector's findings this is, where it has several ("secret-changed"): picks the guidance. */
  kind?: string;
  /** For a single-event finding: the event's category (picks the guidance). */
  category?: Category;
  severity: Severity;
  /** Short title: "Failed sign-in burst, then a successful sign-in". */
  title: string;
  /** Who or what it is about: a user, an IP, an API caller. */
  subject: string;
  /** Why it fired, with the numbers: "12 failures in 8 min from 203.0.113.9, then a successful sign-in 5 s later". */
  reason: string;
  /** The time of the latest event involved (epoch ms). */
  at: number;
  /** How many events it rests on. */
  events: number;
}

/** What each user did on earlier delivered days: the basis of "new source" and "unusual volume". */
export interface UserHistory {
  /** IP → last day (YYYY-MM-DD, UTC) it was seen signing in for this user. */
  ips: Record<string, string>;
  /** Day (YYYY-MM-DD) → vault deletions and changes that day. */
  vaultChanges: Record<string, number>;
}

export interface HistorySnapshot {
  /** Normalised username (trimmed, lower case) → history. */
  users: Record<string, UserHistory>;
  /** Days (YYYY-MM-DD) that delivered runs contributed, newest last. */
  days: string[];
}

export interface DetectionThresholds {
  /** Failed sign-in burst: at least this many failures of one user … */
  burstFailures: number;
  /** … within this many minutes. */
  burstMinutes: number;
  /** A successful sign-in this soon after a burst's last failure escalates it to high. */
  burstSuccessMinutes: number;
  /** Password spraying: one IP failing against at least this many distinct users … */
  sprayUsers: number;
  /** … within this many minutes. */
  sprayMinutes: number;
  /** New source: an IP not seen for the user in this many days. */
  newSourceDays: number;
  /** Unusual volume: at least this many vault deletions/changes by one user in the window … */
  volumeMinimum: number;
  /** … and at least this multiple of the user's median on earlier days … */
  volumeFactor: number;
  /** … with at least this many earlier days of history. */
  volumeMinDays: number;
}

export const DEFAULT_THRESHOLDS: DetectionThresholds = {
  burstFailures: 5,
  burstMinutes: 10,
  burstSuccessMinutes: 30,
  sprayUsers: 10,
  sprayMinutes: 60,
  newSourceDays: 30,
  volumeMinimum: 20,
  volumeFactor: 3,
  volumeMinDays: 5,
};

export interface DetectionContext {
  thresholds: DetectionThresholds;
  history: HistorySnapshot;
  windowStart: number;
  windowEnd: number;
  apiUser: string;
}

export interface Detector {
  readonly id: string;
  /**
   * Sees one event. Returns true when this detector will certainly report the event in one of its
   * findings (no threshold applies), so the event need not be listed again as a finding of its own.
   * The event object is the analysis's and is reused for the next row once this returns: keep copies
   * of what you need, never the object itself.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: most detectors claim nothing and simply return
  observe(event: AuditEvent, classification: Classification): boolean | void;
  /**
   * Routing for the hot path: whether events of this (known) classification can matter to this detector.
   * The analysis decides once per classification and calls `observe` only where this is true (absent:
   * always). `observe` keeps its own checks; this only spares calls that would return at once.
   */
  wants?(classification: Classification): boolean;
  finish(ctx: DetectionContext): Finding[];
  /**
   * Where this detector's state hit a bound (core/detections/detection.ts, KEYS_KEPT…): one sentence each,
   * with the exact numbers, shown in the digest as a caution. Empty (or absent) when it saw everything.
   */
  limits?(): string[];
}

/** Users or IPs one detector keeps state for at once (an attack day can bring hundreds of thousands). */
export const KEYS_KEPT = 50_000;
/** Items (failures, sign-ins, IPs, changes) one detector keeps for one user or IP. */
export const ITEMS_PER_KEY_KEPT = 10_000;

/**
 * Per-key state with a bound: at most `limit` keys. When it is full, the oldest key that still holds a
 * single item (`evictable`) makes room for a new one: a burst or a spray is many items under one key, so
 * the keys that matter stay while the single failures of an attack day come and go. When every key holds
 * more than one item, the new key is not tracked. Both are counted, for the detector's `limits()`.
 */
export interface BoundedKeys<V> {
  /** The state of `key`, made with `make` if there is room; undefined when it cannot be tracked. */
  take(key: string, make: () => V): V | undefined;
  /** `key` now holds more than one item: it is no longer let go to make room. */
  keep(key: string): void;
  readonly map: ReadonlyMap<string, V>;
  /** Keys let go to make room. */
  readonly evicted: number;
  /** Items of keys that could not be tracked at all. */
  readonly refused: number;
}

export function createBoundedKeys<V>(limit: number = KEYS_KEPT): BoundedKeys<V> {
  const map = new Map<string, V>();
  // Keys that may be let go, oldest first: a queue (array + head) of keys in the order they were added,
  // and the set of those still evictable (a key kept, or let go and added again, is skipped when its old
  // place comes up). A Map's own first key would do, but V8 walks every deleted slot in front of it: an
  // attack day made that quadratic (20 s for 300,000 events).
  let queue: string[] = [];
  let head = 0;
  const evictable = new Set<string>();
  let evicted = 0;
  let refused = 0;
  const letOneGo = (): boolean => {
    while (head < queue.length) {
      const k = queue[head++]!;
      if (evictable.delete(k)) {
        map.delete(k);
        evicted++;
        if (head > 1024 && head * 2 > queue.length) {
          queue = queue.slice(head);
          head = 0;
        }
        return true;
      }
    }
    queue = [];
    head = 0;
    return false;
  };
  return {
    take(key, make) {
      const found = map.get(key);
      if (found !== undefined) return found;
      if (map.size >= limit && (evictable.size === 0 || !letOneGo())) {
        refused++;
        return undefined;
      }
      const made = make();
      map.set(key, made);
      evictable.add(key);
      queue.push(key);
      return made;
    },
    keep(key) {
      evictable.delete(key);
    },
    map,
    get evicted() {
      return evicted;
    },
    get refused() {
      return refused;
    },
  };
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** The sentence for a detector whose keyed state hit its bound (null when it did not). */
export function keysLimitNote(detector: string, what: string, keys: BoundedKeys<unknown>, limit: number = KEYS_KEPT): string | null {
  const parts: string[] = [];
  if (keys.evicted > 0)
    parts.push(`${fmt(keys.evicted)} ${what} with a single event were let go to make room (one that recurred later was counted afresh)`);
  if (keys.refused > 0) parts.push(`${fmt(keys.refused)} events of further ${what} were not judged`);
  return parts.length === 0 ? null : `${detector}: state for at most ${fmt(limit)} ${what} is kept at once; ${parts.join('; ')}`;
}

/** Usernames seen, and their keys: a day repeats a few thousand names a million times (bounded). */
const userKeys = new Map<string, string>();

/** Any character that trimming or lower-casing could change (outside printable ASCII, or A-Z). */
const NOT_PLAIN = /[^!-@[-~]/;

/** The per-user key: trimmed, lower case. */
export const userKey = (username: string): string => {
  // Most names already are their key: no cache entry for them (on an attack day the cache would churn
  // through hundreds of thousands of names, each kept long enough to become old-generation garbage).
  if (!NOT_PLAIN.test(username)) return username;
  let key = userKeys.get(username);
  if (key === undefined) {
    key = username.trim().toLowerCase();
    if (userKeys.size >= 20_000) userKeys.clear();
    userKeys.set(username, key);
  }
  return key;
};

/** "8 min", "45 s", "2 h 5 min" */
export function formatSpan(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}
