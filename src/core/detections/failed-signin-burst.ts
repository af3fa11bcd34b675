/**
 * Failed sign-in bursts per user: at least `burstFailures` failures within `burstMinutes`. A successful
 * sign-in of that user within `burstSuccessMinutes` after the burst escalates it to high (the guess may
 * have worked); without one it is medium.
 */
import type { Classification } from '../classify.js';
import type { AuditEvent } from '../types.js';
import { createSingletonTable, hash32, hash32b, SINGLETON_SLOTS } from './singleton-table.js';
import {
  createBoundedKeys,
  formatSpan,
  ITEMS_PER_KEY_KEPT,
  KEYS_KEPT,
  keysLimitNote,
  userKey,
  type Detector,
  type Finding,
} from './detection.js';

export function isFailedSignIn(c: Classification): boolean {
  return c.kind === 'known' && c.signIn === 'failure';
}

export function isSuccessfulSignIn(c: Classification): boolean {
  return c.kind === 'known' && c.signIn === 'success';
}

interface Attempt {
  at: number;
  /** hash32 of the IP (0: no IP); the strings are kept per user in `ipNames`. */
  ip: number;
}

/** A user with more than one failed sign-in: the attempts, and the IPs they came from by hash. */
interface Failures {
  name: string;
  attempts: Attempt[];
  ipNames: Map<number, string>;
}

const ipHash = (ip: string) => (ip ? hash32(ip) : 0);

/**
 * One user's successful sign-ins: most of the sign-in traffic, so no object or string per event. Times
 * and IP indexes are packed in typed arrays (outside the JS heap, grown by doubling); each IP is stored
 * once and referred to by its index.
 */
interface Successes {
  count: number;
  at: Float64Array;
  ipIndex: Int32Array;
  ips: string[];
  ipIndexOf: Map<string, number>;
}

function addSuccess(list: Successes, at: number, ip: string): void {
  let index = list.ipIndexOf.get(ip);
  if (index === undefined) {
    index = list.ips.push(ip) - 1;
    list.ipIndexOf.set(ip, index);
  }
  if (list.count === list.at.length) {
    const at2 = new Float64Array(list.count * 2);
    at2.set(list.at);
    list.at = at2;
    const ip2 = new Int32Array(list.count * 2);
    ip2.set(list.ipIndex);
    list.ipIndex = ip2;
  }
  list.at[list.count] = at;
  list.ipIndex[list.count] = index;
  list.count++;
}

function firstSuccessAfter(list: Successes | undefined, after: number, within: number): { at: number; ip: string } | undefined {
  if (!list) return undefined;
  let best = -1;
  for (let i = 0; i < list.count; i++) {
    const at = list.at[i]!;
    if (at >= after && at - after <= within && (best < 0 || at < list.at[best]!)) best = i;
  }
  return best < 0 ? undefined : { at: list.at[best]!, ip: list.ips[list.ipIndex[best]!]! };
}

