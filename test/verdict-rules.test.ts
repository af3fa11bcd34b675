/**
 * The rules that keep a digest from being a false all-clear, as pure functions (table-driven): silence
 * against the delivered days, rows outside the asked range, and what a caution does to the verdict.
 */
import { describe, expect, it } from 'vitest';
import { createAnalysis } from '../src/core/analysis.js';
import { buildDigestModel, type DigestContext } from '../src/core/digest-model.js';
import { judgeOutOfRange } from '../src/core/out-of-range-rule.js';
import { unusuallyFew, type BaselineWindow } from '../src/core/silence-rule.js';

const DAY = 86_400_000;
const END = Date.parse('2025-03-10T07:00:00Z');
const window = { start: new Date(END - DAY), end: new Date(END) };
const NOW = new Date(END);

/** Delivered days before the window, newest first: events[0] is the day just before it. */
const days = (...events: number[]): BaselineWindow[] =>
  events.map((n, i) => ({
    start: new Date(END - (i + 2) * DAY).toISOString(),
    end: new Date(END - (i + 1) * DAY).toISOString(),
    eventsReviewed: n,
  }));

describe('silence is not quiet', () => {
  const cases: { name: string; reviewed: number; prior: BaselineWindow[]; usual: number | null | 'none'; length?: number }[] = [
    { name: 'zero events on the first day (no history) over 24 hours', reviewed: 0, prior: [], usual: null },
    { name: 'zero events with two delivered days is still "no history"', reviewed: 0, prior: days(18_000, 18_500), usual: null },
    { name: 'zero events against a usual day', reviewed: 0, prior: days(18_000, 18_500, 17_900), usual: 18_000 },
    { name: 'a drop below 5 % of the median of the last 7', reviewed: 899, prior: days(18_000, 18_500, 17_900, 20_000), usual: 18_250 },
    { name: 'a quiet weekend is not silence (above 5 %)', reviewed: 1_000, prior: days(18_000, 18_500, 17_900), usual: 'none' },
    { name: 'zero over a short window on the first days is not judged', reviewed: 0, prior: [], usual: 'none', length: 3_600_000 },
    {
      name: 'earlier zero windows are not the norm: they are left out of the baseline',
      reviewed: 0,
      prior: days(0, 0, 0, 0, 18_000, 18_100, 17_000),
      usual: 18_000,
    },
    { name: 'a small tenant at its usual level is fine', reviewed: 40, prior: days(35, 50, 42), usual: 'none' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const w = c.length ? { start: new Date(END - c.length), end: window.end } : window;
      const s = unusuallyFew({ eventsReviewed: c.reviewed, window: w, prior: c.prior, now: NOW });
      if (c.usual === 'none') {
        expect(s).toBeNull();
        return;
      }
      expect(s).not.toBeNull();
      expect(s!.usual).toBe(c.usual);
      expect(s!.headline).toMatch(/^Unusually few events: /);
      if (c.usual !== null)
        expect(s!.headline).toBe(
          `Unusually few events: ${c.reviewed.toLocaleString('en-US')} reviewed, the usual is ${c.usual.toLocaleString('en-US')}`,
        );
      expect(s!.detail).toContain('LASTPASS_TIMEZONE');
    });
  }

  it('scales the baseline to the window length and ignores windows of another length and in the future', () => {
    const short = { start: new Date(END - 6 * 3_600_000), end: window.end };
    const prior = [
      ...days(24_000, 24_000, 24_000),
      { start: new Date(END + DAY).toISOString(), end: new Date(END + 2 * DAY).toISOString(), eventsReviewed: 1 },
    ];
    // 6 hours of a 24,000-a-day tenant: 6,000 usual; the daily windows are 4× as long, outside ½–2×.
    expect(unusuallyFew({ eventsReviewed: 0, window: short, prior, now: NOW })).toBeNull();
    const halfDay = { start: new Date(END - 12 * 3_600_000), end: window.end };
    expect(unusuallyFew({ eventsReviewed: 10, window: halfDay, prior, now: NOW })?.usual).toBe(12_000);
  });
});

