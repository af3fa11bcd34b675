/** Password spraying: one IP failing against at least `sprayUsers` distinct users within `sprayMinutes`. */
import type { Classification } from '../classify.js';
import type { AuditEvent } from '../types.js';
import { createBoundedKeys, formatSpan, ITEMS_PER_KEY_KEPT, keysLimitNote, userKey, type Detector, type Finding } from './detection.js';
import { isFailedSignIn } from './failed-signin-burst.js';

export function createPasswordSprayingDetector(): Detector {
  // Bounded (detection.ts): at most KEYS_KEPT IPs, at most ITEMS_PER_KEY_KEPT failures per IP.
  const byIp = createBoundedKeys<{ at: number; user: string }[]>();
  let over = 0;
  return {
    id: 'password-spraying',
    wants: isFailedSignIn,
    observe(event: AuditEvent, c: Classification) {
      if (!event.ip || !isFailedSignIn(c)) return;
      const list = byIp.take(event.ip, () => []);
      if (!list) return;
      if (list.length >= ITEMS_PER_KEY_KEPT) {
        over++;
        return;
      }
      list.push({ at: event.at, user: userKey(event.username) });
      if (list.length === 2) byIp.keep(event.ip);
    },
    limits() {
      const notes = [keysLimitNote('Password spraying', 'IPs with failed sign-ins', byIp)].filter((n): n is string => n !== null);
      if (over > 0)
        notes.push(
          `Password spraying: ${over.toLocaleString('en-US')} failed sign-ins past the first ${ITEMS_PER_KEY_KEPT.toLocaleString('en-US')} of one IP were counted but not kept (that IP is judged on the first ${ITEMS_PER_KEY_KEPT.toLocaleString('en-US')})`,
        );
      return notes;
    },
    finish(ctx) {
      const { sprayUsers, sprayMinutes } = ctx.thresholds;
      const span = sprayMinutes * 60_000;
      const findings: Finding[] = [];
      for (const [ip, list] of byIp.map) {
        if (new Set(list.map((l) => l.user)).size < sprayUsers) continue;
        list.sort((a, b) => a.at - b.at);
        // The span of `sprayMinutes` with the most distinct users (two pointers over the sorted failures).
        const counts = new Map<string, number>();
        let best = { users: 0, from: 0, to: 0, failures: 0 };
        let lo = 0;
        for (let hi = 0; hi < list.length; hi++) {
          const h = list[hi]!;
          counts.set(h.user, (counts.get(h.user) ?? 0) + 1);
          while (h.at - list[lo]!.at > span) {
            const l = list[lo]!;
            const n = counts.get(l.user)! - 1;
            if (n === 0) counts.delete(l.user);
            else counts.set(l.user, n);
            lo++;
          }
          if (counts.size > best.users) best = { users: counts.size, from: list[lo]!.at, to: h.at, failures: hi - lo + 1 };
        }
        if (best.users < sprayUsers) continue;
        findings.push({
          detector: 'password-spraying',
          severity: 'high',
          title: 'Password spraying from one IP',
          subject: ip,
          reason: `${ip} failed to sign in as ${best.users} different users in ${formatSpan(best.to - best.from)} (${best.failures} failures; ${list.length} from this IP in the window)`,
          at: best.to,
          events: best.failures,
        });
      }
      return findings;
    },
  };
}
