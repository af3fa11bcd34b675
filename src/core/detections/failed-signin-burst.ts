/**
 * Failed sign-in bursts per user: at least `burstFailures` failures within `burstMinutes`. A successful
 * sign-in of that user within `burstSuccessMinutes` after the burst escalates it to high (the guess may
 * have worked); without one it is medium.
 */
import type { Classification } from '../classify.js';
import type { AuditEvent } from '../types.js';
import { formatSpan, userKey, type Detector, type Finding } from './detection.js';

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
 * are a packed array of numbers; each IP is stored once and referred to by its index.
 */
interface Successes {
  at: number[];
  ipIndex: number[];
  ips: string[];
  ipIndexOf: Map<string, number>;
}

function firstSuccessAfter(list: Successes | undefined, after: number, within: number): Attempt | undefined {
  if (!list) return undefined;
  let best = -1;
  for (let i = 0; i < list.at.length; i++) {
    const at = list.at[i]!;
    if (at >= after && at - after <= within && (best < 0 || at < list.at[best]!)) best = i;
  }
  return best < 0 ? undefined : { at: list.at[best]!, ip: list.ips[list.ipIndex[best]!]! };
}

export function createFailedSigninBurstDetector(): Detector {
  const failures = new Map<string, { name: string; attempts: Attempt[] }>();
  const successes = new Map<string, Successes>();
  return {
    id: 'failed-signin-burst',
    wants: (c) => isFailedSignIn(c) || isSuccessfulSignIn(c),
    observe(event: AuditEvent, c: Classification) {
      if (isFailedSignIn(c)) {
        const key = userKey(event.username);
        let entry = failures.get(key);
        if (!entry) failures.set(key, (entry = { name: event.username.trim(), attempts: [] }));
        entry.attempts.push({ at: event.at, ip: event.ip });
      } else if (isSuccessfulSignIn(c)) {
        const key = userKey(event.username);
        let list = successes.get(key);
        if (!list) successes.set(key, (list = { at: [], ipIndex: [], ips: [], ipIndexOf: new Map() }));
        let ip = list.ipIndexOf.get(event.ip);
        if (ip === undefined) {
          ip = list.ips.push(event.ip) - 1;
          list.ipIndexOf.set(event.ip, ip);
        }
        list.at.push(event.at);
        list.ipIndex.push(ip);
      }
    },
    finish(ctx) {
      const { burstFailures, burstMinutes, burstSuccessMinutes } = ctx.thresholds;
      const span = burstMinutes * 60_000;
      const findings: Finding[] = [];
      for (const [key, { name, attempts }] of failures) {
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
          const success = firstSuccessAfter(successes.get(key), last.at, burstSuccessMinutes * 60_000);
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
