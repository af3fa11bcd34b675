/** What becomes of a window's rows (src/core/window-intake.ts): analysed, the tail fingerprinted, late rows told apart. */
import { describe, expect, it } from 'vitest';
import type { RawEvent } from '../src/core/types.js';
import { createWindowIntake, fingerprint, type RowSink } from '../src/core/window-intake.js';

const START = Date.parse('2025-03-09T07:00:00Z');
const END = START + 86_400_000;
const options = { apiUser: 'lastpass-audit-digest', windowStart: START, windowEnd: END, history: { users: {}, days: [] } };

const row = (Time: string, Action: string, Username = 'ana@example.org'): RawEvent => ({
  Time,
  Username,
  IP_Address: '192.0.2.1',
  Action,
  Data: '',
});

/** Hands rows to a sink the way the client does: one reused row object. */
function feed(sink: RowSink, rows: RawEvent[]): void {
  const reused: RawEvent = { Time: '', Username: '', IP_Address: '', Action: '', Data: '' };
  rows.forEach((r, i) => {
    Object.assign(reused, r);
    sink.add(reused, END - 1000 * (i + 1));
  });
}

describe('window intake', () => {
  it('analyses every row and fingerprints, with counts, the rows from tailFrom on', () => {
    const intake = createWindowIntake({ ...options, tailFrom: '2025-03-10 02:50:00', knownTail: null });
    const late = row('2025-03-10 02:55:00', 'Failed Login Attempt');
    feed(intake.window, [late, late, row('2025-03-10 02:49:59', ' Make Admin ', 'root@example.org')]);
    const { analysis, tailPrints, lateArrivals } = intake.finish();
    expect(analysis.eventsReviewed).toBe(3);
    // The reused row object did not leak into what the analysis kept; the action is kept trimmed.
    expect(analysis.relevant.map((e) => [e.action, e.username])).toEqual([
      ['Failed Login Attempt', 'ana@example.org'],
      ['Failed Login Attempt', 'ana@example.org'],
      ['Make Admin', 'root@example.org'],
    ]);
    expect(tailPrints).toEqual({ [fingerprint(late)]: 2 });
    expect(lateArrivals).toBe(0);
  });

  it('of a re-queried tail, analyses only the rows the previous window did not have (a multiset: repeats count)', () => {
    const seen = row('2025-03-09 02:58:00', 'Failed Login Attempt');
    const intake = createWindowIntake({ ...options, tailFrom: null, knownTail: { [fingerprint(seen)]: 1 } });
    feed(intake.late, [seen, seen, row('2025-03-09 02:57:00', 'Make Admin')]);
    const { analysis, tailPrints, lateArrivals } = intake.finish();
    expect(lateArrivals).toBe(2);
    expect(analysis.eventsReviewed).toBe(2);
    expect(analysis.relevant.map((e) => e.action).sort()).toEqual(['Failed Login Attempt', 'Make Admin']);
    expect(tailPrints).toEqual({});
  });
});
