/** Password spraying: one IP failing against at least `sprayUsers` distinct users within `sprayMinutes`. */
import type { Classification } from '../classify.js';
import type { AuditEvent } from '../types.js';
import { formatSpan, ITEMS_PER_KEY_KEPT, KEYS_KEPT, userKey, type Detector, type Finding } from './detection.js';
import { createSingletonTable, hash32, hash32b, SINGLETON_SLOTS } from './singleton-table.js';
import { isFailedSignIn } from './failed-signin-burst.js';

export function createPasswordSprayingDetector(): Detector {
  // Bounded: an IP's first failure goes into a fixed-size table (singleton-table.ts: no object or string
  // per IP); a second one makes it a full entry, at most KEYS_KEPT IPs with at most ITEMS_PER_KEY_KEPT
  // failures each. Users are told apart by a hash of their key (distinct users are all that is counted).
  const once = createSingletonTable();
  const byIp = new Map<string, { at: number; user: number }[]>();
  let refused = 0;
  let over = 0;
  return {
    id: 'password-spraying',
    wants: isFailedSignIn,
    observe(event: AuditEvent, c: Classification) {
      if (!event.ip || !isFailedSignIn(c)) return;
      const user = hash32(userKey(event.username));
      const list = byIp.get(event.ip);
      if (list) {
        if (list.length >= ITEMS_PER_KEY_KEPT) {
          over++;
          return;
        }
        list.push({ at: event.at, user });
        return;
      }
      if (!once.takeOrPut(hash32(event.ip), hash32b(event.ip), event.at, user)) return;
      if (byIp.size >= KEYS_KEPT) {
        refused += 2;
        return;
      }
      byIp.set(event.ip, [
        { at: once.found.at, user: once.found.value },
        { at: event.at, user },
      ]);
    },
    limits() {
      const notes: string[] = [];
      if (once.evicted > 0)
        notes.push(
          `Password spraying: ${SINGLETON_SLOTS.toLocaleString('en-US')} IPs with a single failed sign-in are remembered at once; ${once.evicted.toLocaleString('en-US')} were let go to make room (an IP whose failures lie far apart in the log may be missed)`,
        );
      if (refused > 0)
        notes.push(
          `Password spraying: at most ${KEYS_KEPT.toLocaleString('en-US')} IPs with repeated failed sign-ins are judged; ${refused.toLocaleString('en-US')} failures from further IPs were not`,
        );
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
      for (const [ip, list] of byIp) {
        if (new Set(list.map((l) => l.user)).size < sprayUsers) continue;
        list.sort((a, b) => a.at - b.at);
        // The span of `sprayMinutes` with the most distinct users (two pointers over the sorted failures).
        const counts = new Map<number, number>();
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
