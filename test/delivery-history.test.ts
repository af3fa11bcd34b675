/** history's join (core/delivery-history.ts): delivery records with their bundles, re-sends, records without evidence. */
import { describe, expect, it } from 'vitest';
import { type DeliveredBundle, deliveryHistory, verdictOfSubject } from '../src/core/delivery-history.js';
import type { DeliveredWindow } from '../src/core/run-state.js';

const record = (key: string, start: string, end: string, messageId: string | null): DeliveredWindow => ({
  key,
  start,
  end,
  deliveredAt: end,
  messageId,
  marker: `m-${key}`,
  summary: { eventsReviewed: 100, high: 2, medium: 1, low: 3, info: 94, byCategory: {} },
});
const bundle = (key: string, start: string, end: string, messageId: string, deliveredAt: string): DeliveredBundle => ({
  runId: `run-${messageId}`,
  day: end.slice(0, 10),
  key,
  start,
  end,
  subject: `LastPass security digest ${end.slice(0, 10)} — 3 findings (2 high) · 2 high-severity events`,
  messageId,
  destination: 'sendgrid',
  deliveredAt,
  eventsReviewed: 100,
  contentSha256: 'c'.repeat(64),
  manifestSha256: 'm'.repeat(64),
});

describe('deliveryHistory', () => {
  const A = ['a', '2025-03-01T00:00:00.000Z', '2025-03-02T00:00:00.000Z'] as const;
  const B = ['b', '2025-03-02T00:00:00.000Z', '2025-03-03T00:00:00.000Z'] as const;
  const dayOf = (w: { end: string }) => w.end.slice(0, 10);

  it('lists each delivery: a re-send as its own entry, a record without a bundle too, ordered by window then time', () => {
    const entries = deliveryHistory(
      [record(...A, 'msg-2'), record(...B, 'msg-3')],
      [bundle(...A, 'msg-2', '2025-03-05T00:00:00.000Z'), bundle(...A, 'msg-1', '2025-03-02T00:00:01.000Z')],
      dayOf,
    );
    expect(entries.map((e) => [e.key, e.messageId, e.evidence?.runId ?? null])).toEqual([
      ['a', 'msg-1', 'run-msg-1'],
      ['a', 'msg-2', 'run-msg-2'],
      ['b', 'msg-3', null],
    ]);
    expect(entries[0]!.verdict).toBe('3 findings (2 high) · 2 high-severity events');
    expect(entries[2]).toMatchObject({ day: '2025-03-03', verdict: null, severities: { high: 2, medium: 1, low: 3 }, eventsReviewed: 100 });
  });

  it('keeps the days asked for', () => {
    const entries = deliveryHistory([record(...A, 'x'), record(...B, 'y')], [], dayOf, { from: '2025-03-03' });
    expect(entries.map((e) => e.key)).toEqual(['b']);
  });

  it('takes the verdict from the subject', () => {
    expect(verdictOfSubject('LastPass security digest 2025-03-10 — quiet, 18,204 events reviewed')).toBe('quiet, 18,204 events reviewed');
    expect(verdictOfSubject('FAILED: something')).toBe('FAILED: something');
    expect(verdictOfSubject(null)).toBeNull();
  });
});
