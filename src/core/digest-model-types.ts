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
  /** What to do next: one or two sentences for a recipient who is not a LastPass admin. */
  guidance: string;
  /** The Admin Console page where it is done. */
  link: string;
  /** Where that is, in words: "Admin Console > Users". */
  linkText: string;
}

/** One line of the coverage section about a setting that changed what was looked at. */
export interface CoverageLine {
  /** "Known caller" (LASTPASS_KNOWN_API_CALLERS), "Override" (REPORT_SEVERITY_OVERRIDES), "Ignored user" (REPORT_IGNORE_USERS). */
  label: string;
  text: string;
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
  /** "LastPass security digest 2025-03-10 — 3 findings (2 high) · 7 high-severity events". */
  subject: string;
  /** The inbox preview line: the verdict, word for word. */
  preheader: string;
  /**
   * "attention": a high finding; "review": a medium one; "untrusted": no finding that urgent, but a reason
   * not to read the digest as an all-clear (a caution: unusually few events, another zone, rows out of
   * range); "low": low findings only; "quiet": no findings and no caution (the only green one).
   */
  verdictLevel: 'attention' | 'review' | 'untrusted' | 'low' | 'quiet';
  /**
   * One sentence naming what it counts, the same words as the subject:
   * "3 findings (2 high) · 7 high-severity events · 30,036 events reviewed", or "Quiet day: …".
   */
  verdict: string;
  /** True when nothing of severity low or above was found and there is no caution: the template shows the attestation. */
  quiet: boolean;
  /**
   * Why this digest must not be read as an all-clear (what each caution means and what to check), shown
   * at the top, right under the verdict; [] when there is none.
   */
  cautions: string[];
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
    /** Known API callers, severity overrides and ignored users: what each did to this window. */
    adjustments: CoverageLine[];
  };
  /** What the tiles count: "Events by severity". */
  tilesCaption: string;
  tiles: SeverityTile[];
  /** Findings first (detections, then high/medium events no detection covers), capped; see moreDetections. */
  detections: DetectionRow[];
  moreDetections: number;
  /** Number of findings, all severities (the verdict and subject count these). */
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
  /**
   * Names of the attached (gzip) files of security-relevant events ("" when none attached), the rows they
   * hold and the rows a complete list would hold (more when rows were left out: a notice says so).
   */
  attachments: { csv: string; json: string; events: number; total: number };
  categories: CategoryRow[];
  /** High and medium events behind the findings (not those that are findings on their own), newest first, capped; see moreFindings. */
  findings: EventRow[];
  moreFindings: number;
  /** Said under the events' heading when events were left out because they are findings above, else "". */
  findingsNote: string;
  /** Low events, capped. */
  lowEvents: EventRow[];
  moreLowEvents: number;
  /** To the recipient: what the unrecognised names are and what to do about them. */
  unrecognisedNote: string;
  unrecognised: UnrecognisedRow[];
  /** Unrecognised action names not listed (over the cap); the attachments hold their events. */
  moreUnrecognised: number;
  footer: {
    generatedAt: string; // in REPORT_TIMEZONE with the zone named
    version: string; // package version
    catalogueVersion: string;
    windowKey: string;
    /** "Times are in Europe/Berlin unless marked UTC." ("Times are in UTC." when that is the zone). */
    timesNote: string;
    /** "Evidence bundle <day>/<run id>, content SHA-256 <hex>": anchors the evidence chain (absent without evidence). */
    evidence?: string;
  };
}

export interface FailureNoticeModel {
  kind: 'failure';
  /** The digest itself went out, and what failed came after it (its record, its evidence): the notice says so. */
  digestSent: boolean;
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
