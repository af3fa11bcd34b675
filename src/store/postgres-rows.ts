/**
 * The PostgreSQL store's rows as run-state values: what `SELECT`s of run_state and delivered_windows return
 * (pg gives timestamptz as Date and jsonb as parsed JSON) turned into the shapes of core/run-state.ts. The
 * jsonb columns were written by this store from normalised values; anything missing decodes to an empty
 * value rather than failing.
 */
import {
  type DeliveredWindow,
  type DeliveryIntent,
  type DeliverySummary,
  type FailureRecord,
  VERDICT_LEVELS,
  type VerdictLevel,
} from '../core/run-state.js';

export interface RunStateRow {
  cursor: Date | null;
  consecutive_failures: number;
  last_failure: unknown;
  last_success_at: Date | null;
  pending_delivery: unknown;
}

export interface DeliveredRow {
  key: string;
  start: Date;
  end: Date;
  delivered_at: Date;
  message_id: string | null;
  marker: string;
  summary: unknown;
  /** Migration 5: the window's evidence bundle label and content-manifest SHA-256 (NULL before, or without evidence). */
  evidence_bundle: string | null;
  evidence_sha256: string | null;
}

/**
 * A timestamptz as an ISO instant. pg gives `Infinity`/`-Infinity` (numbers) for 'infinity': those come back as
 * their text, which the store's check then reports as not an instant.
 */
export function iso(value: Date | null): string | null {
  if (value === null) return null;
  return value instanceof Date && Number.isFinite(value.getTime()) ? value.toISOString() : String(value);
}

export function toDelivered(row: DeliveredRow): DeliveredWindow {
  return {
    key: row.key,
    start: iso(row.start) ?? '',
    end: iso(row.end) ?? '',
    deliveredAt: iso(row.delivered_at) ?? '',
    messageId: row.message_id,
    marker: row.marker,
    summary: toSummary(row.summary),
    ...(row.evidence_bundle !== null && row.evidence_sha256 !== null
      ? { evidence: { bundle: row.evidence_bundle, contentSha256: row.evidence_sha256 } }
      : {}),
  };
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function text(r: Record<string, unknown>, name: string): string {
  const v = r[name];
  return typeof v === 'string' ? v : '';
}

function num(r: Record<string, unknown>, name: string): number {
  const v = r[name];
  return typeof v === 'number' ? v : 0;
}

function toSummary(value: unknown): DeliverySummary {
  const r = record(value);
  const byCategory: Record<string, number> = {};
  for (const [name, n] of Object.entries(record(r.byCategory))) if (typeof n === 'number') byCategory[name] = n;
  return {
    eventsReviewed: num(r, 'eventsReviewed'),
    high: num(r, 'high'),
    medium: num(r, 'medium'),
    low: num(r, 'low'),
    info: num(r, 'info'),
    byCategory,
    ...(verdictOf(r.verdict) ?? {}),
  };
}

/** The delivered digest's verdict, when the row has a well-formed one (older rows do not). */
function verdictOf(value: unknown): Pick<DeliverySummary, 'verdict'> | null {
  if (!value || typeof value !== 'object') return null;
  const v = value as Record<string, unknown>;
  if (typeof v.level !== 'string' || !(VERDICT_LEVELS as readonly string[]).includes(v.level)) return null;
  if (typeof v.text !== 'string' || typeof v.findings !== 'number') return null;
  return { verdict: { level: v.level as VerdictLevel, text: v.text, findings: v.findings } };
}

export function toIntent(value: unknown): DeliveryIntent | null {
  if (value === null || value === undefined) return null;
  const r = record(value);
  return {
    key: text(r, 'key'),
    start: text(r, 'start'),
    end: text(r, 'end'),
    marker: text(r, 'marker'),
    startedAt: text(r, 'startedAt'),
    attempt: num(r, 'attempt'),
    ...(r.maybeSent === undefined || r.maybeSent === null
      ? {}
      : (() => {
          const m = record(r.maybeSent);
          return { maybeSent: { at: text(m, 'at'), reason: text(m, 'reason') } };
        })()),
  };
}

export function toFailure(value: unknown): FailureRecord | null {
  if (value === null || value === undefined) return null;
  const r = record(value);
  return { key: text(r, 'key'), start: text(r, 'start'), end: text(r, 'end'), at: text(r, 'at'), message: text(r, 'message') };
}
