/**
 * The streaming analysis of one window: events go in one at a time as pages arrive; only what the digest
 * and the detections need is kept (counts, the security-relevant events, unrecognised names with a sample,
 * per-user sign-in IPs and vault-change counts). Benign events cost a few counter increments, so memory
 * does not grow with them.
 */
import { createClassifier } from './classify.js';
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

export interface AnalysisResult {
  /** Every row of the window except this worker's own API rows. */
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
  result(): AnalysisResult;
}

/** Unrecognised events kept for the attachments: a renamed high-volume action must not grow memory without bound. */
export const UNRECOGNISED_ROWS_KEPT = 5_000;

export const zeroCounts = (): SeverityCounts => ({ high: 0, medium: 0, low: 0, info: 0 });

export const EMPTY_HISTORY: HistorySnapshot = { users: {}, days: [] };

export function createAnalysis(options: {
  apiUser: string;
  windowStart: number;
  windowEnd: number;
  catalogue?: readonly CatalogueEntry[];
  history?: HistorySnapshot;
  thresholds?: DetectionThresholds;
  detectors?: Detector[];
}): Analysis {
  const classify = createClassifier(
    options.catalogue ? { apiUser: options.apiUser, catalogue: options.catalogue } : { apiUser: options.apiUser },
  );
  const detectors = options.detectors ?? createAllDetectors();
  const bySeverity = zeroCounts();
  const byCategory = new Map<Category, SeverityCounts>();
  const relevant: RelevantEvent[] = [];
  const unrecognised = new Map<string, UnrecognisedName>();
  const unrecognisedRows: ClassifiedEvent[] = [];
  const history = new Map<string, { ips: Set<string>; vaultChanges: number }>();
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

  return {
    add(event) {
      const c = classify(event);
      if (c.kind === 'own-api') {
        ownApiRows++;
        return;
      }
      eventsReviewed++;
      const h = hourOf(event.at);
      hourlyTotal[h]!++;
      if (c.kind === 'unrecognised') {
        unrecognisedEvents++;
        const key = event.action.trim();
        const seen = unrecognised.get(key);
        if (seen) seen.count++;
        else unrecognised.set(key, { action: key, count: 1, sample: event.data });
        if (unrecognisedRows.length < UNRECOGNISED_ROWS_KEPT) {
          unrecognisedRows.push({ ...event, category: 'Unrecognised', severity: 'info', note: 'action name not in the catalogue' });
        }
        return;
      }
      bySeverity[c.severity]++;
      let cat = byCategory.get(c.category);
      if (!cat) byCategory.set(c.category, (cat = zeroCounts()));
      cat[c.severity]++;
      let claimedBy: string | undefined;
      for (const d of detectors) if (d.observe(event, c) === true && claimedBy === undefined) claimedBy = d.id;
      if (c.category === 'Sign-in') {
        if (isFailedSignIn(c)) hourlyFailures[h]!++;
        else if (event.ip && event.username && isSuccessfulSignIn(c)) historyOf(event.username).ips.add(event.ip);
      } else if (event.username && isVaultChange(c)) {
        historyOf(event.username).vaultChanges++;
      }
      if (c.severity !== 'info') {
        const classified: RelevantEvent = { ...event, category: c.category, severity: c.severity };
        if (c.note) classified.note = c.note;
        if (c.why) classified.why = c.why;
        if (claimedBy) classified.claimedBy = claimedBy;
        relevant.push(classified);
      }
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
      };
    },
  };
}

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}
