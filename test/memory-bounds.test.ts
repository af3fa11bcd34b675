/**
 * Memory bounded by design (issue #13): every per-key structure of the analysis and the detections has a
 * bound; a day with more distinct keys than the bound keeps its counts exact, the bounded structures stay
 * within their bound, what mattered (a burst, a spray, the severe rows) is still found, and the digest
 * says where a bound was reached, so such a day is never a green all-clear. Not timed.
 */
import { describe, expect, it } from 'vitest';
import { createRenderer } from '../src/adapters/renderer.js';
import type { Classification } from '../src/core/classify.js';
import { createAnalysis, HISTORY_USERS_KEPT, UNRECOGNISED_NAMES_KEPT } from '../src/core/analysis.js';
import { createBoundedRows } from '../src/core/bounded-rows.js';
import { createBoundedKeys, userKey } from '../src/core/detections/detection.js';
import { createFailedSigninBurstDetector } from '../src/core/detections/failed-signin-burst.js';
import { createPasswordSprayingDetector } from '../src/core/detections/password-spraying.js';
import { createSingletonTable, hash32, hash32b, SINGLETON_SLOTS } from '../src/core/detections/singleton-table.js';
import { buildDigestModel } from '../src/core/digest-model.js';
import type { AuditEvent, RawEvent, Severity } from '../src/core/types.js';
import { createWindowIntake, TAIL_PRINTS_KEPT } from '../src/core/window-intake.js';
import { attackIp, generateAttackRows } from '../src/simulator/attack-day.js';

const START = Date.parse('2025-06-03T07:00:00Z');
const END = START + 86_400_000;
const API_USER = 'lastpass-audit-digest';
const base = { apiUser: API_USER, windowStart: START, windowEnd: END };

const event = (e: Partial<AuditEvent>): AuditEvent => ({
  at: START + 3_600_000,
  wall: '2025-06-03 04:00:00',
  username: 'ana@example.org',
  ip: '192.0.2.1',
  action: 'Log in',
  data: '',
  ...e,
});

const digestContext = {
  window: { start: new Date(START), end: new Date(END) },
  requested: { from: '2025-06-03 03:00:00', to: '2025-06-04 02:59:59' },
  requests: 1,
  pages: 1,
  reportTimeZone: 'UTC',
  lastpassTimeZone: 'America/New_York',
  version: 'test',
  generatedAt: new Date(END),
};

describe('bounded rows (the relevant events kept)', () => {
  it('holds at most the bound, the most severe and then the newest, and counts what it let go', () => {
    const rows = createBoundedRows<{ at: number; severity: Severity; id: number }>(10);
    // 100 low rows, newest first, then 3 high and 2 medium among older ones.
    for (let i = 0; i < 100; i++) rows.push({ at: 1_000_000 - i, severity: 'low', id: i });
    rows.push({ at: 5, severity: 'high', id: 1000 });
    rows.push({ at: 4, severity: 'medium', id: 1001 });
    rows.push({ at: 3, severity: 'high', id: 1002 });
    rows.push({ at: 2, severity: 'medium', id: 1003 });
    rows.push({ at: 1, severity: 'high', id: 1004 });
    expect(rows.held.length).toBe(10);
    expect(rows.total).toBe(105);
    const ids = rows.held.map((r) => r.id).sort((a, b) => a - b);
    // Every high and medium row, and the five newest low rows.
    expect(ids).toEqual([0, 1, 2, 3, 4, 1000, 1001, 1002, 1003, 1004]);
    expect(rows.dropped).toEqual({ high: 0, medium: 0, low: 95, info: 0 });
  });
});

