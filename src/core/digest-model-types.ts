/**
 * The view model handed to the Handlebars templates. Every string in it is plain text (unescaped);
 * the templates escape it with `{{ }}`. Numbers are pre-formatted where the template shows them.
 */
import type { Category, Severity } from './types.js';

export interface EventRow {
  /** e.g. "2025-03-09 17:05:31" in REPORT_TIMEZONE (zone named in the section header). */
  time: string;
  severity: Severity;
  category: Category;
  user: string;
  ip: string;
  action: string;
  detail: string;
  /** Why it is listed at this severity, when not obvious from the action ("grants Admin:yes"). */
  note: string;
}

export interface SeverityTile {
  severity: Severity;
  label: string; // "High"
  count: number;
  countText: string; // "1,204"
}

export interface CategoryRow {
  category: Category;
  high: number;
  medium: number;
  low: number;
  info: number;
  total: number;
}

export interface UnrecognisedRow {
  action: string;
  count: number;
  /** A sample of the Data field of one such event (may be empty). */
  sample: string;
}

/** A finding: a detection that spans events, or a single high/medium event no detection covers. */
export interface DetectionRow {
  severity: Severity;
  /** "Failed sign-in burst, then a successful sign-in" */
  title: string;
  /** Who or what: a user, an IP, an API caller. */
  subject: string;
  /** Why it fired, with numbers: "12 failed sign-ins in 8 min from 203.0.113.9, then a successful sign-in 5 s later". */
  reason: string;
  /** Time of the latest event involved, in REPORT_TIMEZONE ("2025-03-09 17:05"). */
  time: string;
}

/** One hour of the activity chart (24 bars for a day; one per hour of the window). */
export interface ChartBar {
  /** Hour label in REPORT_TIMEZONE: "07". */
  label: string;
  total: number;
  failures: number;
  /** Bar heights in px (0..chart.heightPx), precomputed so the template needs no arithmetic. */
  totalPx: number;
  failurePx: number;
  /** The empty part above the bar: heightPx - totalPx. */
  restPx: number;
  /** Tooltip/alt text: "07:00–08:00: 1,234 events, 5 failed sign-ins". */
  title: string;
}

export interface TrendRow {
  category: string;
  today: number;
  /** "12" or "–" when there is no earlier day. */
  yesterday: string;
  /** 7-day median, "4" or "–". */
  median: string;
  /** Today stands out against the median. */
  standsOut: boolean;
}

export interface DigestModel {
  kind: 'digest';
  subject: string;
  /** "attention" when anything is high, "review" when medium only, "quiet" otherwise. */
  verdictLevel: 'attention' | 'review' | 'quiet';
  /** One sentence: "2 high and 5 medium events need attention" or "No security-relevant events among 18,204 events reviewed". */
  verdict: string;
  /** True when nothing of severity low or above was found: the template shows the attestation. */
  quiet: boolean;
  /** The attestation sentence on quiet days, else "". */
  attestation: string;
  /** Things the reader must know about this digest itself (coverage gap, possible duplicate, re-send). */
  notices: string[];
  window: {
    /** "2025-03-09 07:00 → 2025-03-10 07:00 (UTC)" style pieces. */
    startLocal: string;
    endLocal: string;
    zone: string; // REPORT_TIMEZONE, e.g. "Europe/Berlin"
    startUtc: string; // ISO, e.g. "2025-03-09T07:00:00Z"
    endUtc: string;
    /** "24 hours" */
    duration: string;
  };
  coverage: {
    eventsReviewed: number;
    eventsReviewedText: string;
    requests: number;
    pages: number;
    /** Rows of this worker's own API calls, dropped from the analysis. */
    ownApiRows: number;
    lastpassTimeZone: string;
    /** The wall-clock range asked of LastPass, "2025-03-09 02:00:00 … 2025-03-10 01:59:59". */
    requestedRange: string;
  };
  tiles: SeverityTile[];
  /** Findings first (detections, then high/medium events no detection covers), capped; see moreDetections. */
  detections: DetectionRow[];
  moreDetections: number;
  /** Number of high and medium findings (the verdict counts these). */
  findingCount: number;
  chart: {
    bars: ChartBar[];
    /** Height of the chart area in px. */
    heightPx: number;
    /** The busiest hour's total, for the axis label. */
    max: number;
    maxText: string;
    /** "Events per hour, Europe/Berlin; failed sign-ins in red". */
    caption: string;
  };
  trends: {
    /** True until enough delivered days exist: the template shows `note` instead of misleading numbers. */
    building: boolean;
    note: string;
    rows: TrendRow[];
  };
  /** Names of the attached files with every security-relevant event ("" when none attached). */
  attachments: { csv: string; json: string; events: number };
  categories: CategoryRow[];
  /** High and medium events, newest first, capped; see moreFindings. */
  findings: EventRow[];
  moreFindings: number;
  /** Low events, capped. */
  lowEvents: EventRow[];
  moreLowEvents: number;
  unrecognised: UnrecognisedRow[];
  /** Unrecognised action names not listed (over the cap); the attachments hold their events. */
  moreUnrecognised: number;
  footer: {
    generatedAt: string; // in REPORT_TIMEZONE with the zone named
    version: string; // package version
    catalogueVersion: string;
    windowKey: string;
    /** "Evidence bundle <day>/<run id>, content SHA-256 <hex>": anchors the evidence chain (absent without evidence). */
    evidence?: string;
  };
}

export interface FailureNoticeModel {
  kind: 'failure';
  subject: string;
  /** What failed, one sentence, redacted. */
  what: string;
  /** The error message (redacted; actionable). */
  error: string;
  /** What to do next. */
  advice: string;
  window: DigestModel['window'];
  consecutiveFailures: number;
  footer: DigestModel['footer'];
}
