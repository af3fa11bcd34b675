/**
 * New source for a user: a successful sign-in from an IP not seen for that user in the previous
 * `newSourceDays` days of delivered history, and whether its /24 (IPv4) or /48 (IPv6) network is new too.
 * Users without any history yet are not judged (the baseline is still building).
 */
import type { Classification } from '../classify.js';
import type { AuditEvent } from '../types.js';
import { createBoundedKeys, keysLimitNote, userKey, type Detector, type Finding } from './detection.js';
import { isSuccessfulSignIn } from './failed-signin-burst.js';

/** "198.51.100.0/24" for IPv4, the first three hextets + "::/48" for IPv6, or null. */
export function networkOf(ip: string): string | null {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`;
  if (ip.includes(':')) {
    const parts = ip.split(':');
    if (parts.length >= 3) return `${parts.slice(0, 3).join(':')}::/48`;
  }
  return null;
}

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** New IPs one user's sign-ins are judged on in one window (the history keeps at most 50 per user, too). */
export const NEW_SOURCE_IPS_PER_USER = 200;

export function createNewSourceDetector(): Detector {
  // Bounded: at most KEYS_KEPT users (none let go: a user with one new IP is exactly a finding), and at
  // most NEW_SOURCE_IPS_PER_USER IPs per user.
  const seen = createBoundedKeys<{ name: string; ips: Map<string, number> }>();
  let ipsOver = 0;
  return {
    id: 'new-source',
    wants: isSuccessfulSignIn,
    observe(event: AuditEvent, c: Classification) {
      if (!event.ip || !isSuccessfulSignIn(c)) return;
      const key = userKey(event.username);
      if (!key) return;
      const entry = seen.take(key, () => ({ name: event.username.trim(), ips: new Map() }));
      if (!entry) return;
      seen.keep(key);
      const first = entry.ips.get(event.ip);
      if (first === undefined) {
        if (entry.ips.size >= NEW_SOURCE_IPS_PER_USER) {
          ipsOver++;
          return;
        }
        entry.ips.set(event.ip, event.at);
      } else if (event.at < first) entry.ips.set(event.ip, event.at);
    },
    limits() {
      const notes = [keysLimitNote('New source', 'users with successful sign-ins', seen)].filter((n): n is string => n !== null);
      if (ipsOver > 0)
        notes.push(
          `New source: ${ipsOver.toLocaleString('en-US')} sign-ins from IPs past the first ${NEW_SOURCE_IPS_PER_USER} of one user were not judged`,
        );
      return notes;
    },
    finish(ctx) {
      const cutoff = dayOf(ctx.windowStart - ctx.thresholds.newSourceDays * 86_400_000);
      const findings: Finding[] = [];
      for (const [key, { name, ips }] of seen.map) {
        const history = ctx.history.users[key];
        if (!history) continue;
        const known = Object.entries(history.ips)
          .filter(([, day]) => day >= cutoff)
          .map(([ip]) => ip);
        if (known.length === 0) continue;
        const knownSet = new Set(known);
        const knownNets = new Set(known.map(networkOf).filter((n): n is string => n !== null));
        for (const [ip, at] of ips) {
          if (knownSet.has(ip)) continue;
          const net = networkOf(ip);
          const newNet = net === null || !knownNets.has(net);
          findings.push({
            detector: 'new-source',
            severity: newNet ? 'medium' : 'low',
            title: newNet ? 'Sign-in from a new network' : 'Sign-in from a new IP in a known network',
            subject: name,
            reason: `first sign-in from ${ip} in ${ctx.thresholds.newSourceDays} days${net ? (newNet ? ` (network ${net} is new for this user too)` : ` (network ${net} is known)`) : ''}; ${known.length} known IP${known.length === 1 ? '' : 's'} for this user`,
            at,
            events: 1,
          });
        }
      }
      return findings;
    },
  };
}