export function createFailedSigninBurstDetector(): Detector {
  // Bounded: a user's first failure goes into a fixed-size table (singleton-table.ts: no object or string
  // per user); a second one makes it a full entry, at most KEYS_KEPT users of them with at most
  // ITEMS_PER_KEY_KEPT failures each. Successful sign-ins: at most KEYS_KEPT users (detection.ts).
  const once = createSingletonTable();
  const failures = new Map<string, Failures>();
  let failuresRefused = 0;
  const successes = createBoundedKeys<Successes>();
  let failuresOver = 0;
  let successesOver = 0;
  const newSuccesses = (): Successes => ({ count: 0, at: new Float64Array(8), ipIndex: new Int32Array(8), ips: [], ipIndexOf: new Map() });
  return {
    id: 'failed-signin-burst',
    wants: (c) => isFailedSignIn(c) || isSuccessfulSignIn(c),
    observe(event: AuditEvent, c: Classification) {
      if (isFailedSignIn(c)) {
        const key = userKey(event.username);
        const ip = ipHash(event.ip);
        const entry = failures.get(key);
        if (entry) {
          if (entry.attempts.length >= ITEMS_PER_KEY_KEPT) {
            failuresOver++;
            return;
          }
          entry.attempts.push({ at: event.at, ip });
          if (ip !== 0 && entry.ipNames.size < 16 && !entry.ipNames.has(ip)) entry.ipNames.set(ip, event.ip);
          return;
        }
        if (!once.takeOrPut(hash32(key), hash32b(key), event.at, ip)) return;
        if (failures.size >= KEYS_KEPT) {
          failuresRefused += 2;
          return;
        }
        const ipNames = new Map<number, string>();
        if (ip !== 0) ipNames.set(ip, event.ip);
        failures.set(key, {
          name: event.username.trim(),
          attempts: [
            { at: once.found.at, ip: once.found.value },
            { at: event.at, ip },
          ],
          ipNames,
        });
      } else if (isSuccessfulSignIn(c)) {
        const key = userKey(event.username);
        const list = successes.take(key, newSuccesses);
        if (!list) return;
        if (list.count >= ITEMS_PER_KEY_KEPT) {
          successesOver++;
          return;
        }
        addSuccess(list, event.at, event.ip);
        if (list.count === 2) successes.keep(key);
      }
    },
    limits() {
      const notes = [keysLimitNote('Failed sign-in burst', 'users with successful sign-ins', successes)].filter(
        (n): n is string => n !== null,
      );
      if (once.evicted > 0)
        notes.push(
          `Failed sign-in burst: ${SINGLETON_SLOTS.toLocaleString('en-US')} users with a single failed sign-in are remembered at once; ${once.evicted.toLocaleString('en-US')} were let go to make room (a user whose failures lie far apart in the log may be missed)`,
        );
      if (failuresRefused > 0)
        notes.push(
          `Failed sign-in burst: at most ${KEYS_KEPT.toLocaleString('en-US')} users with repeated failed sign-ins are judged; ${failuresRefused.toLocaleString('en-US')} failures of further users were not`,
        );
      if (failuresOver > 0)
        notes.push(
          `Failed sign-in burst: ${failuresOver.toLocaleString('en-US')} failed sign-ins past the first ${ITEMS_PER_KEY_KEPT.toLocaleString('en-US')} of one user were counted but not kept (that user's bursts are judged on the first ${ITEMS_PER_KEY_KEPT.toLocaleString('en-US')})`,
        );
      if (successesOver > 0)
        notes.push(
          `Failed sign-in burst: ${successesOver.toLocaleString('en-US')} successful sign-ins past the first ${ITEMS_PER_KEY_KEPT.toLocaleString('en-US')} of one user were not kept (a success after a burst may not escalate it)`,
        );
      return notes;
    },
    finish(ctx) {
      const { burstFailures, burstMinutes, burstSuccessMinutes } = ctx.thresholds;
      const span = burstMinutes * 60_000;
      const findings: Finding[] = [];
      for (const [key, { name, attempts, ipNames }] of failures) {
        if (attempts.length < burstFailures) continue;
        attempts.sort((a, b) => a.at - b.at);
        // Maximal bursts: grow a run while each new failure keeps ≥ burstFailures within `span`.
        let i = 0;
        while (i + burstFailures - 1 < attempts.length) {
          if (attempts[i + burstFailures - 1]!.at - attempts[i]!.at > span) {
            i++;
            continue;
          }
          let j = i + burstFailures - 1;
          while (j + 1 < attempts.length && attempts[j + 1]!.at - attempts[j + 2 - burstFailures]!.at <= span) j++;
          const burst = attempts.slice(i, j + 1);
          const first = burst[0]!;
          const last = burst.at(-1)!;
          const ips = [...new Set(burst.map((a) => a.ip).filter((h) => h !== 0))];
          const from = ips.length === 1 ? `from ${ipNames.get(ips[0]!) ?? 'one IP'}` : `from ${ips.length} IPs`;
          const success = firstSuccessAfter(successes.map.get(key), last.at, burstSuccessMinutes * 60_000);
          const base = `${burst.length} failed sign-ins in ${formatSpan(last.at - first.at)} ${from}`;
          findings.push(
            success
              ? {
                  detector: 'failed-signin-burst',
                  severity: 'high',
                  title: 'Failed sign-in burst, then a successful sign-in',
                  subject: name,
                  reason: `${base}, then a successful sign-in ${formatSpan(success.at - last.at)} later${success.ip ? ` from ${success.ip}` : ''}`,
                  at: success.at,
                  events: burst.length + 1,
                }
              : {
                  detector: 'failed-signin-burst',
                  severity: 'medium',
                  title: 'Failed sign-in burst',
                  subject: name,
                  reason: `${base}, no successful sign-in within ${burstSuccessMinutes} min after`,
                  at: last.at,
                  events: burst.length,
                },
          );
          i = j + 1;
        }
      }
      return findings;
    },
  };
}
