/** Clock sanity against an upstream's Date header, and stored times found in the future (pure rules). */
import { describe, expect, it } from 'vitest';
import { CLOCK_TOLERANCE_MS, judgeClock } from '../src/core/clock-sanity.js';
import { emptyRunState, type DeliveredWindow, type RunState } from '../src/core/run-state.js';
import { checkStateTimes } from '../src/core/state-check.js';

const NOW = Date.parse('2025-03-10T07:00:00.000Z');
const DAY = 86_400_000;

describe('clock sanity', () => {
  const sample = (skewMs: number) => ({ sentAt: NOW, receivedAt: NOW + 200, serverDate: Math.floor((NOW - skewMs) / 1000) * 1000 });
  const cases: { name: string; skewMs: number; kind: 'ok' | 'skewed' }[] = [
    { name: 'agreeing clocks', skewMs: 0, kind: 'ok' },
    { name: 'two minutes ahead is within the tolerance', skewMs: 120_000, kind: 'ok' },
    { name: 'six minutes behind is not', skewMs: -360_000, kind: 'skewed' },
    { name: 'three days ahead is not', skewMs: 3 * DAY, kind: 'skewed' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const v = judgeClock([sample(c.skewMs)], NOW + 200, 'LastPass');
      expect(v.kind).toBe(c.kind);
      if (v.kind !== 'unverified') expect(Math.abs(v.skewMs - c.skewMs)).toBeLessThan(1_500);
      if (v.kind === 'skewed') expect(v.message).toMatch(/^This machine's clock is .* (ahead of|behind) LastPass's .*Fix the system clock/);
    });
  }

  it('never plans past the upstream: its time now is its Date plus what passed since', () => {
    const v = judgeClock([{ sentAt: NOW, receivedAt: NOW, serverDate: NOW - 90_000 }], NOW + 5_000, 'LastPass');
    expect(v).toMatchObject({ kind: 'ok', upstreamNow: NOW - 85_000 });
  });

  it('without a Date header the clock is unverified', () => {
    expect(judgeClock([{ sentAt: NOW, receivedAt: NOW, serverDate: null }], NOW, 'SendGrid')).toEqual({ kind: 'unverified' });
    expect(CLOCK_TOLERANCE_MS).toBe(300_000);
  });
});

describe('stored times in the future', () => {
  const day = (n: number): DeliveredWindow => ({
    key: `d${n}`,
    start: new Date(NOW + (n - 1) * DAY).toISOString(),
    end: new Date(NOW + n * DAY).toISOString(),
    deliveredAt: new Date(NOW + n * DAY).toISOString(),
    messageId: null,
    marker: `m${n}`,
    summary: { eventsReviewed: n > 0 ? 0 : 18_000, high: 0, medium: 0, low: 0, info: 0, byCategory: {} },
  });
  const state = (over: Partial<RunState>): RunState => ({ ...emptyRunState(), ...over });

  it('a cursor moved days ahead by a fast clock goes back to where the unreal windows began, with a notice', () => {
    // Delivered for -1 (real), then 1, 2, 3 days ahead (a clock three days fast for one run).
    const s = state({ cursor: new Date(NOW + 3 * DAY).toISOString(), delivered: [day(-1), day(0), day(1), day(2), day(3)] });
    const c = checkStateTimes(s, new Date(NOW), CLOCK_TOLERANCE_MS);
    expect(c.cursorRepair).toEqual({ found: new Date(NOW + 3 * DAY).toISOString(), repaired: new Date(NOW).toISOString() });
    expect(c.state.cursor).toBe(new Date(NOW).toISOString());
    expect(c.state.delivered.map((d) => d.key)).toEqual(['d-1', 'd0']);
    expect(c.notices).toHaveLength(1);
    expect(c.notices[0]).toMatch(/^Repaired: the stored cursor was 2025-03-13T07:00:00\.000Z, 3 days in the future/);
    expect(c.notices[0]).toContain('3 digests sent for d1, d2, d3 covered time that had not happened yet');
  });

  it('a future cursor no delivered window explains goes back to the newest real one', () => {
    const s = state({ cursor: new Date(NOW + 10 * DAY).toISOString(), delivered: [day(-1), day(0)] });
    expect(checkStateTimes(s, new Date(NOW + 3_600_000), CLOCK_TOLERANCE_MS).state.cursor).toBe(new Date(NOW).toISOString());
    expect(
      checkStateTimes(state({ cursor: new Date(NOW + DAY).toISOString() }), new Date(NOW), CLOCK_TOLERANCE_MS).state.cursor,
    ).toBeNull();
  });

  it('a pending send of a window that ends in the future is dropped with a notice', () => {
    const pendingDelivery = {
      key: 'p',
      start: new Date(NOW).toISOString(),
      end: new Date(NOW + DAY).toISOString(),
      marker: 'm',
      startedAt: new Date(NOW).toISOString(),
      attempt: 1,
    };
    const c = checkStateTimes(state({ pendingDelivery }), new Date(NOW), CLOCK_TOLERANCE_MS);
    expect(c.dropPending).toEqual(pendingDelivery);
    expect(c.state.pendingDelivery).toBeNull();
    expect(c.notices[0]).toMatch(/is not repeated/);
  });

  it('within the clock tolerance nothing is repaired', () => {
    const s = state({ cursor: new Date(NOW + 60_000).toISOString(), delivered: [day(-1)] });
    expect(checkStateTimes(s, new Date(NOW), CLOCK_TOLERANCE_MS)).toMatchObject({ cursorRepair: null, dropPending: null, notices: [] });
  });
});
