import { describe, expect, it } from 'vitest';
import { createWallResolver, formatWall, resolveWall, wallBoundary, wallMinusOneSecond } from '../src/core/wall-time.js';
import { createLocalSecondFormatter, createUtcSecondFormatter, formatLocalSecond, formatUtc } from '../src/core/display-time.js';
import { requestRange } from '../src/run-report.js';

const NY = 'America/New_York';
const iso = (s: string) => Date.parse(s);

describe('wall-clock times in America/New_York', () => {
  it.each([
    // ordinary winter and summer times
    ['2025-01-15 12:00:00', '2025-01-15T17:00:00Z', 'exact'],
    ['2025-07-04 09:30:15', '2025-07-04T13:30:15Z', 'exact'],
    // spring forward 2025-03-09: 02:00-02:59 does not exist; mapped with the offset before the gap
    ['2025-03-09 01:59:59', '2025-03-09T06:59:59Z', 'exact'],
    ['2025-03-09 02:30:00', '2025-03-09T07:30:00Z', 'skipped'],
    ['2025-03-09 03:00:00', '2025-03-09T07:00:00Z', 'exact'],
    // fall back 2025-11-02: 01:00-01:59 happens twice; the earlier (EDT) instant is chosen
    ['2025-11-02 00:59:59', '2025-11-02T04:59:59Z', 'exact'],
    ['2025-11-02 01:30:00', '2025-11-02T05:30:00Z', 'repeated'],
    ['2025-11-02 02:00:00', '2025-11-02T07:00:00Z', 'exact'],
  ])('%s resolves to %s (%s)', (wall, instant, resolution) => {
    expect(resolveWall(wall, NY)).toEqual({ at: iso(instant), resolution });
    expect(createWallResolver(NY)(wall)).toBe(iso(instant));
  });

  it('rejects malformed and impossible wall times', () => {
    for (const bad of ['2025-02-30 10:00:00', '2025-03-09T10:00:00', '2025-03-09 24:00:00', '', '2025-03-09 10:00']) {
      expect(resolveWall(bad, NY)).toBeNull();
      expect(createWallResolver(NY)(bad)).toBeNaN();
    }
  });

  it('the cached resolver agrees with the exact one every minute across both transition days', () => {
    const resolver = createWallResolver(NY);
    for (const day of ['2025-03-08T00:00:00Z', '2025-11-01T00:00:00Z']) {
      const start = iso(day);
      for (let t = start; t < start + 3 * 86_400_000; t += 60_000 + 7_000) {
        const wall = formatWall(t, NY);
        expect(resolver(wall)).toBe(resolveWall(wall, NY)!.at);
      }
    }
  });

  it('formats instants back to wall time, both passes of the repeated hour showing the same string', () => {
    expect(formatWall(iso('2025-11-02T05:30:00Z'), NY)).toBe('2025-11-02 01:30:00');
    expect(formatWall(iso('2025-11-02T06:30:00Z'), NY)).toBe('2025-11-02 01:30:00');
    expect(formatWall(iso('2025-03-09T07:00:00Z'), NY)).toBe('2025-03-09 03:00:00');
  });
});

