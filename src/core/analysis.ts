/**
 * The streaming analysis of one window: events go in one at a time as pages arrive; only what the digest
 * needs is kept (counts, the security-relevant events, unrecognised names with a sample). Benign events
 * cost a counter increment, so memory does not grow with them.
 */
import { createClassifier } from './classify.js';
import type { CatalogueEntry } from './catalogue.js';
import { SEVERITIES, type AuditEvent, type Category, type ClassifiedEvent, type Severity } from './types.js';

export type SeverityCounts = Record<Severity, number>;

export interface UnrecognisedName {
  action: string;
  count: number;
  sample: string;
}

export interface AnalysisResult {
  /** Every row of the window except this worker's own API rows. */
  eventsReviewed: number;
  ownApiRows: number;
  bySeverity: SeverityCounts;
  byCategory: Map<Category, SeverityCounts>;
  /** Events of severity low or above, newest first. */
  relevant: ClassifiedEvent[];
  /** Actions the catalogue does not know, most frequent first. */
  unrecognised: UnrecognisedName[];
  unrecognisedEvents: number;
  /** Events per hour of the window (index 0 = the hour starting at window start), for charts. */
  hourly: { total: number[]; failures: number[] };
}

export interface Analysis {
  add(event: AuditEvent): void;
  result(): AnalysisResult;
}

export const zeroCounts = (): SeverityCounts => ({ high: 0, medium: 0, low: 0, info: 0 });

export function createAnalysis(options: {
  apiUser: string;
  windowStart: number;
  windowEnd: number;
  catalogue?: readonly CatalogueEntry[];
}): Analysis {
  const classify = createClassifier(
    options.catalogue ? { apiUser: options.apiUser, catalogue: options.catalogue } : { apiUser: options.apiUser },
  );
  const bySeverity = zeroCounts();
  const byCategory = new Map<Category, SeverityCounts>();
  const relevant: ClassifiedEvent[] = [];
  const unrecognised = new Map<string, UnrecognisedName>();
  const hours = Math.max(1, Math.ceil((options.windowEnd - options.windowStart) / 3_600_000));
  const hourlyTotal = new Array<number>(hours).fill(0);
  const hourlyFailures = new Array<number>(hours).fill(0);
  let eventsReviewed = 0;
  let ownApiRows = 0;
  let unrecognisedEvents = 0;

  const hourOf = (at: number) => Math.min(hours - 1, Math.max(0, Math.floor((at - options.windowStart) / 3_600_000)));

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
        return;
      }
      bySeverity[c.severity]++;
      let cat = byCategory.get(c.category);
      if (!cat) byCategory.set(c.category, (cat = zeroCounts()));
      cat[c.severity]++;
      if (c.category === 'Sign-in' && c.severity === 'low' && /fail/i.test(event.action)) hourlyFailures[h]!++;
      if (c.severity !== 'info') {
        const classified: ClassifiedEvent = { ...event, category: c.category, severity: c.severity };
        if (c.note) classified.note = c.note;
        relevant.push(classified);
      }
    },
    result() {
      const sorted = [...relevant].sort((a, b) => b.at - a.at || severityRank(a.severity) - severityRank(b.severity));
      return {
        eventsReviewed,
        ownApiRows,
        bySeverity: { ...bySeverity },
        byCategory: new Map(byCategory),
        relevant: sorted,
        unrecognised: [...unrecognised.values()].sort((a, b) => b.count - a.count || a.action.localeCompare(b.action)),
        unrecognisedEvents,
        hourly: { total: hourlyTotal, failures: hourlyFailures },
      };
    },
  };
}

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}
