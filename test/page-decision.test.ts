/** The paging rule as a pure decision over one page's rows (src/core/page-decision.ts), table-driven. */
import { describe, expect, it } from 'vitest';
import { decidePage, isKept, maxRequestsFor, type PageDecision } from '../src/core/page-decision.js';
import type { RawEvent, WallRange } from '../src/core/types.js';
import { IncompleteDataError } from '../src/errors.js';

const RANGE: WallRange = { from: '2025-03-09 10:00:00', to: '2025-03-09 10:00:09' };
const w = (s: number) => `2025-03-09 10:00:${String(s).padStart(2, '0')}`;

/** Rows at these seconds of 10:00 in the order given, e.g. [9, 9, 8] → two at :09, one at :08. */
const at = (...seconds: number[]): RawEvent[] =>
  seconds.map((s, i) => ({ Time: w(s), Username: `u${i}`, IP_Address: '', Action: 'Log in', Data: '' }));

const kept = (rows: RawEvent[], d: PageDecision) => rows.filter((r) => isKept(d, r.Time)).map((r) => Number(r.Time.slice(-2)));
const range = (from: number, to: number): WallRange => ({ from: w(from), to: w(to) });

describe('the paging decision', () => {
  const cases: {
    name: string;
    rows: RawEvent[];
    next?: string;
    limit: number;
    order: PageDecision['order'];
    kept: number[];
    remaining: WallRange[];
  }[] = [
    { name: 'an empty page completes the range', rows: [], limit: 3, order: 'empty', kept: [], remaining: [] },
    { name: 'a short page completes the range, in any order', rows: at(5, 9, 5), limit: 5, order: 'mixed', kept: [5, 9, 5], remaining: [] },
    {
      name: 'a full page newest first keeps what is newer than its oldest second and asks again up to that second',
      rows: at(9, 8, 8, 7, 7),
      limit: 5,
      order: 'newest-first',
      kept: [9, 8, 8],
      remaining: [range(0, 7)],
    },
    {
      name: 'a full page oldest first keeps what is older than its newest second and asks again from that second',
      rows: at(2, 2, 3, 4, 4),
      limit: 5,
      order: 'oldest-first',
      kept: [2, 2, 3],
      remaining: [range(4, 9)],
    },
    {
      name: 'a short page with next is cut the same way',
      rows: at(9, 7),
      next: '1741514407',
      limit: 5,
      order: 'newest-first',
      kept: [9],
      remaining: [range(0, 7)],
    },
    {
      name: 'a shuffled full page keeps what lies strictly between its oldest and newest seconds and asks both sides',
      rows: at(5, 8, 3, 5, 6),
      limit: 5,
      order: 'mixed',
      kept: [5, 5, 6],
      remaining: [range(8, 9), range(0, 3)],
    },
    {
      name: 'a cut page of one second asks that second alone, then each side of it',
      rows: at(4, 4, 4),
      limit: 3,
      order: 'single-second',
      kept: [],
      remaining: [range(4, 4), range(0, 3), range(5, 9)],
    },
    {
      name: 'rows outside the range are dropped and counted, and do not decide the cut',
      rows: [...at(9, 8), { ...at(0)[0]!, Time: '2025-03-09 10:00:10' }, { ...at(0)[0]!, Time: '2025-03-09 09:59:59' }, ...at(6)],
      limit: 5,
      order: 'newest-first',
      kept: [9, 8],
      remaining: [range(0, 6)],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = decidePage(c.rows, c.next ?? null, RANGE, c.limit);
      expect(kept(c.rows, d)).toEqual(c.kept);
      expect(d).toMatchObject({ rows: c.rows.length, kept: c.kept.length, order: c.order, remaining: c.remaining });
    });
  }

  it('counts the rows outside the range per direction', () => {
    const rows = [
      ...at(5),
      { ...at(0)[0]!, Time: '2025-03-10 00:00:00' },
      ...['2025-03-08 23:00:00', '2025-03-07 10:00:00'].map((Time) => ({ ...at(0)[0]!, Time })),
    ];
    expect(decidePage(rows, null, RANGE, 10)).toMatchObject({ inRange: 1, before: 2, after: 1, kept: 1 });
  });

  it('refuses a cut page of a one-second range: it cannot be split further', () => {
    expect(() => decidePage(at(4, 4, 4), null, range(4, 4), 3)).toThrow(IncompleteDataError);
    expect(() => decidePage(at(4, 4, 4), null, range(4, 4), 3)).toThrow(/all at 2025-03-09 10:00:04/);
  });

  it('refuses a cut page with no row inside the range: what lies in it was never seen', () => {
    const outside = at(0, 0).map((r) => ({ ...r, Time: '2025-03-09 10:00:30' }));
    expect(() => decidePage(outside, '1741514430', RANGE, 5)).toThrow(/none of them inside that range/);
    expect(() => decidePage([], '1741514430', RANGE, 5)).toThrow(/no events .* said more were available/);
    // Not cut: the rows are simply dropped (and counted).
    expect(decidePage(outside, null, RANGE, 5)).toMatchObject({ kept: 0, after: 2, remaining: [] });
  });

  it('refuses a cut page that adds no event: it only moves the boundary', () => {
    // Shuffled, rows only at its two end seconds: nothing strictly between them is new.
    expect(() => decidePage(at(3, 7, 3, 7), null, RANGE, 4)).toThrow(/adds no event: it only moves the boundary/);
  });

  it('refuses a Time that is not a LastPass wall time, in range or not', () => {
    for (const Time of ['banana', '2025-03-09T10:00:05', '2025-03-09 10:00:05.123', '']) {
      expect(() => decidePage([{ ...at(5)[0]!, Time }], null, RANGE, 5), Time).toThrow(/is not a wall time/);
    }
  });

  it('bounds the requests of a range by its events: 3 × ⌈events / (limit / 20)⌉ + 10', () => {
    expect(maxRequestsFor(0, 10_000)).toBe(10);
    expect(maxRequestsFor(1, 10_000)).toBe(13);
    expect(maxRequestsFor(1_000_000, 10_000)).toBe(6_010);
    expect(maxRequestsFor(10, 2)).toBe(40);
  });
});
