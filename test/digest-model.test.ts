/** The digest model: trends (first day, missing days, standing out), the chart, the verdict. */
import { describe, expect, it } from 'vitest';
import { createAnalysis, type AnalysisResult } from '../src/core/analysis.js';
import { buildChart, buildDigestModel, buildTrends, type PriorDay } from '../src/core/digest-model.js';
import type { AuditEvent } from '../src/core/types.js';

const START = Date.parse('2025-03-09T07:00:00Z');
const END = START + 86_400_000;
const window = { start: new Date(START), end: new Date(END) };

function analyse(events: Partial<AuditEvent>[]): AnalysisResult {
  const a = createAnalysis({ apiUser: 'lastpass-audit-digest', windowStart: START, windowEnd: END });
  for (const e of events)
    a.add({ at: START + 3_600_000, wall: '', username: 'u@example.org', ip: '192.0.2.1', action: 'Log in', data: '', ...e });
  return a.result();
}
const day = (n: number, byCategory: Record<string, number>): PriorDay => ({
  end: new Date(START - n * 86_400_000).toISOString(),
  byCategory,
});
const failures = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ action: 'Failed Login Attempt', at: START + i * 7_200_000, username: `u${i}@example.org` }));

describe('trends', () => {
  it('on the first days says the baseline is still building, with no numbers', () => {
    expect(buildTrends(analyse(failures(3)), window, [])).toEqual({
      building: true,
      note: expect.stringContaining('none yet') as string,
      rows: [],
    });
    const two = buildTrends(analyse(failures(3)), window, [day(1, { 'Sign-in': 2 }), day(2, { 'Sign-in': 2 })]);
    expect(two.building).toBe(true);
    expect(two.note).toContain('2 so far');
  });

  it('compares today with the previous delivered day and the median of the last 7; marks what stands out', () => {
    const prior = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => day(n, { 'Sign-in': n === 1 ? 4 : 2, Policies: 1 }));
    const t = buildTrends(analyse([...failures(9), { action: 'Edit Policy', data: 'x' }]), window, prior);
    expect(t.building).toBe(false);
    expect(t.rows).toEqual([
      { category: 'Sign-in', today: 9, yesterday: '4', median: '2', standsOut: true },
      { category: 'Policies', today: 1, yesterday: '1', median: '1', standsOut: false },
    ]);
  });

  it('missing days count as what was delivered: windows after this one and gaps are ignored, not invented', () => {
    const prior = [day(1, { 'Sign-in': 1 }), day(5, { 'Sign-in': 1 }), day(9, { 'Sign-in': 1 }), day(-1, { 'Sign-in': 100 })];
    const t = buildTrends(analyse(failures(1)), window, prior);
    expect(t.building).toBe(false);
    expect(t.rows).toEqual([{ category: 'Sign-in', today: 1, yesterday: '1', median: '1', standsOut: false }]);
  });

  it('a category quiet today but present before still shows, with today 0', () => {
    const prior = [1, 2, 3].map((n) => day(n, { 'Admin rights': 1 }));
    expect(buildTrends(analyse([]), window, prior).rows).toEqual([
      { category: 'Admin rights', today: 0, yesterday: '1', median: '1', standsOut: false },
    ]);
  });
});

describe('activity chart', () => {
  it('one bar per clock hour, heights scaled to the busiest hour, failures visible', () => {
    const chart = buildChart(analyse([...failures(2), { at: START + 3_600_000 }, { at: START + 3_600_000 }]), window, 'UTC');
    expect(chart.bars).toHaveLength(24);
    expect(chart.max).toBe(2);
    const busiest = chart.bars[1]!;
    expect(busiest).toMatchObject({ label: '08', total: 2, totalPx: 60, restPx: 0 });
    expect(chart.bars[0]!.failurePx).toBeGreaterThanOrEqual(3);
    expect(chart.bars[5]!.totalPx).toBe(0);
    expect(busiest.title).toBe('08:00–09:00: 2 events, 0 failed sign-ins');
  });
});

describe('verdict', () => {
  const ctx = {
    window,
    requested: null,
    requests: 1,
    pages: 1,
    reportTimeZone: 'UTC',
    lastpassTimeZone: 'America/New_York',
    version: 't',
    generatedAt: new Date(END),
  };
  it('quiet: states the number of events reviewed', () => {
    const m = buildDigestModel(analyse([{}, {}]), ctx);
    expect(m.quiet).toBe(true);
    expect(m.verdict).toBe('Quiet day: no security-relevant events among 2 events reviewed');
    expect(m.subject).toBe('LastPass security digest 2025-03-10 — quiet, 2 events reviewed');
  });
  it('counts findings (detections and uncovered high/medium events)', () => {
    const m = buildDigestModel(analyse([{ action: 'Data export' }, { action: 'Make Admin', data: 'x@example.org' }]), ctx);
    expect(m.verdict).toBe('2 findings need attention (2 high) among 2 events reviewed');
    expect(m.detections.map((d) => d.title)).toEqual(['Admin rights granted', 'Data export']);
  });
});
