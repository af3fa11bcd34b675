/**
 * The delivered windows as `history` shows them: the store's delivery records (counts, message id) joined
 * with the evidence bundles of those windows (verdict, hashes). Pure: both come in as values.
 */
import type { DeliveredWindow } from './run-state.js';

/** A delivered bundle with what its delivery.json and run.json say. */
export interface DeliveredBundle {
  runId: string;
  day: string;
  key: string;
  start: string;
  end: string;
  subject: string | null;
  messageId: string | null;
  /** Where it went: "sendgrid", or the outbox folder of a delivery that was written, not sent (the demo). */
  destination: string | null;
  deliveredAt: string | null;
  eventsReviewed: number | null;
  contentSha256: string | null;
  manifestSha256: string;
}

export interface HistoryEntry {
  day: string;
  key: string;
  start: string;
  end: string;
  deliveredAt: string | null;
  messageId: string | null;
  destination: string | null;
  eventsReviewed: number | null;
  severities: { high: number; medium: number; low: number } | null;
  /** The verdict as the subject stated it ("9 findings (8 high) · …", "quiet, 18,204 reviewed"). */
  verdict: string | null;
  evidence: { runId: string; contentSha256: string | null; manifestSha256: string } | null;
}

/** The verdict part of a digest subject: what follows "LastPass security digest DAY — ". */
export function verdictOfSubject(subject: string | null): string | null {
  if (subject === null) return null;
  const at = subject.indexOf(' — ');
  return at === -1 ? subject : subject.slice(at + 3);
}

/**
 * One entry per delivery: each delivered bundle (a forced re-send is a delivery of its own), and each
 * delivery record without a bundle (evidence failed or pruned). Ordered by window, then delivery time.
 */
export function deliveryHistory(
  records: readonly DeliveredWindow[],
  bundles: readonly DeliveredBundle[],
  dayOf: (window: { start: string; end: string }) => string,
  range: { from?: string; to?: string } = {},
): HistoryEntry[] {
  const byKey = new Map(records.map((r) => [r.key, r]));
  const entries: HistoryEntry[] = bundles.map((b) => {
    const record = byKey.get(b.key);
    const fromRecord = record && (b.messageId === null || record.messageId === b.messageId) ? record : undefined;
    return {
      day: b.day,
      key: b.key,
      start: b.start,
      end: b.end,
      deliveredAt: b.deliveredAt ?? fromRecord?.deliveredAt ?? null,
      messageId: b.messageId ?? fromRecord?.messageId ?? null,
      destination: b.destination,
      eventsReviewed: b.eventsReviewed ?? record?.summary.eventsReviewed ?? null,
      severities: record ? { high: record.summary.high, medium: record.summary.medium, low: record.summary.low } : null,
      verdict: verdictOfSubject(b.subject),
      evidence: { runId: b.runId, contentSha256: b.contentSha256, manifestSha256: b.manifestSha256 },
    };
  });
  const withBundle = new Set(bundles.map((b) => b.key));
  for (const r of records) {
    if (withBundle.has(r.key)) continue;
    entries.push({
      day: dayOf(r),
      key: r.key,
      start: r.start,
      end: r.end,
      deliveredAt: r.deliveredAt,
      messageId: r.messageId,
      destination: null,
      eventsReviewed: r.summary.eventsReviewed,
      severities: { high: r.summary.high, medium: r.summary.medium, low: r.summary.low },
      verdict: null,
      evidence: null,
    });
  }
  const inRange = (day: string) => (range.from === undefined || day >= range.from) && (range.to === undefined || day <= range.to);
  return entries
    .filter((e) => inRange(e.day))
    .sort((a, b) => a.start.localeCompare(b.start) || (a.deliveredAt ?? '').localeCompare(b.deliveredAt ?? ''));
}