describe('the analysis past its bounds', () => {
  it('keeps RELEVANT rows within the bound, with exact counts and relevantTotal, and says so in limits', () => {
    const a = createAnalysis({ ...base, relevantRowsKept: 50 });
    for (let i = 0; i < 400; i++)
      a.add(event({ at: END - 1000 * (i + 1), username: `u${i}@example.org`, ip: attackIp(i), action: 'Failed Login Attempt' }));
    a.add(event({ at: START + 1000, action: 'Make Admin', data: 'x', username: 'root@example.org' }));
    const r = a.result();
    expect(r.relevant.length).toBe(50);
    expect(r.relevantTotal).toBe(401);
    expect(r.bySeverity.low).toBe(400);
    expect(r.bySeverity.high).toBe(1);
    expect(r.eventsReviewed).toBe(401);
    // The high event is kept although it is the oldest; the rest are the newest low ones.
    expect(r.relevant.some((e) => e.action === 'Make Admin')).toBe(true);
    expect(r.relevant.filter((e) => e.severity === 'low').every((e) => e.at >= END - 49_000)).toBe(true);
    expect(r.limits).toContainEqual(expect.stringContaining('401 in this window; the 50 most severe and newest are listed'));
    expect(r.limits.join(' ')).toContain('351 (351 low) are counted but not listed');
  });

  it('a day within every bound reports no limits', () => {
    const a = createAnalysis(base);
    for (let i = 0; i < 100; i++) a.add(event({ at: END - 1000 * (i + 1), username: `u${i}@example.org`, action: 'Failed Login Attempt' }));
    expect(a.result().limits).toEqual([]);
  });

  it('bounds the history (users) and the unrecognised names, counting what did not fit', () => {
    const a = createAnalysis(base);
    const users = HISTORY_USERS_KEPT + 7;
    for (let i = 0; i < users; i++) a.add(event({ username: `s${i}@example.org`, ip: attackIp(i), data: 'LastPass via Website' }));
    const names = UNRECOGNISED_NAMES_KEPT + 3;
    for (let i = 0; i < names; i++) a.add(event({ action: `Brand new action ${i}` }));
    const r = a.result();
    expect(Object.keys(r.history).length).toBe(HISTORY_USERS_KEPT);
    expect(r.unrecognised.length).toBe(UNRECOGNISED_NAMES_KEPT);
    expect(r.unrecognisedEvents).toBe(names);
    expect(r.eventsReviewed).toBe(users + names);
    expect(r.limits).toContainEqual(expect.stringContaining('7 events of further users are not recorded'));
    expect(r.limits).toContainEqual(expect.stringContaining('3 events with further names are counted but not listed by name'));
  });
});

describe('an attack day: more distinct users and IPs than the detectors keep', () => {
  const ATTACK = SINGLETON_SLOTS + 40_000;

  it('keeps exact counts, still finds the burst and the spray inside the attack, and says what was let go', () => {
    const a = createAnalysis(base);
    const attack = generateAttackRows({ end: new Date(END), timeZone: 'UTC', count: ATTACK });
    // The rows as the client hands them: newest first. Planted in the middle: one user's burst of 12
    // failures in 8 minutes, and one IP failing against 15 users in 20 minutes.
    const middle = START + 43_200_000;
    const planted: AuditEvent[] = [];
    for (let k = 0; k < 12; k++)
      planted.push(event({ at: middle + k * 40_000, username: 'victim@example.org', ip: '203.0.113.7', action: 'Failed Login Attempt' }));
    for (let k = 0; k < 15; k++)
      planted.push(
        event({ at: middle + k * 80_000, username: `sprayed${k}@example.org`, ip: '198.51.100.66', action: 'Failed login attempt' }),
      );
    const all = [
      ...attack.map((r, i) =>
        event({ at: START + Math.floor((i / ATTACK) * 86_399_000), username: r.Username, ip: r.IP_Address, action: r.Action }),
      ),
      ...planted,
    ].sort((x, y) => y.at - x.at);
    for (const e of all) a.add(e);
    const r = a.result();
    expect(r.eventsReviewed).toBe(ATTACK + 27);
    expect(r.bySeverity.low).toBe(ATTACK + 27);
    expect(r.relevantTotal).toBe(ATTACK + 27);
    expect(r.findings.map((f) => [f.detector, f.subject])).toEqual(
      expect.arrayContaining([
        ['failed-signin-burst', 'victim@example.org'],
        ['password-spraying', '198.51.100.66'],
      ]),
    );
    // Nothing else fires: single failures of distinct users are not bursts, however many.
    expect(r.findings).toHaveLength(2);
    const limits = r.limits.join('\n');
    expect(limits).toMatch(/Failed sign-in burst: 131,072 users with a single failed sign-in are remembered at once; [\d,]+ were let go/);
    expect(limits).toMatch(/Password spraying: 131,072 IPs with a single failed sign-in are remembered at once; [\d,]+ were let go/);
  });

  it('the digest shows the limits as a caution: never the green all-clear', () => {
    const a = createAnalysis({ ...base, relevantRowsKept: 10 });
    for (let i = 0; i < 30; i++)
      a.add(event({ at: END - 1000 * (i + 1), username: `u${i}@example.org`, ip: attackIp(i), action: 'Failed Login Attempt' }));
    const r = a.result();
    expect(r.findings).toEqual([]);
    const model = buildDigestModel(r, digestContext);
    expect(model.verdictLevel).toBe('untrusted');
    expect(model.quiet).toBe(false);
    expect(model.verdict).toContain('Memory bounds reached');
    expect(model.cautions.join(' ')).toContain('30 in this window; the 10 most severe and newest are listed and attached');
    // "and N more" counts from the exact total, not from the rows kept.
    expect(model.lowEvents.length + model.moreLowEvents).toBe(30);
    const { html, text } = createRenderer().renderDigest(model);
    expect(html).toContain('Memory bounds reached');
    expect(html).toContain('the 10 most severe and newest are listed and attached');
    expect(text.replace(/\s+/g, ' ')).toContain('CHECK: This window was too large to keep every detail in bounded memory');
    expect(text.replace(/\s+/g, ' ')).toContain('the 10 most severe and newest are listed and attached');
  });
});

