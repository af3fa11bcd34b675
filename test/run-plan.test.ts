/** The run plan (src/core/run-plan.ts): which windows a run reports, and what each digest says about itself. */
import { describe, expect, it } from 'vitest';
import { planRun, type RunPlan, type RunPlanInput } from '../src/core/run-plan.js';
import type { DeliveredWindow, DeliveryIntent } from '../src/core/run-state.js';

const NOW = new Date('2025-03-10T07:00:00Z');
const DAY = 86_400_000;
const iso = (msBeforeNow: number) => new Date(NOW.getTime() - msBeforeNow).toISOString();
const compact = (isoTime: string) => isoTime.replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
const keyOf = (start: string, end: string) => `${compact(start)}_${compact(end)}`;

function delivered(start: string, end: string): DeliveredWindow {
  return {
    key: keyOf(start, end),
    start,
    end,
    deliveredAt: end,
    messageId: 'm-1',
    marker: `${keyOf(start, end)}.aaaa1111`,
    summary: { eventsReviewed: 1, high: 0, medium: 0, low: 0, info: 1, byCategory: {} },
  };
}

function pending(start: string, end: string, attempt = 1): DeliveryIntent {
  return { key: keyOf(start, end), start, end, marker: `${keyOf(start, end)}.bbbb2222`, startedAt: end, attempt };
}

/** A plan in one line per window: span, marker (or "new"), attempt, what it says, and whether it is skipped. */
function describePlan(plan: RunPlan): string[] {
  const hhmm = (d: Date) => d.toISOString().slice(5, 16);
  return plan.windows.map((w) =>
    [
      `${hhmm(w.window.start)}→${hhmm(w.window.end)}`,
      w.skip ? 'skip' : w.marker === null ? 'new' : `repeat ${w.marker.slice(-8)}`,
      `#${w.attempt}`,
      ...w.notices.map((n) => n.split(':')[0]),
      ...(w.recordStart.getTime() === w.window.start.getTime() ? [] : [`record from ${hhmm(w.recordStart)}`]),
    ].join(' '),
  );
}

const base: RunPlanInput = {
  state: { cursor: null, delivered: [], pendingDelivery: null },
  now: NOW,
  maxCatchupDays: 7,
  dryRun: false,
  force: false,
};

