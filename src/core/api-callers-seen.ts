/**
 * Which API callers used the account's secret, from a set of rows: for `check`, so that a team can fill
 * in LASTPASS_KNOWN_API_CALLERS from what LastPass actually logged (label, calls, IPs) rather than guess.
 */
import { parseApiInitiated } from './api-initiated.js';
import { API_READ_ACTIONS, normaliseActionName } from './catalogue.js';
import { callerKey, createKnownCallerLookup, type KnownApiCaller } from './known-callers.js';
import type { RawEvent } from './types.js';

export interface ApiCallerSeen {
  /** The label the calls carried ('' when none). */
  label: string;
  /** How to list it in LASTPASS_KNOWN_API_CALLERS ("-" for calls without a label). */
  entry: string;
  /** own: this worker's `apiuser`; known / outside / unknown: as LASTPASS_KNOWN_API_CALLERS rates it. */
  status: 'own' | 'known' | 'outside' | 'unknown';
  calls: number;
  /** Distinct source IPs, sorted. */
  ips: string[];
  /** Distinct actions ("Reporting", "Get User Data"), sorted. */
  actions: string[];
  /** LastPass wall-clock time of the latest call. */
  lastTime: string;
}

export function apiCallersSeen(
  rows: Iterable<RawEvent>,
  options: { apiUser: string; knownApiCallers?: readonly KnownApiCaller[] },
): ApiCallerSeen[] {
  const own = callerKey(options.apiUser);
  const lookup = createKnownCallerLookup(options.knownApiCallers ?? []);
  const seen = new Map<
    string,
    { label: string; status: ApiCallerSeen['status']; calls: number; ips: Set<string>; actions: Set<string>; lastTime: string }
  >();
  for (const row of rows) {
    if (!API_READ_ACTIONS.has(normaliseActionName(row.Action))) continue;
    const label = parseApiInitiated(row.Data);
    if (label === null) continue;
    const key = callerKey(label);
    let status: ApiCallerSeen['status'] = 'own';
    if (key !== own) {
      const match = lookup(label, row.IP_Address);
      status = match === null ? 'unknown' : match.inside ? 'known' : 'outside';
    }
    const id = `${status}\u0000${key}`;
    let entry = seen.get(id);
    if (!entry) seen.set(id, (entry = { label, status, calls: 0, ips: new Set(), actions: new Set(), lastTime: '' }));
    entry.calls++;
    if (row.IP_Address) entry.ips.add(row.IP_Address);
    entry.actions.add(row.Action.trim());
    if (row.Time > entry.lastTime) entry.lastTime = row.Time;
  }
  return [...seen.values()]
    .map((e) => ({
      label: e.label,
      entry: e.label === '' ? '-' : e.label,
      status: e.status,
      calls: e.calls,
      ips: [...e.ips].sort(),
      actions: [...e.actions].sort(),
      lastTime: e.lastTime,
    }))
    .sort((a, b) => b.calls - a.calls || a.label.localeCompare(b.label) || a.status.localeCompare(b.status));
}
