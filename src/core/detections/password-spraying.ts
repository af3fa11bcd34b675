/** Password spraying: one IP failing against at least `sprayUsers` distinct users within `sprayMinutes`. */
import type { Classification } from '../classify.js';
import type { AuditEvent } from '../types.js';
import { formatSpan, userKey, type Detector, type Finding } from './detection.js';
import { isFailedSignIn } from './failed-signin-burst.js';

export function createPasswordSprayingDetector(): Detector {
  const byIp = new Map<string, { at: number; user: string }[]>();
  return {
    id: 'password-spraying',
    wants: isFailedSignIn,
    observe(event: AuditEvent, c: Classification) {
      if (!event.ip || !isFailedSignIn(c)) return;
      let list = byIp.get(event.ip);
      if (!list) byIp.set(event.ip, (list = []));
      list.push({ at: event.at, user: userKey(event.username) });
    },
    finish(ctx) {
      const { sprayUsers, sprayMinutes } = ctx.thresholds;
      const span = sprayMinutes * 60_000;
      const findings: Finding[] = [];
      for (const [ip, list] of byIp) {
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
