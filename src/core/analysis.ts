/**
 * The streaming analysis of one window: events go in one at a time as pages arrive; only what the digest
 * and the detections need is kept (counts, the security-relevant events, unrecognised names with a sample,
 * per-user sign-in IPs and vault-change counts). Benign events cost a few counter increments, so memory
 * does not grow with them.
 *
 * Memory is bounded by design, not by the day's luck (an attack day brings hundreds of thousands of
 * distinct users and IPs): every per-key structure has a stated bound (RELEVANT_ROWS_KEPT,
 * HISTORY_USERS_KEPT, UNRECOGNISED_NAMES_KEPT here; KEYS_KEPT and ITEMS_PER_KEY_KEPT in the detectors).
 * The counts stay exact, and where a bound is reached the result says so in `limits`.
 */
import { createBoundedRows } from './bounded-rows.js';
import { createClassifier, type Classification } from './classify.js';
import type { CatalogueEntry } from './catalogue.js';
import { createAllDetectors } from './detections/all-detectors.js';
import {
  DEFAULT_THRESHOLDS,
  userKey,
  type DetectionThresholds,
  type Detector,
  type Finding,
  type HistorySnapshot,
} from './detections/detection.js';
import { isFailedSignIn, isSuccessfulSignIn } from './detections/failed-signin-burst.js';
import { isVaultChange } from './detections/unusual-volume.js';
import type { IgnoreUserRule } from './ignore-users.js';
import type { KnownApiCaller } from './known-callers.js';
import { createNoiseControl, type NoiseSummary } from './noise-control.js';
import type { SeverityOverride } from './severity-overrides.js';
import { SEVERITIES, type AuditEvent, type Category, type ClassifiedEvent, type Severity } from './types.js';

export type SeverityCounts = Record<Severity, number>;

export interface UnrecognisedName {
  action: string;
  count: number;
  sample: string;
}

/** A security-relevant event, with whether a detection already reports it. */
export interface RelevantEvent extends ClassifiedEvent {
  /** The detector whose finding includes this event, if any. */
  claimedBy?: string;
  /** Why the catalogue rates it (high/medium), for a single-event finding. */
  why?: string;
}

export interface AnalysisResult extends NoiseSummary {
  /** Every row of the window except this worker's own API rows and the ignored users' events. */
  eventsReviewed: number;
  ownApiRows: number;
  /** Those rows per wall time (at most OWN_API_WALLS_KEPT times): the zone self-check matches them to its requests. */
  ownApiWalls: Record<string, number>;
  bySeverity: SeverityCounts;
  byCategory: Map<Category, SeverityCounts>;
  /**
   * Events of severity low or above, newest first: at most RELEVANT_ROWS_KEPT, the most severe and then
   * the newest kept (the counts in bySeverity/byCategory stay exact; `relevantTotal` is how many there were).
   */
  relevant: RelevantEvent[];
  /** Every event of severity low or above in the window, kept in `relevant` or not. */
  relevantTotal: number;
  /**
   * Where a bound on what the analysis keeps was reached, one sentence each with the exact numbers (the
   * relevant rows, the history, unrecognised names, a detector's state). The digest shows them as a
   * caution: a day that hit a bound is never a green all-clear. Empty when everything fitted.
   */
  limits: string[];
  /** Actions the catalogue does not know, most frequent first. */
  unrecognised: UnrecognisedName[];
  unrecognisedEvents: number;
  /** The unrecognised events themselves, for the attachments (at most UNRECOGNISED_ROWS_KEPT). */
  unrecognisedRows: ClassifiedEvent[];
  /** Events per clock hour (index 0 = the hour containing the window start), for the chart. */
  hourly: { total: number[]; failures: number[] };
  /** Detections that span events, high first, newest first. */
  findings: Finding[];
  /** What this window adds to the per-user history (applied only when the digest is delivered). */
  history: Record<string, { ips: string[]; vaultChanges: number }>;
}

