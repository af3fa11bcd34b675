import { describe, expect, it } from 'vitest';
import { DAY_MS, planDueWindows, windowKey } from '../src/core/window-plan.js';

const at = (s: string) => new Date(s);
const spans = (plan: ReturnType<typeof planDueWindows>) =>
  plan.windows.map((w) => `${w.start.toISOString().slice(0, 16)}→${w.end.toISOString().slice(0, 16)}`);

describe('due windows', () => {
  it('first run: the 24 hours before now', () => {
    const plan = planDueWindows({ cursor: null, now: at('2025-03-10T07:00:00Z'), maxCatchupDays: 7 });
    expect(spans(plan)).toEqual(['2025-03-09T07:00→2025-03-10T07:00']);
    expect(plan.skipped).toBeNull();
  });

  it('a normal day: from the cursor to now, even when the trigger fired late', () => {
    const plan = planDueWindows({ cursor: at('2025-03-09T07:00:00Z'), now: at('2025-03-10T07:03:12Z'), maxCatchupDays: 7 });
    expect(spans(plan)).toEqual(['2025-03-09T07:00→2025-03-10T07:03']);
  });

  it('nothing is due when the cursor is now, or less than a minute ago', () => {
    expect(planDueWindows({ cursor: at('2025-03-10T07:00:00Z'), now: at('2025-03-10T07:00:00Z'), maxCatchupDays: 7 }).windows).toEqual([]);
    expect(planDueWindows({ cursor: at('2025-03-10T07:00:00Z'), now: at('2025-03-10T07:00:59.999Z'), maxCatchupDays: 7 }).windows).toEqual(
      [],
    );
    expect(planDueWindows({ cursor: at('2025-03-10T07:00:00Z'), now: at('2025-03-10T07:01:00Z'), maxCatchupDays: 7 }).windows).toHaveLength(
      1,
    );
  });

  it('after a 3-day outage: 3 contiguous daily windows, oldest first', () => {
    const plan = planDueWindows({ cursor: at('2025-03-07T07:00:00Z'), now: at('2025-03-10T07:00:00Z'), maxCatchupDays: 7 });
    expect(spans(plan)).toEqual([
      '2025-03-07T07:00→2025-03-08T07:00',
      '2025-03-08T07:00→2025-03-09T07:00',
      '2025-03-09T07:00→2025-03-10T07:00',
    ]);
  });

  it('after 10 days with a cap of 7: the 7 most recent days, and the older span reported as skipped', () => {
    const plan = planDueWindows({ cursor: at('2025-03-01T07:00:00Z'), now: at('2025-03-11T07:00:00Z'), maxCatchupDays: 7 });
    expect(plan.windows).toHaveLength(7);
    expect(plan.windows[0]!.start.toISOString()).toBe('2025-03-04T07:00:00.000Z');
    expect(plan.skipped).toEqual({ start: at('2025-03-01T07:00:00Z'), end: at('2025-03-04T07:00:00Z') });
    for (let i = 1; i < plan.windows.length; i++) expect(plan.windows[i]!.start).toEqual(plan.windows[i - 1]!.end);
    expect(plan.windows.at(-1)!.end).toEqual(at('2025-03-11T07:00:00Z'));
  });

  it('windows always end exactly at now and never exceed two days', () => {
    for (let h = 1; h < 24 * 9; h += 5) {
      const now = at('2025-03-20T07:00:00Z');
      const plan = planDueWindows({ cursor: new Date(now.getTime() - h * 3_600_000), now, maxCatchupDays: 30 });
      expect(plan.windows.at(-1)!.end).toEqual(now);
      expect(plan.windows[0]!.start.getTime()).toBe(now.getTime() - h * 3_600_000);
      for (const w of plan.windows) expect(w.end.getTime() - w.start.getTime()).toBeLessThan(2 * DAY_MS);
    }
  });

  it('window keys are stable and compact', () => {
    expect(windowKey({ start: at('2025-03-09T07:00:00Z'), end: at('2025-03-10T07:00:00Z') })).toBe('20250309T070000Z_20250310T070000Z');
  });
});