describe('the bounded structures themselves', () => {
  it('the singleton table has a fixed size: a key seen twice comes out, the oldest of a full set goes', () => {
    const t = createSingletonTable(8); // 2 sets of 4
    const put = (k: string, at: number) => t.takeOrPut(hash32(k), hash32b(k), at, at * 10);
    expect(put('a', 1)).toBe(false);
    expect(put('a', 2)).toBe(true);
    expect(t.found).toEqual({ at: 1, value: 10 });
    // Taken out: a third sighting starts again.
    expect(put('a', 3)).toBe(false);
    for (let i = 0; i < 100; i++) put(`k${i}`, 100 + i);
    expect(t.evicted).toBe(100 + 1 - 8);
    // The newest keys are still there, the oldest were let go.
    expect(put('k99', 500)).toBe(true);
    expect(put('k0', 500)).toBe(false);
  });

  it('bounded keys: at most the bound; single-item keys make room, kept keys are never let go', () => {
    const keys = createBoundedKeys<number[]>(100);
    for (let i = 0; i < 50; i++) {
      keys.take(`kept${i}`, () => [])!.push(1, 2);
      keys.keep(`kept${i}`);
    }
    for (let i = 0; i < 1_000; i++) keys.take(`once${i}`, () => [1]);
    expect(keys.map.size).toBe(100);
    expect(keys.evicted).toBe(950);
    for (let i = 0; i < 50; i++) expect(keys.map.has(`kept${i}`)).toBe(true);
    for (let i = 950; i < 1_000; i++) expect(keys.map.has(`once${i}`)).toBe(true);
    // Full of kept keys: a new key is refused and counted.
    const full = createBoundedKeys<number>(2);
    full.take('a', () => 1);
    full.keep('a');
    full.take('b', () => 1);
    full.keep('b');
    expect(full.take('c', () => 1)).toBeUndefined();
    expect(full.refused).toBe(1);
  });

  it('the detectors report nothing about limits on an ordinary day, and a burst spread past the table is said', () => {
    const burst = createFailedSigninBurstDetector();
    const spray = createPasswordSprayingDetector();
    const failure: Classification = { kind: 'known', category: 'Sign-in', severity: 'low', note: '', signIn: 'failure' };
    for (let i = 0; i < 1_000; i++) {
      const e = event({ at: START + i * 1000, username: `u${i % 50}@example.org`, ip: `192.0.2.${i % 200}` });
      burst.observe(e, failure);
      spray.observe(e, failure);
    }
    expect(burst.limits?.()).toEqual([]);
    expect(spray.limits?.()).toEqual([]);
    for (let i = 0; i < SINGLETON_SLOTS + 10; i++) burst.observe(event({ username: `x${i}@example.org` }), failure);
    expect(burst.limits?.().join(' ')).toContain('were let go to make room');
  });

  it("the window's tail fingerprints stay within TAIL_PRINTS_KEPT and the limit is said", () => {
    const intake = createWindowIntake({ ...base, history: { users: {}, days: [] }, tailFrom: '2025-06-04 02:50:00', knownTail: null });
    const reused: RawEvent = {
      Time: '2025-06-04 02:55:00',
      Username: '',
      IP_Address: '192.0.2.1',
      Action: 'Failed Login Attempt',
      Data: '',
    };
    const n = TAIL_PRINTS_KEPT + 25;
    for (let i = 0; i < n; i++) {
      reused.Username = `t${i}@example.org`;
      intake.window.add(reused, END - 1000);
    }
    const { analysis, tailPrints } = intake.finish();
    expect(Object.keys(tailPrints).length).toBe(TAIL_PRINTS_KEPT);
    expect(analysis.eventsReviewed).toBe(n);
    expect(analysis.limits).toContainEqual(expect.stringContaining('25 more will be counted again'));
  });

  it('userKey is the trimmed, lower-case name, with or without its cache', () => {
    expect(userKey('ana@example.org')).toBe('ana@example.org');
    expect(userKey(' Ana@Example.org ')).toBe('ana@example.org');
    expect(userKey('ÉLODIE@example.org')).toBe('élodie@example.org');
    expect(userKey('')).toBe('');
  });
});