/**
 * Where events go, one at a time. The caller may hand in the same object for every event (the LastPass
 * client's page reader does): a sink copies what it keeps and never holds on to `event` itself.
 */
export interface EventSink {
  add(event: AuditEvent): void;
}

export interface Analysis extends EventSink {
  /**
   * Takes one event. Its action name is matched, kept and shown trimmed (detectors see it trimmed too); an
   * event object is only made for the events that a detection or the attachments keep.
   */
  add(event: AuditEvent): void;
  result(): AnalysisResult;
}

/** Wall times of this worker's own API rows kept for the zone self-check. */
export const OWN_API_WALLS_KEPT = 2_000;

/** Unrecognised events kept for the attachments: a renamed high-volume action must not grow memory without bound. */
export const UNRECOGNISED_ROWS_KEPT = 5_000;

/** Security-relevant events kept for the digest's lists and the attachments (the counts cover them all). */
export const RELEVANT_ROWS_KEPT = 25_000;

/** Users whose sign-in IPs and vault changes go into the history, and IPs kept per user (the store keeps 50). */
export const HISTORY_USERS_KEPT = 50_000;
export const HISTORY_IPS_PER_USER = 50;

/** Distinct unrecognised action names counted one by one (the rest are counted together). */
export const UNRECOGNISED_NAMES_KEPT = 1_000;

const fmt = (n: number) => n.toLocaleString('en-US');

export const zeroCounts = (): SeverityCounts => ({ high: 0, medium: 0, low: 0, info: 0 });

export const EMPTY_HISTORY: HistorySnapshot = { users: {}, days: [] };

/** What one (known) classification leads to, worked out once per classification rather than per event. */
interface Route {
  severity: Severity;
  /** The counters of its category. */
  counts: SeverityCounts;
  /** The detectors that want events of this classification. */
  detectors: Detector[];
  failure: boolean;
  success: boolean;
  vaultChange: boolean;
  /** low or above: listed in the attachments. */
  relevant: boolean;
}

