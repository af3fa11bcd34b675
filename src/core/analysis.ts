/**
 * The streaming analysis of one window: events go in one at a time as pages arrive; only what the digest
 * and the detections need is kept (counts, the security-relevant events, unrecognised names with a sample,
 * per-user sign-in IPs and vault-change counts). Benign events cost a few counter increments, so memory
 * does not grow with them.
 */
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
import { SEVERITIES, type AuditEvent, type Category, type ClassifiedEvent, type RawEvent, type Severity } from './types.js';

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
  bySeverity: SeverityCounts;
  byCategory: Map<Category, SeverityCounts>;
  /** Events of severity low or above, newest first. */
  relevant: RelevantEvent[];
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

export interface Analysis {
  add(event: AuditEvent): void;
  /**
   * The hot path: one row as LastPass sent it, with its instant already resolved. Same effect as
   * `add({ at, wall: Time, username: Username, ip: IP_Address, action: Action.trim(), data: Data })`, but
   * an event object is only made for events that a detection or the attachments keep.
   */
  addRow(row: RawEvent, at: number): void;
  /** `addRow` with the row's fields as values (the page processors read rows as columns). */
  addValues(at: number, time: string, username: string, ip: string, action: string, data: string): void;
  result(): AnalysisResult;
}

/** Unrecognised events kept for the attachments: a renamed high-volume action must not grow memory without bound. */
export const UNRECOGNISED_ROWS_KEPT = 5_000;

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
}): Analysis {
  const noise = createNoiseControl(options);
  const classify = createClassifier(
    options.catalogue ? { apiUser: options.apiUser, catalogue: options.catalogue, noise } : { apiUser: options.apiUser, noise },
  );
  const detectors = options.detectors ?? createAllDetectors();
  const bySeverity = zeroCounts();
  const byCategory = new Map<Category, SeverityCounts>();
  const relevant: RelevantEvent[] = [];
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
  let unrecognisedEvents = 0;

  const hourOf = (at: number) => Math.min(hours - 1, Math.max(0, Math.floor((at - origin) / 3_600_000)));
  const historyOf = (username: string) => {
    const key = userKey(username);
    let h = history.get(key);
    if (!h) history.set(key, (h = { ips: new Set(), vaultChanges: 0 }));
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

  /** The event object the detectors see for rows that have none of their own (filled in per row). */
  const scratch: AuditEvent = { at: 0, wall: '', username: '', ip: '', action: '', data: '' };

  /** One event, by its fields; `given` is the caller's event object when there is one. */
  function addFields(at: number, wall: string, username: string, ip: string, action: string, data: string, given: AuditEvent | null): void {
    if (noise.ignores(username)) return;
    const c = classify(action, data, ip);
    if (c.kind === 'own-api') {
      ownApiRows++;
      return;
    }
    eventsReviewed++;
    const h = hourOf(at);
    hourlyTotal[h]!++;
    if (c.kind === 'unrecognised') {
      unrecognisedEvents++;
      const seen = unrecognised.get(action);
      if (seen) seen.count++;
      else unrecognised.set(action, { action, count: 1, sample: data });
      if (unrecognisedRows.length < UNRECOGNISED_ROWS_KEPT) {
        unrecognisedRows.push({
          at,
          wall,
          username,
          ip,
          action: given ? given.action : action,
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
      // Detectors copy what they keep (Detector.observe), so one event object serves every row.
      let event = given;
      if (event === null) {
        event = scratch;
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
      if (ip && username) historyOf(username).ips.add(ip);
    } else if (route.vaultChange && username) {
      historyOf(username).vaultChanges++;
    }
    if (route.relevant) {
      // One literal: a spread of an intermediate event object here cost ≈300 bytes more per kept event
      // (what the analysis holds at the end of a day of a million events went from 7.5 MB to 3.3 MB).
      const classified: RelevantEvent = {
        at,
        wall,
        username,
        ip,
        action: given ? given.action : action,
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
    add(event) {
      addFields(event.at, event.wall, event.username, event.ip, event.action.trim(), event.data, event);
    },
    addRow(row, at) {
      addFields(at, row.Time, row.Username, row.IP_Address, row.Action.trim(), row.Data, null);
    },
    addValues(at, time, username, ip, action, data) {
      addFields(at, time, username, ip, action.trim(), data, null);
    },
    result() {
      const sorted = [...relevant].sort((a, b) => b.at - a.at || severityRank(a.severity) - severityRank(b.severity));
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
      const contribution: AnalysisResult['history'] = {};
      for (const [key, h] of history) contribution[key] = { ips: [...h.ips], vaultChanges: h.vaultChanges };
      return {
        eventsReviewed,
        ownApiRows,
        bySeverity: { ...bySeverity },
        byCategory: new Map(byCategory),
        relevant: sorted,
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
