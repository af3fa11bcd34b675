/** What a window asks LastPass for (src/core/fetch-plan.ts): its range, the previous tail again, its own tail. */
import { describe, expect, it } from 'vitest';
import { lateArrivalNotice, lateOverlapMs, planWindowFetch } from '../src/core/fetch-plan.js';
import type { DeliveryTail } from '../src/core/run-state.js';

const NY = 'America/New_York';
const window = { start: new Date('2025-03-09T07:00:00Z'), end: new Date('2025-03-10T07:00:00Z') };
const tailOf = (windowKey: string): DeliveryTail => ({
  windowKey,
  from: '2025-03-09 02:45:00',
  to: '2025-03-09 02:59:59',
  fingerprints: { abc: 1 },
});

describe('the fetch plan of a window', () => {
  const cases: { name: string; overlapMs: number; stored: DeliveryTail | null; window?: typeof window; expected: object }[] = [
    {
      name: 'asks for the window, the previous window’s tail when it ends where this one starts, and keeps its own last 15 minutes',
      overlapMs: lateOverlapMs(undefined),
      stored: tailOf('20250308T070000Z_20250309T070000Z'),
      expected: {
        requested: { from: '2025-03-09 03:00:00', to: '2025-03-10 02:59:59' },
        previousTail: tailOf('20250308T070000Z_20250309T070000Z'),
        tailFrom: '2025-03-10 02:45:00',
        tailRange: { from: '2025-03-10 02:45:00', to: '2025-03-10 02:59:59' },
      },
    },
    {
      name: 'does not ask again for a tail of a window that does not end where this one starts',
      overlapMs: 15 * 60_000,
      stored: tailOf('20250307T070000Z_20250308T070000Z'),
      expected: { previousTail: null, tailFrom: '2025-03-10 02:45:00' },
    },
    {
      name: 'with the overlap off, asks for no tail and keeps none',
      overlapMs: lateOverlapMs(0),
      stored: tailOf('20250308T070000Z_20250309T070000Z'),
      expected: { previousTail: null, tailFrom: null, tailRange: null },
    },
    {
      name: 'a window shorter than the overlap is all tail',
      overlapMs: 15 * 60_000,
      stored: null,
      window: { start: new Date('2025-03-10T06:50:00Z'), end: new Date('2025-03-10T07:00:00Z') },
      expected: {
        requested: { from: '2025-03-10 02:50:00', to: '2025-03-10 02:59:59' },
        tailFrom: '2025-03-10 02:50:00',
        tailRange: { from: '2025-03-10 02:50:00', to: '2025-03-10 02:59:59' },
      },
    },
    {
      name: 'a window without a wall second of its own asks for nothing',
      overlapMs: 15 * 60_000,
      stored: null,
      window: { start: new Date('2025-03-10T06:59:59.200Z'), end: new Date('2025-03-10T06:59:59.900Z') },
      expected: { requested: null, tailFrom: null, tailRange: null },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(
        planWindowFetch({ window: c.window ?? window, lastpassTimeZone: NY, overlapMs: c.overlapMs, storedTail: c.stored }),
      ).toMatchObject(c.expected);
    });
  }

  it('says how many late events the previous tail had, and nothing when there were none', () => {
    const tail = tailOf('k');
    expect(lateArrivalNotice(0, 15 * 60_000, tail)).toBeNull();
    expect(lateArrivalNotice(1, 15 * 60_000, tail)).toMatch(
      /^1 event of the previous window's last 15 minutes \(2025-03-09 02:45:00 … 2025-03-09 02:59:59, LastPass time\).*: it is included/,
    );
    expect(lateArrivalNotice(1234, 15 * 60_000, tail)).toMatch(/^1,234 events .*: they are included/);
  });
});