export function createAnalysis(options: {
  apiUser: string;
  windowStart: number;
  windowEnd: number;
  catalogue?: readonly CatalogueEntry[];
  history?: HistorySnapshot;
  thresholds?: DetectionThresholds;
  detectors?: Detector[];
  /** LASTPASS_KNOWN_API_CALLERS: their calls are info (and listed in the coverage), not findings. */
  knownApiCallers?: readonly KnownApiCaller[];
  /** REPORT_SEVERITY_OVERRIDES. */
  severityOverrides?: readonly SeverityOverride[];
  /** REPORT_IGNORE_USERS: their events are not reviewed (and counted per rule). */
  ignoreUsers?: readonly IgnoreUserRule[];
  /** RELEVANT_ROWS_KEPT unless given (tests). */
  relevantRowsKept?: number;
}): Analysis {
  const noise = createNoiseControl(options);
  const classify = createClassifier(
    options.catalogue ? { apiUser: options.apiUser, catalogue: options.catalogue, noise } : { apiUser: options.apiUser, noise },
  );
  const detectors = options.detectors ?? createAllDetectors();
  const bySeverity = zeroCounts();
  const byCategory = new Map<Category, SeverityCounts>();
  const relevant = createBoundedRows<RelevantEvent>(options.relevantRowsKept ?? RELEVANT_ROWS_KEPT);
  const unrecognised = new Map<string, UnrecognisedName>();
  const unrecognisedRows: ClassifiedEvent[] = [];
  const history = new Map<string, { ips: Set<string>; vaultChanges: number }>();
  // Per classification object: the classifier shares one per action name (the few it makes per event go
  // with their event).
  const routes = new WeakMap<Classification, Route>();
  // Hours of the chart are clock hours, starting with the one that contains the window start.
  const origin = Math.floor(options.windowStart / 3_600_000) * 3_600_000;
  const hours = Math.max(1, Math.ceil((options.windowEnd - origin) / 3_600_000));
  const hourlyTotal = new Array<number>(hours).fill(0);
  const hourlyFailures = new Array<number>(hours).fill(0);
  let eventsReviewed = 0;
  let ownApiRows = 0;
  const ownApiWalls = new Map<string, number>();
  let unrecognisedEvents = 0;
  let unrecognisedNamesOver = 0;
  let historyUsersOver = 0;
  let historyIpsOver = 0;

  const hourOf = (at: number) => Math.min(hours - 1, Math.max(0, Math.floor((at - origin) / 3_600_000)));
  const historyOf = (username: string) => {
    const key = userKey(username);
    let h = history.get(key);
    if (!h) {
      if (history.size >= HISTORY_USERS_KEPT) {
        historyUsersOver++;
        return undefined;
      }
      history.set(key, (h = { ips: new Set(), vaultChanges: 0 }));
    }
    return h;
  };
  const routeOf = (c: Classification & { kind: 'known' }): Route => {
    let route = routes.get(c);
    if (route) return route;
    let counts = byCategory.get(c.category);
    if (!counts) byCategory.set(c.category, (counts = zeroCounts()));
    route = {
      severity: c.severity,
      counts,
      detectors: detectors.filter((d) => d.wants?.(c) ?? true),
      failure: isFailedSignIn(c),
      success: isSuccessfulSignIn(c),
      vaultChange: c.category !== 'Sign-in' && isVaultChange(c),
      relevant: c.severity !== 'info',
    };
    routes.set(c, route);
    return route;
  };

  /** What the detectors see when the caller's event has an untrimmed action name (filled in per event). */
  const trimmed: AuditEvent = { at: 0, wall: '', username: '', ip: '', action: '', data: '' };

  function add(given: AuditEvent): void {
    const { at, wall, username, ip, data } = given;
    if (noise.ignores(username)) return;
    const action = given.action.trim();
    const c = classify(action, data, ip);
    if (c.kind === 'own-api') {
      ownApiRows++;
      const seen = ownApiWalls.get(wall);
      if (seen !== undefined) ownApiWalls.set(wall, seen + 1);
      else if (ownApiWalls.size < OWN_API_WALLS_KEPT) ownApiWalls.set(wall, 1);
      return;
    }
    eventsReviewed++;
    const h = hourOf(at);
    hourlyTotal[h]!++;
    if (c.kind === 'unrecognised') {
      unrecognisedEvents++;
      const seen = unrecognised.get(action);
      if (seen) seen.count++;
      else if (unrecognised.size < UNRECOGNISED_NAMES_KEPT) unrecognised.set(action, { action, count: 1, sample: data });
      else unrecognisedNamesOver++;
      if (unrecognisedRows.length < UNRECOGNISED_ROWS_KEPT) {
        unrecognisedRows.push({
          at,
          wall,
          username,
          ip,
          action,
          data,
          category: 'Unrecognised',
          severity: 'info',
          note: 'action name not in the catalogue',
        });
      }
      return;
    }
    const route = routeOf(c);
    bySeverity[route.severity]++;
    route.counts[route.severity]++;
    let claimedBy: string | undefined;
    const routed = route.detectors;
    if (routed.length > 0) {
      // Detectors copy what they keep (Detector.observe), so one event object serves every event.
      let event = given;
      if (action !== given.action) {
        event = trimmed;
        event.at = at;
        event.wall = wall;
        event.username = username;
        event.ip = ip;
        event.action = action;
        event.data = data;
      }
      for (let i = 0; i < routed.length; i++) {
        const d = routed[i]!;
        if (d.observe(event, c) === true && claimedBy === undefined) claimedBy = d.id;
      }
    }
    if (route.failure) hourlyFailures[h]!++;
    else if (route.success) {
      if (ip && username) {
        const ips = historyOf(username)?.ips;
        if (ips && !ips.has(ip)) {
          if (ips.size < HISTORY_IPS_PER_USER) ips.add(ip);
          else historyIpsOver++;
        }
      }
    } else if (route.vaultChange && username) {
      const h = historyOf(username);
      if (h) h.vaultChanges++;
    }
    if (route.relevant) {
      // One literal: a spread of an intermediate event object here cost ≈300 bytes more per kept event
      // (what the analysis holds at the end of a day of a million events went from 7.5 MB to 3.3 MB).
      const classified: RelevantEvent = {
        at,
        wall,
        username,
        ip,
        action,
        data,
        category: c.category,
        severity: c.severity,
      };
      if (c.note) classified.note = c.note;
      if (c.why) classified.why = c.why;
      if (claimedBy) classified.claimedBy = claimedBy;
      relevant.push(classified);
    }
  }

  return {
    add,
    result() {
      const sorted = [...relevant.held].sort((a, b) => b.at - a.at || severityRank(a.severity) - severityRank(b.severity));
      const ctx = {
        thresholds: options.thresholds ?? DEFAULT_THRESHOLDS,
        history: options.history ?? EMPTY_HISTORY,
        windowStart: options.windowStart,
        windowEnd: options.windowEnd,
        apiUser: options.apiUser,
      };
      const findings = detectors
        .flatMap((d) => d.finish(ctx))
        .sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || b.at - a.at);
      const limits: string[] = [];
      const dropped = relevant.dropped;
      const droppedTotal = dropped.high + dropped.medium + dropped.low;
      if (droppedTotal > 0) {
        const bySev = SEVERITIES.filter((s) => s !== 'info' && dropped[s] > 0)
          .map((s) => `${fmt(dropped[s])} ${s}`)
          .join(', ');
        limits.push(
          `Security-relevant events: ${fmt(relevant.total)} in this window; the ${fmt(sorted.length)} most severe and newest are listed and attached, ${fmt(droppedTotal)} (${bySev}) are counted but not listed`,
        );
      }
      if (historyUsersOver > 0)
        limits.push(
          `History: sign-in IPs and vault changes are recorded for at most ${fmt(HISTORY_USERS_KEPT)} users a window; ${fmt(historyUsersOver)} events of further users are not recorded`,
        );
      if (historyIpsOver > 0)
        limits.push(
          `History: at most ${HISTORY_IPS_PER_USER} sign-in IPs per user are recorded a window; ${fmt(historyIpsOver)} sign-ins from further IPs are not recorded`,
        );
      if (unrecognisedEvents > UNRECOGNISED_ROWS_KEPT)
        limits.push(`Unrecognised events: ${fmt(unrecognisedEvents)} in this window; ${fmt(UNRECOGNISED_ROWS_KEPT)} of them are attached`);
      if (unrecognisedNamesOver > 0)
        limits.push(
          `Unrecognised events: ${fmt(UNRECOGNISED_NAMES_KEPT)} distinct action names are listed; ${fmt(unrecognisedNamesOver)} events with further names are counted but not listed by name`,
        );
      for (const d of detectors) limits.push(...(d.limits?.() ?? []));
      const contribution: AnalysisResult['history'] = {};
      for (const [key, h] of history) contribution[key] = { ips: [...h.ips], vaultChanges: h.vaultChanges };
      return {
        eventsReviewed,
        ownApiRows,
        ownApiWalls: Object.fromEntries(ownApiWalls),
        bySeverity: { ...bySeverity },
        byCategory: new Map(byCategory),
        relevant: sorted,
        relevantTotal: relevant.total,
        limits,
        unrecognised: [...unrecognised.values()].sort((a, b) => b.count - a.count || a.action.localeCompare(b.action)),
        unrecognisedEvents,
        unrecognisedRows: [...unrecognisedRows].sort((a, b) => b.at - a.at),
        hourly: { total: hourlyTotal, failures: hourlyFailures },
        findings,
        history: contribution,
        ...noise.summary(),
      };
    },
  };
}

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}