describe('rows outside the asked range', () => {
  const range = { from: '2025-03-09 02:00:00', to: '2025-03-10 01:59:59' };
  const cases: { name: string; returned: number; before: number; after: number; kind: 'none' | 'caution' | 'fail' }[] = [
    { name: 'none: nothing to say', returned: 18_000, before: 0, after: 0, kind: 'none' },
    { name: 'a stray row or two: a caution', returned: 18_000, before: 1, after: 1, kind: 'caution' },
    { name: 'a one-hour shift (about 4 %): a caution', returned: 18_000, before: 750, after: 0, kind: 'caution' },
    { name: 'two hours or more (5 % and more): the window fails', returned: 18_000, before: 0, after: 1_500, kind: 'fail' },
    { name: 'everything two days old: the window fails', returned: 1_200, before: 1_200, after: 0, kind: 'fail' },
    { name: 'a single row, out of range: the window fails', returned: 1, before: 0, after: 1, kind: 'fail' },
    { name: 'nine of a hundred: a caution (fewer than 10 rows)', returned: 100, before: 9, after: 0, kind: 'caution' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const v = judgeOutOfRange(
        { rowsReturned: c.returned, outOfRangeBefore: c.before, outOfRangeAfter: c.after },
        range,
        'America/New_York',
      );
      expect(v.kind).toBe(c.kind);
      if (v.kind === 'fail')
        expect(v.message).toMatch(/^LastPass answered for another time range: check LASTPASS_TIMEZONE and the clock\./);
      if (v.kind === 'caution') expect(v.caution.detail).toContain(`${c.before.toLocaleString('en-US')} older than 2025-03-09 02:00:00`);
    });
  }
});

describe('a caution in the verdict', () => {
  const ctx: DigestContext = {
    window,
    requested: { from: '2025-03-09 02:00:00', to: '2025-03-10 01:59:59' },
    requests: 1,
    pages: 0,
    reportTimeZone: 'UTC',
    lastpassTimeZone: 'America/New_York',
    version: '0.0.0-test',
    generatedAt: NOW,
  };
  const analysis = (actions: string[]) => {
    const a = createAnalysis({ apiUser: 'lastpass-audit-digest', windowStart: window.start.getTime(), windowEnd: END });
    for (const action of actions) a.add({ at: END - 3_600_000, wall: '', username: 'u@example.org', ip: '192.0.2.1', action, data: '' });
    return a.result();
  };
  const caution = { headline: 'Unusually few events: 0 reviewed, the usual is 18,000', detail: 'Check LASTPASS_TIMEZONE.' };

  it('makes a quiet day amber, with no attestation and the caution at the top', () => {
    const m = buildDigestModel(analysis([]), { ...ctx, cautions: [caution] });
    expect(m).toMatchObject({ verdictLevel: 'untrusted', quiet: false, attestation: '', cautions: ['Check LASTPASS_TIMEZONE.'] });
    expect(m.verdict).toBe('Unusually few events: 0 reviewed, the usual is 18,000 · no findings among 0 events reviewed');
    expect(m.subject).toBe('LastPass security digest 2025-03-10 — CHECK: Unusually few events: 0 reviewed, the usual is 18,000');
  });

  it('keeps a high finding red, and says CHECK in the subject', () => {
    const m = buildDigestModel(analysis(['Data export']), { ...ctx, cautions: [caution] });
    expect(m.verdictLevel).toBe('attention');
    expect(m.quiet).toBe(false);
    expect(m.subject).toContain('· CHECK: Unusually few events');
  });

  it('without a caution a day with nothing found is the green quiet one', () => {
    expect(buildDigestModel(analysis(['Log in']), ctx)).toMatchObject({ verdictLevel: 'quiet', quiet: true, cautions: [] });
  });
});