describe('window boundaries in wall-clock terms', () => {
  it('is the plain wall time away from transitions, rounded up to the second', () => {
    expect(wallBoundary(iso('2025-06-01T11:00:00Z'), NY)).toBe('2025-06-01 07:00:00');
    expect(wallBoundary(iso('2025-06-01T11:00:00.001Z'), NY)).toBe('2025-06-01 07:00:01');
  });

  it('inside the second pass of the repeated hour it is the end of the repeated range', () => {
    // 06:30Z is 01:30 EST, a wall time already shown at 05:30Z (01:30 EDT).
    expect(wallBoundary(iso('2025-11-02T06:30:00Z'), NY)).toBe('2025-11-02 02:00:00');
    expect(wallBoundary(iso('2025-11-02T05:30:00Z'), NY)).toBe('2025-11-02 01:30:00');
    expect(wallBoundary(iso('2025-11-02T07:00:00Z'), NY)).toBe('2025-11-02 02:00:00');
  });

  it('consecutive windows never overlap or leave a gap in wall-clock terms, hour by hour across both DST days', () => {
    for (const day of ['2025-03-08T20:00:00Z', '2025-11-01T20:00:00Z']) {
      let previousTo: string | null = null;
      for (let h = 0; h < 24; h++) {
        const start = new Date(iso(day) + h * 3_600_000);
        const end = new Date(start.getTime() + 3_600_000);
        const range = requestRange({ start, end }, NY);
        if (range === null) continue; // a window wholly inside an already-covered repeated hour
        if (previousTo !== null) expect(wallMinusOneSecond(range.from)).toBe(previousTo);
        previousTo = range.to;
      }
    }
  });

  it('a window lying wholly in the second pass of the repeated hour asks for nothing', () => {
    const range = requestRange({ start: new Date('2025-11-02T06:10:00Z'), end: new Date('2025-11-02T06:50:00Z') }, NY);
    expect(range).toBeNull();
  });

  it('a daily window across spring-forward is 23 wall hours long and across fall-back 25', () => {
    expect(requestRange({ start: new Date('2025-03-09T05:00:00Z'), end: new Date('2025-03-10T04:00:00Z') }, NY)).toEqual({
      from: '2025-03-09 00:00:00',
      to: '2025-03-09 23:59:59',
    });
    expect(requestRange({ start: new Date('2025-11-02T04:00:00Z'), end: new Date('2025-11-03T05:00:00Z') }, NY)).toEqual({
      from: '2025-11-02 00:00:00',
      to: '2025-11-02 23:59:59',
    });
  });
});

describe('local seconds for many instants (the CSV attachment)', () => {
  it.each(['UTC', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', 'Africa/Monrovia', 'Europe/Amsterdam'])(
    'createLocalSecondFormatter agrees with formatLocalSecond in %s, across DST changes and pre-1972 odd offsets',
    (zone) => {
      const format = createLocalSecondFormatter(zone);
      const instants: number[] = [];
      for (let at = Date.UTC(1968, 0, 1); at < Date.UTC(1975, 0, 1); at += 7_777_777) instants.push(at);
      for (const day of [
        Date.UTC(2024, 2, 10),
        Date.UTC(2024, 2, 31),
        Date.UTC(2024, 3, 7),
        Date.UTC(2024, 9, 6),
        Date.UTC(2024, 9, 27),
        Date.UTC(2024, 10, 3),
      ]) {
        for (let at = day; at < day + 12 * 3_600_000; at += 9_973) instants.push(at);
      }
      // Newest first, as the attachments list them, and back again.
      const differing = [...instants]
        .reverse()
        .concat(instants)
        .filter((at) => format(at) !== formatLocalSecond(at, zone));
      expect(differing.map((at) => new Date(at).toISOString())).toEqual([]);
      expect(instants.length).toBeGreaterThan(20_000);
    },
  );
});

describe('UTC seconds for many instants (the attachments)', () => {
  it('createUtcSecondFormatter agrees with formatUtc, whole seconds or not, in any order, and outside 0000-9999', () => {
    const format = createUtcSecondFormatter();
    const instants: number[] = [];
    for (let at = Date.UTC(1968, 0, 1); at < Date.UTC(1975, 0, 1); at += 7_777_777) instants.push(at);
    for (let at = Date.UTC(2024, 1, 28, 23); at < Date.UTC(2024, 2, 1, 1); at += 997) instants.push(at);
    instants.push(Date.UTC(10000, 0, 1, 0, 0, 5), Date.UTC(-1, 11, 31, 23, 59, 59), -1, 0, 59_999, 60_000, -0.5, -60_000.5, 1.5);
    const differing = [...instants]
      .reverse()
      .concat(instants)
      .filter((at) => format(at) !== formatUtc(at));
    expect(differing).toEqual([]);
    expect(format(Date.UTC(2025, 2, 9, 7, 0, 5))).toBe('2025-03-09T07:00:05Z');
  });
});
