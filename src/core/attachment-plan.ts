/**
 * What the attachments may hold, so that SendGrid always accepts the message (it refuses a request over
 * 30 MB, attachments counted base64-encoded): at most MAX_ATTACHMENT_ROWS rows, and fewer while the encoded
 * request would exceed MAX_REQUEST_BYTES (a margin under SendGrid's limit). The rows kept are the most severe
 * first (high, medium, low, then the unrecognised ones), listed in their original order. When rows are left
 * out, the digest says how many and where the complete list is (the evidence bundle, read with `export`).
 * Pure: the compression and the measuring are done by the caller (run/digest-attachments.ts).
 */
import { type AnalysisResult, RELEVANT_ROWS_KEPT } from './analysis.js';
import { formatCount } from './display-time.js';
import { SEVERITIES, type ClassifiedEvent } from './types.js';

/** Rows in each attachment at most, whatever the size. */
export const MAX_ATTACHMENT_ROWS = 100_000;

/** The encoded SendGrid request (JSON with base64 attachments) at most: 20 MB, a margin under SendGrid's 30 MB. */
export const MAX_REQUEST_BYTES = 20_000_000;

/** The two limits; RunDeps.attachmentLimits replaces them (tests make them small). */
export interface AttachmentLimits {
  maxRows: number;
  maxRequestBytes: number;
}

export const DEFAULT_ATTACHMENT_LIMITS: AttachmentLimits = { maxRows: MAX_ATTACHMENT_ROWS, maxRequestBytes: MAX_REQUEST_BYTES };

/**
 * How many rows a complete attachment would hold: every security-relevant event, then the unrecognised ones.
 * The one place this total is computed: from the exact counts, since the analysis keeps at most
 * RELEVANT_ROWS_KEPT of them (memory bounded by design).
 */
export function attachableTotal(
  analysis: Pick<AnalysisResult, 'relevant' | 'unrecognisedRows'> & Partial<Pick<AnalysisResult, 'relevantTotal' | 'unrecognisedEvents'>>,
): number {
  // The exact totals: the analysis keeps at most RELEVANT_ROWS_KEPT / UNRECOGNISED_ROWS_KEPT rows (issue #13).
  return (analysis.relevantTotal ?? analysis.relevant.length) + (analysis.unrecognisedEvents ?? analysis.unrecognisedRows.length);
}

/** The `count` most severe of `events` (stable: equal severities keep their order), in their original order. */
export function mostSevere<T extends Pick<ClassifiedEvent, 'severity'>>(events: readonly T[], count: number): T[] {
  if (count >= events.length) return [...events];
  if (count <= 0) return [];
  const rank = (e: T) => {
    const i = SEVERITIES.indexOf(e.severity);
    return i < 0 ? SEVERITIES.length : i;
  };
  const order = events.map((_, i) => i).sort((a, b) => rank(events[a]!) - rank(events[b]!) || a - b);
  return order
    .slice(0, count)
    .sort((a, b) => a - b)
    .map((i) => events[i]!);
}

/**
 * The next, smaller row count when `rows` rows made attachments of `attachmentBytes` encoded bytes and only
 * `allowedBytes` fit: proportional, with 5% to spare, and always fewer than before (0 at the least).
 */
export function fewerRows(rows: number, attachmentBytes: number, allowedBytes: number): number {
  if (rows <= 0 || allowedBytes <= 0 || attachmentBytes <= 0) return 0;
  const estimate = Math.floor(((rows * allowedBytes) / attachmentBytes) * 0.95);
  return Math.max(0, Math.min(rows - 1, estimate));
}

/** The shell words of `export` for one digest day (src/commands/export.ts: --from DAY --to DAY --out FILE.tar.gz). */
export function exportCommandFor(day: string): string {
  return `lastpass-audit-digest export --from ${day} --to ${day} --out lastpass-evidence-${day}.tar.gz`;
}

export interface AttachmentFacts {
  /** The digest's day (windowLabel), as `export` names it. */
  day: string;
  /** Rows attached (0 when none is). */
  kept: number;
  /** Rows a complete attachment would hold (attachableTotal). */
  total: number;
  /** True when the run keeps an evidence bundle (not a dry run, evidence configured). */
  evidence: boolean;
  /** Rows the analysis kept (and the bundle's events.json holds): fewer than `total` past RELEVANT_ROWS_KEPT. */
  listed: number;
  /** Whether the bundle keeps the raw LastPass pages (EVIDENCE_RAW), which hold every row. */
  rawPages: boolean;
}

function whereTheRestIs(facts: AttachmentFacts): string {
  if (!facts.evidence) {
    return 'this run keeps no evidence bundle (a dry run, or no evidence store configured), so the complete list is only in the LastPass Admin Console (Reporting > General reports)';
  }
  const command = exportCommandFor(facts.day);
  if (facts.listed >= facts.total) return `the complete list is in the evidence bundle (events.json): ${command}`;
  if (facts.rawPages) {
    return `every row is in the raw LastPass pages of the evidence bundle (raw/page-*.json.gz; its events.json holds the ${formatCount(facts.listed)} rows listed here): ${command}`;
  }
  return `the evidence bundle holds the ${formatCount(facts.listed)} rows listed here and no raw pages (EVIDENCE_RAW=off), so the complete list is only in the LastPass Admin Console (Reporting > General reports)`;
}

/** The digest's notice when the attachments leave rows out, or null when they hold every row. */
export function truncationNotice(facts: AttachmentFacts): string | null {
  if (facts.kept >= facts.total) return null;
  if (facts.kept === 0) {
    return (
      `No CSV or JSON is attached: even a few of the ${formatCount(facts.total)} security-relevant rows would make a message ` +
      `larger than SendGrid accepts; ${whereTheRestIs(facts)}`
    );
  }
  const rows = `${formatCount(facts.kept)} of ${formatCount(facts.total)} security-relevant rows`;
  return (
    `The attached CSV and JSON hold ${rows} (the most severe first: a digest lists at most ${formatCount(RELEVANT_ROWS_KEPT)} ` +
    `security-relevant rows, and its files stay at a size SendGrid accepts); ${whereTheRestIs(facts)}`
  );
}

/** The digest's notice when SendGrid refused the message with its attachments (HTTP 413) and it is re-sent without them. */
export function attachmentsRefusedNotice(facts: Omit<AttachmentFacts, 'kept'>): string {
  return (
    'SendGrid refused this digest as too large with its attachments (HTTP 413), so it was sent again without them: ' +
    `the CSV and JSON of the ${formatCount(facts.total)} security-relevant rows are missing; ${whereTheRestIs({ ...facts, kept: 0 })}`
  );
}
