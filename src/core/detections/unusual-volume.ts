/**
 * Unusual volume of vault deletions and changes by one user, against that user's own earlier days:
 * fires when the window's count is at least `volumeMinimum` and at least `volumeFactor` × the user's median
 * over the days of history (days without activity count as 0), given `volumeMinDays` days of history.
 */
import type { Classification } from '../classify.js';
import type { AuditEvent } from '../types.js';
import { createBoundedKeys, keysLimitNote, userKey, type Detector, type Finding } from './detection.js';

export function isVaultChange(c: Classification): boolean {
  return c.kind === 'known' && c.vaultChange === true;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function createUnusualVolumeDetector(): Detector {
  // Bounded: at most KEYS_KEPT users (a count each; none let go, which would undercount a user).
  const counts = createBoundedKeys<{ name: string; count: number; last: number }>();
  return {
    id: 'unusual-volume',
    wants: isVaultChange,
    observe(event: AuditEvent, c: Classification) {
      if (!isVaultChange(c)) return;
      const key = userKey(event.username);
      const entry = counts.take(key, () => ({ name: event.username.trim(), count: 0, last: 0 }));
      if (!entry) return;
      counts.keep(key);
      entry.count++;
      entry.last = Math.max(entry.last, event.at);
    },
    limits() {
      const note = keysLimitNote('Unusual volume', 'users with vault changes', counts);
      return note ? [note] : [];
    },
    finish(ctx) {
      const { volumeMinimum, volumeFactor, volumeMinDays } = ctx.thresholds;
      const days = ctx.history.days;
      if (days.length < volumeMinDays) return [];
      const findings: Finding[] = [];
      for (const [key, { name, count, last }] of counts.map) {
        if (count < volumeMinimum) continue;
        const daily = ctx.history.users[key]?.vaultChanges ?? {};
        const med = median(days.map((d) => daily[d] ?? 0));
        if (count < volumeFactor * med) continue;
        findings.push({
          detector: 'unusual-volume',
          severity: 'medium',
          title: 'Unusual volume of vault deletions and changes',
          subject: name,
          reason: `${count} vault deletions/changes in this window against a median of ${med} a day over the previous ${days.length} days`,
          at: last,
          events: count,
        });
      }
      return findings;
    },
  };
}
