/**
 * Noise control for one run: the known API callers, the severity overrides and the ignored users, and
 * what each of them did to this window (calls, events), so that the digest can state every one of them.
 * The classifier asks it about overrides and known callers; the analysis asks it about ignored users.
 */
import { normaliseActionName } from './catalogue.js';
import { createIgnoreUserMatcher, type IgnoreUserRule } from './ignore-users.js';
import { createKnownCallerLookup, type KnownApiCaller, type KnownCallerMatch } from './known-callers.js';
import type { SeverityOverride } from './severity-overrides.js';
import type { Severity } from './types.js';

export interface NoiseControlSettings {
  knownApiCallers?: readonly KnownApiCaller[];
  severityOverrides?: readonly SeverityOverride[];
  ignoreUsers?: readonly IgnoreUserRule[];
}

/** What one known API caller did in the window. */
export interface KnownApiCallerActivity {
  /** As configured ('' for calls without a label). */
  label: string;
  /** Its allowed networks ("198.51.100.0/24"); empty: any address. */
  networks: string[];
  /** Calls from inside its networks (info). */
  calls: number;
  ips: string[];
  actions: string[];
  /** Calls with its label from outside its networks (high, and a finding). */
  outsideCalls: number;
  outsideIps: string[];
}

export interface SeverityOverrideEffect {
  name: string;
  severity: Severity;
  catalogueSeverity: Severity;
  /** Events whose severity it set. */
  events: number;
}

export interface IgnoredUserEffect {
  rule: string;
  /** Events not reviewed because of this rule. */
  events: number;
}

export interface NoiseSummary {
  knownApiCallers: KnownApiCallerActivity[];
  severityOverrides: SeverityOverrideEffect[];
  ignoredUsers: IgnoredUserEffect[];
}

/** Counted by the classifier, once per event whose severity the override set. */
export interface OverrideCounter {
  readonly override: SeverityOverride;
  events: number;
}

export interface NoiseControl {
  /** Whether this user's events are not to be reviewed; each call that says so counts one event. */
  ignores(username: string): boolean;
  /** The override of a catalogue action (normalised name), if any. */
  overrideFor(name: string): OverrideCounter | undefined;
  /** The known caller a label names, and whether this IP is inside its networks. */
  knownCaller(label: string, ip: string): KnownCallerMatch;
  /** Counts one call of a known caller. */
  recordKnownCall(caller: KnownApiCaller, inside: boolean, ip: string, action: string): void;
  summary(): NoiseSummary;
}

/** A handful of IPs and action names per caller is what the digest shows; more only grows memory. */
const MAX_LISTED = 20;

export function createNoiseControl(settings: NoiseControlSettings = {}): NoiseControl {
  const overrides = new Map<string, OverrideCounter>();
  for (const o of settings.severityOverrides ?? []) {
    const key = normaliseActionName(o.key || o.name);
    if (!overrides.has(key)) overrides.set(key, { override: o, events: 0 });
  }
  const callers = settings.knownApiCallers ?? [];
  const lookup = createKnownCallerLookup(callers);
  const activity = new Map<
    KnownApiCaller,
    { calls: number; ips: Set<string>; actions: Set<string>; outside: number; outsideIps: Set<string> }
  >(callers.map((c) => [c, { calls: 0, ips: new Set(), actions: new Set(), outside: 0, outsideIps: new Set() }]));
  const rules = settings.ignoreUsers ?? [];
  const match = createIgnoreUserMatcher(rules);
  const ignoredBy = new Map<IgnoreUserRule, number>(rules.map((r) => [r, 0]));
  const add = (set: Set<string>, value: string) => {
    if (value && set.size < MAX_LISTED) set.add(value);
  };

  return {
    ignores:
      rules.length === 0
        ? () => false
        : (username) => {
            const rule = match(username);
            if (rule === null) return false;
            ignoredBy.set(rule, (ignoredBy.get(rule) ?? 0) + 1);
            return true;
          },
    overrideFor: (name) => overrides.get(name),
    knownCaller: lookup,
    recordKnownCall(caller, inside, ip, action) {
      const a = activity.get(caller);
      if (!a) return;
      if (inside) {
        a.calls++;
        add(a.ips, ip);
        add(a.actions, action.trim());
      } else {
        a.outside++;
        add(a.outsideIps, ip);
      }
    },
    summary: () => ({
      knownApiCallers: callers.map((c) => {
        const a = activity.get(c)!;
        return {
          label: c.label,
          networks: c.networks.map((n) => n.text),
          calls: a.calls,
          ips: [...a.ips].sort(),
          actions: [...a.actions].sort(),
          outsideCalls: a.outside,
          outsideIps: [...a.outsideIps].sort(),
        };
      }),
      severityOverrides: [...overrides.values()].map(({ override, events }) => ({
        name: override.name,
        severity: override.severity,
        catalogueSeverity: override.catalogueSeverity,
        events,
      })),
      ignoredUsers: rules.map((r) => ({ rule: r.rule, events: ignoredBy.get(r) ?? 0 })),
    }),
  };
}