describe('the run plan', () => {
  const cases: { name: string; input: Partial<RunPlanInput>; windows: string[]; skipped?: string; repair?: boolean }[] = [
    { name: 'first run: the 24 hours before now', input: {}, windows: ['03-09T07:00→03-10T07:00 new #1'] },
    {
      name: 'nothing due less than a minute after the cursor',
      input: { state: { cursor: iso(30_000), delivered: [], pendingDelivery: null } },
      windows: [],
    },
    {
      name: 'after a 3-day outage: 3 daily windows, oldest first',
      input: { state: { cursor: iso(3 * DAY), delivered: [], pendingDelivery: null } },
      windows: ['03-07T07:00→03-08T07:00 new #1', '03-08T07:00→03-09T07:00 new #1', '03-09T07:00→03-10T07:00 new #1'],
    },
    {
      name: 'down longer than the cap: the first digest states the gap and accounts for it',
      input: { maxCatchupDays: 2, state: { cursor: iso(4 * DAY), delivered: [], pendingDelivery: null } },
      windows: ['03-08T07:00→03-09T07:00 new #1 Coverage gap record from 03-06T07:00', '03-09T07:00→03-10T07:00 new #1'],
      skipped: '2025-03-06T07:00:00.000Z→2025-03-08T07:00:00.000Z',
    },
    {
      name: 'a send that died mid-send is repeated first, as the same window with the same marker, then what is due after it',
      input: { state: { cursor: iso(3 * DAY), delivered: [], pendingDelivery: pending(iso(3 * DAY), iso(2 * DAY)) } },
      windows: [
        '03-07T07:00→03-08T07:00 repeat bbbb2222 #2 Possible duplicate',
        '03-08T07:00→03-09T07:00 new #1',
        '03-09T07:00→03-10T07:00 new #1',
      ],
      repair: true,
    },
    {
      name: 'a repeated send keeps stating the span its first attempt skipped',
      input: { state: { cursor: iso(5 * DAY), delivered: [], pendingDelivery: pending(iso(2 * DAY), iso(DAY), 2) } },
      windows: [
        '03-08T07:00→03-09T07:00 repeat bbbb2222 #3 Coverage gap Possible duplicate record from 03-05T07:00',
        '03-09T07:00→03-10T07:00 new #1',
      ],
      skipped: '2025-03-05T07:00:00.000Z→2025-03-08T07:00:00.000Z',
      repair: true,
    },
    {
      name: 'a repeated send after an outage longer than the cap is all this run does',
      input: { maxCatchupDays: 2, state: { cursor: iso(10 * DAY), delivered: [], pendingDelivery: pending(iso(10 * DAY), iso(9 * DAY)) } },
      windows: ['02-28T07:00→03-01T07:00 repeat bbbb2222 #2 Possible duplicate'],
      repair: true,
    },
    {
      name: 'a dry run repeats no unrecorded send',
      input: { dryRun: true, state: { cursor: null, delivered: [], pendingDelivery: pending(iso(DAY), iso(0)) } },
      windows: ['03-09T07:00→03-10T07:00 new #1'],
    },
    {
      name: 'an unrecorded send that ends at the cursor is no repair (its window was recorded)',
      input: { state: { cursor: iso(DAY), delivered: [], pendingDelivery: pending(iso(2 * DAY), iso(DAY)) } },
      windows: ['03-09T07:00→03-10T07:00 new #1'],
    },
    {
      name: 'an explicit window that was delivered is not sent again',
      input: {
        from: new Date(iso(DAY)),
        to: NOW,
        state: { cursor: iso(0), delivered: [delivered(iso(DAY), iso(0))], pendingDelivery: null },
      },
      windows: ['03-09T07:00→03-10T07:00 skip #1'],
    },
    {
      name: '… unless forced, and then it says so',
      input: {
        from: new Date(iso(DAY)),
        to: NOW,
        force: true,
        state: { cursor: iso(0), delivered: [delivered(iso(DAY), iso(0))], pendingDelivery: null },
      },
      windows: ['03-09T07:00→03-10T07:00 new #1 Re-sent on request (--force); first delivered 2025-03-10T07'],
    },
    {
      name: 'an explicit window given by its start only ends now',
      input: { from: new Date(iso(6 * 3_600_000)) },
      windows: ['03-10T01:00→03-10T07:00 new #1'],
    },
    {
      name: 'an explicit window given by its end only is the 24 hours before it',
      input: { to: new Date(iso(DAY)) },
      windows: ['03-08T07:00→03-09T07:00 new #1'],
    },
    {
      name: 'an explicit window repeats the unrecorded send of the same key',
      input: { from: new Date(iso(DAY)), to: NOW, state: { cursor: null, delivered: [], pendingDelivery: pending(iso(DAY), iso(0)) } },
      windows: ['03-09T07:00→03-10T07:00 repeat bbbb2222 #2 Possible duplicate'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planRun({ ...base, ...c.input });
      expect(describePlan(plan)).toEqual(c.windows);
      expect(plan.skipped ? `${plan.skipped.start.toISOString()}→${plan.skipped.end.toISOString()}` : undefined).toBe(c.skipped);
      expect(plan.repair !== null).toBe(c.repair ?? false);
    });
  }

  it('the coverage gap notice says what was not reviewed and how to review it', () => {
    const plan = planRun({ ...base, maxCatchupDays: 1, state: { cursor: iso(3 * DAY), delivered: [], pendingDelivery: null } });
    expect(plan.windows[0]!.notices).toEqual([
      'Coverage gap: 2025-03-07T07:00:00Z to 2025-03-09T07:00:00Z (48 hours) was NOT reviewed: the worker was down longer than REPORT_MAX_CATCHUP_DAYS=1. Review it with: lastpass-audit-digest run --from 2025-03-07T07:00:00.000Z --to 2025-03-09T07:00:00.000Z',
    ]);
  });
});
