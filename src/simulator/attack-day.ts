/**
 * An attack day's extra rows (issue #13, "Memory bounded by design"): `count` failed sign-ins, each from
 * its own user and its own IP, spread over the window. Added to a demo day (`generateDemoDay`) they make
 * the day an engineer most needs the digest on: hundreds of thousands of distinct users and IPs. Used by
 * `npm run bench -- --attack N` and the bound tests. Deterministic (seeded).
 */
import { formatWall } from '../core/wall-time.js';
import type { RawEvent } from '../core/types.js';
import { mulberry32 } from './demo-day.js';

export interface AttackRowsOptions {
  /** Window end (exclusive). */
  end: Date;
  /** Window length in hours (default 24). */
  hours?: number;
  /** The zone of the wall-clock `Time` strings (default 'America/New_York'). */
  timeZone?: string;
  /** Failed sign-ins, each from a distinct user and a distinct IP. */
  count: number;
  /** Email domain of the targeted accounts (default 'example.org'). */
  domain?: string;
  seed?: number;
}

/** The i-th attacking address: distinct for i below 4,194,304 (100.64.0.0/10, shared address space). */
export function attackIp(i: number): string {
  const n = (100 << 24) + (64 << 16) + i;
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function generateAttackRows(options: AttackRowsOptions): RawEvent[] {
  const hours = options.hours ?? 24;
  const timeZone = options.timeZone ?? 'America/New_York';
  const domain = options.domain ?? 'example.org';
  const count = Math.max(0, Math.floor(options.count));
  if (count > 4_194_304) throw new RangeError('generateAttackRows: at most 4,194,304 distinct IPs');
  const rand = mulberry32(options.seed ?? 1313);
  const endSec = Math.ceil(options.end.getTime() / 1000);
  const startSec = Math.ceil((options.end.getTime() - hours * 3_600_000) / 1000);
  const span = endSec - startSec;
  // One Time string per second (rows of one second share it, as the demo day's do).
  const walls = new Map<number, string>();
  const rows: RawEvent[] = new Array<RawEvent>(count);
  for (let i = 0; i < count; i++) {
    const sec = startSec + Math.floor(rand() * span);
    let wall = walls.get(sec);
    if (wall === undefined) walls.set(sec, (wall = formatWall(sec * 1000, timeZone)));
    rows[i] = {
      Time: wall,
      Username: `target${String(i).padStart(7, '0')}@${domain}`,
      IP_Address: attackIp(i),
      Action: 'Failed Login Attempt',
      Data: '',
    };
  }
  return rows;
}
