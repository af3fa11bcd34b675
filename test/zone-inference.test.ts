/**
 * The zone self-check's inference (pure): this run's own Reporting rows, at the wall times LastPass logged
 * them, against the instants the requests were sent, give the offset LastPass speaks; rows of earlier runs
 * and other coincidences do not.
 */
import { describe, expect, it } from 'vitest';
import { formatWall, offsetAt } from '../src/core/wall-time.js';
import { formatOffset, inferZone, zoneCaution, zonesWithOffset } from '../src/core/zone-inference.js';

const NOW = new Date('2025-03-10T07:00:00.000Z');
const T = NOW.getTime();
const H = 3_600_000;

/** This run: two clock probes, three pages, each taking 300–700 ms. */
const requests = [0, 800, 2_000, 2_600, 3_500].map((d, i) => ({ sentAt: T + d, receivedAt: T + d + 300 + i * 100 }));

/** The rows LastPass logs for these requests in `zone`, as one response's counts per wall time. */
function echoesIn(zone: string, which = requests): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of which) {
    const wall = formatWall(r.sentAt + 120, zone);
    out[wall] = (out[wall] ?? 0) + 1;
  }
  return out;
}

describe('inferZone', () => {
  for (const zone of [
    'America/New_York',
    'Europe/Berlin',
    'America/Los_Angeles',
    'Asia/Kolkata',
    'Asia/Kathmandu',
    'UTC',
    'Pacific/Auckland',
  ]) {
    it(`finds ${zone} (${formatOffset(offsetAt(T, zone))}) from this run's own rows`, () => {
      const inf = inferZone({ requests, echoes: [echoesIn(zone)], newestWall: null }, 'America/New_York', NOW);
      expect(inf.inferredOffsetMs).toBe(offsetAt(T, zone));
      expect(inf.matchedRequests).toBe(5);
    });
  }

  it('two probes are enough, when only they came back (LastPass behind the configured zone)', () => {
    const inf = inferZone(
      { requests, echoes: [echoesIn('America/Los_Angeles', requests.slice(0, 2))], newestWall: null },
      'America/New_York',
      NOW,
    );
    expect(inf.inferredOffsetMs).toBe(-7 * H);
  });

  it('one row is no inference: it could fit a wrong offset by coincidence', () => {
    const inf = inferZone(
      { requests, echoes: [echoesIn('Europe/Berlin', requests.slice(0, 1))], newestWall: null },
      'America/New_York',
      NOW,
    );
    expect(inf.inferredOffsetMs).toBeNull();
  });

  it("a row seen in two responses is one row, and yesterday's rows at the same time of day do not outvote today's", () => {
    const today = echoesIn('America/New_York');
    const yesterday: Record<string, number> = {};
    for (const r of requests) yesterday[formatWall(r.sentAt - 24 * H + 150, 'America/New_York')] = 1;
    const inf = inferZone({ requests, echoes: [today, today, yesterday], newestWall: null }, 'America/New_York', NOW);
    expect(inf).toMatchObject({ inferredOffsetMs: -4 * H, matchedRequests: 5 });
  });

  it('rows of earlier runs at round times (one row each) never make an inference', () => {
    const planted: Record<string, number> = {};
    for (let h = 1; h < 24; h += 3) planted[formatWall(T - h * H, 'America/New_York')] = 1;
    const fixed = requests.map(() => ({ sentAt: T, receivedAt: T }));
    expect(inferZone({ requests: fixed, echoes: [planted], newestWall: null }, 'America/New_York', NOW).inferredOffsetMs).toBeNull();
  });

  it('the newest event later than now in the configured zone tells how far ahead LastPass is', () => {
    const inf = inferZone({ requests, echoes: [], newestWall: formatWall(T, 'Europe/Berlin') }, 'America/New_York', NOW);
    expect(inf.inferredOffsetMs).toBeNull();
    expect(inf.newestAheadMs).toBe(5 * H);
    expect(zoneCaution(inf, 'lastpass-audit-digest', NOW)?.headline).toBe(
      'LastPass speaks a zone at least +05:00 ahead of America/New_York',
    );
  });
});

describe('zoneCaution', () => {
  it('says which zone fits, and that LASTPASS_TIMEZONE should be set to it', () => {
    const inf = inferZone({ requests, echoes: [echoesIn('Europe/Berlin')], newestWall: null }, 'America/New_York', NOW);
    const c = zoneCaution(inf, 'lastpass-audit-digest', NOW);
    expect(c?.headline).toBe('LastPass speaks UTC+01:00, not America/New_York');
    expect(c?.detail).toContain('fit UTC+01:00 (Europe/Berlin');
    expect(c?.detail).toContain('LASTPASS_TIMEZONE=America/New_York (UTC-04:00 now)');
    expect(c?.detail).toContain('Set LASTPASS_TIMEZONE');
  });

  it('is silent when LastPass speaks the configured zone, or is off by less than 30 minutes', () => {
    const same = inferZone({ requests, echoes: [echoesIn('America/New_York')], newestWall: null }, 'America/New_York', NOW);
    expect(zoneCaution(same, 'lastpass-audit-digest', NOW)).toBeNull();
    // America/Toronto has the same offset as New York: not a disagreement.
    expect(
      zoneCaution(inferZone({ requests, echoes: [echoesIn('America/Toronto')], newestWall: null }, 'America/New_York', NOW), 'x', NOW),
    ).toBeNull();
  });

  it('lists well-known zones first', () => {
    expect(zonesWithOffset(0, NOW)[0]).toBe('UTC');
    expect(zonesWithOffset(5.75 * H, NOW)).toContain('Asia/Kathmandu');
  });
});
