/** The paging rule as a pure decision over one page's rows (src/core/page-decision.ts), table-driven. */
import { describe, expect, it } from 'vitest';
import { decidePage, isKept, type PageDecision } from '../src/core/page-decision.js';
import type { RawEvent, WallRange } from '../src/core/types.js';
import { IncompleteDataError } from '../src/errors.js';

const RANGE: WallRange = { from: '2025-03-09 10:00:00', to: '2025-03-09 10:00:09' };

/** Rows at these seconds of 10:00 (newest first as given), e.g. [9, 9, 8] → two at :09, one at :08. */
const at = (...seconds: number[]): RawEvent[] =>
  seconds.map((s, i) => ({
    Time: `2025-03-09 10:00:${String(s).padStart(2, '0')}`,
    Username: `u${i}`,
    IP_Address: '',
    Action: 'Log in',
    Data: '',
  }));

const kept = (rows: RawEvent[], d: PageDecision) => rows.filter((r) => isKept(d, r.Time)).map((r) => Number(r.Time.slice(-2)));

describe('the paging decision', () => {
  const cases: {
    name: string;
    rows: RawEvent[];
    next?: string;
    limit: number;
    kept: number[];
    dropped: number;
    nextTo: string | null;
  }[] = [
    { name: 'an empty page completes the range', rows: [], limit: 3, kept: [], dropped: 0, nextTo: null },
    { name: 'a short page completes the range', rows: at(9, 5, 5), limit: 5, kept: [9, 5, 5], dropped: 0, nextTo: null },
    {
      name: 'a full page keeps what is newer than its oldest second and asks again up to that second',
      rows: at(9, 8, 8, 7, 7),
      limit: 5,
      kept: [9, 8, 8],
      dropped: 0,
      nextTo: '2025-03-09 10:00:07',
    },
    {
      name: 'a short page with next is cut the same way',
      rows: at(9, 7),
      next: '1741514407',
      limit: 5,
      kept: [9],
      dropped: 0,
      nextTo: '2025-03-09 10:00:07',
    },
    {
      name: 'a page with next whose rows are all at `to` is the rest of the range',
      rows: at(9, 9),
      next: '1741514409',
      limit: 5,
      kept: [9, 9],
      dropped: 0,
      nextTo: null,
    },
    {
      name: 'rows outside the range are dropped and counted, and do not decide the cut',
      rows: [...at(9, 8), { ...at(0)[0]!, Time: '2025-03-09 10:00:10' }, { ...at(0)[0]!, Time: '2025-03-09 09:59:59' }, ...at(6)],
      limit: 5,
      kept: [9, 8],
      dropped: 2,
      nextTo: '2025-03-09 10:00:06',
    },
    {
      name: 'a second that comes back later in the page still counts as that second',
      rows: at(9, 7, 9, 7, 8),
      limit: 5,
      kept: [9, 9, 8],
      dropped: 0,
      nextTo: '2025-03-09 10:00:07',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = decidePage(c.rows, c.next ?? null, RANGE, c.limit);
      expect(kept(c.rows, d)).toEqual(c.kept);
      expect(d).toMatchObject({ rows: c.rows.length, kept: c.kept.length, dropped: c.dropped, nextTo: c.nextTo });
    });
  }

  it('refuses a full page of one second: it cannot be split further', () => {
    // The first full page of one second asks again up to that second, keeping nothing yet …
    expect(decidePage(at(4, 4, 4), null, RANGE, 3)).toMatchObject({ kept: 0, nextTo: '2025-03-09 10:00:04' });
    // … and the same page again, for a range that ends at that second, is incomplete.
    const narrowed = { from: RANGE.from, to: '2025-03-09 10:00:04' };
    expect(() => decidePage(at(4, 4, 4), null, narrowed, 3)).toThrow(IncompleteDataError);
    expect(() => decidePage(at(9, 9, 9), null, RANGE, 3)).toThrow(/all at 2025-03-09 10:00:09/);
  });

  it('refuses a cut page with no row inside the range: what lies in it was never seen', () => {
    const outside = at(0, 0).map((r) => ({ ...r, Time: '2025-03-09 10:00:30' }));
    expect(() => decidePage(outside, '1741514430', RANGE, 5)).toThrow(/none of them inside that range/);
    // Not cut: the rows are simply dropped.
    expect(decidePage(outside, null, RANGE, 5)).toMatchObject({ kept: 0, dropped: 2, nextTo: null });
  });
});
