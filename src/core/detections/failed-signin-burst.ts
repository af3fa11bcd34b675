/**
 * Failed sign-in bursts per user: at least `burstFailures` failures within `burstMinutes`. A successful
 * sign-in of that user within `burstSuccessMinutes` after the burst escalates it to high (the guess may
 * have worked); without one it is medium.
 */
import type { Classification } from '../classify.js';
import type { AuditEvent } from '../types.js';
import { createBoundedKeys, formatSpan, ITEMS_PER_KEY_KEPT, keysLimitNote, userKey, type Detector, type Finding } from './detection.js';

export function isFailedSignIn(c: Classification): boolean {
  return c.kind === 'known' && c.signIn === 'failure';
}

export function isSuccessfulSignIn(c: Classification): boolean {
  return c.kind === 'known' && c.signIn === 'success';
}

interface Attempt {
  at: number;
  ip: string;
}

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

function firstSuccessAfter(list: Successes | undefined, after: number, within: number): Attempt | undefined {
  if (!list) return undefined;
  let best = -1;
  for (let i = 0; i < list.count; i++) {
    const at = list.at[i]!;
    if (at >= after && at - after <= within && (best < 0 || at < list.at[best]!)) best = i;
  }
  return best < 0 ? undefined : { at: list.at[best]!, ip: list.ips[list.ipIndex[best]!]! };
}

export function createFailedSigninBurstDetector(): Detector {
  // Bounded (detection.ts): at most KEYS_KEPT users each, at most ITEMS_PER_KEY_KEPT items per user.
  const failures = createBoundedKeys<{ name: string; attempts: Attempt[] }>();
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
        const entry = failures.take(key, () => ({ name: event.username.trim(), attempts: [] }));
        if (!entry) return;
        if (entry.attempts.length >= ITEMS_PER_KEY_KEPT) {
          failuresOver++;
          return;
        }
        entry.attempts.push({ at: event.at, ip: event.ip });
        if (entry.attempts.length === 2) failures.keep(key);
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
      const notes = [
        keysLimitNote('Failed sign-in burst', 'users with failed sign-ins', failures),
        keysLimitNote('Failed sign-in burst', 'users with successful sign-ins', successes),
      ].filter((n): n is string => n !== null);
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
      for (const [key, { name, attempts }] of failures.map) {
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
          const ips = [...new Set(burst.map((a) => a.ip).filter(Boolean))];
          const from = ips.length === 1 ? `from ${ips[0]}` : `from ${ips.length} IPs`;
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
