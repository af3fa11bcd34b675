/**
 * API callers other than this worker (someone else holds the API secret), grouped per caller, and the
 * regeneration of the API secret itself. A known caller (LASTPASS_KNOWN_API_CALLERS) calling from inside its
 * networks is info and no finding; its label from any other address is a finding of its own.
 */
import type { Classification } from '../classify.js';
import { normaliseActionName } from '../catalogue.js';
import type { AuditEvent } from '../types.js';
import type { Detector, Finding } from './detection.js';

const SECRET_CHANGES = new Set(['enterprise api secret regenerated', 'scim provisioning hash updated']);

interface CallerCalls {
  label: string;
  outside: boolean;
  networks: string[];
  calls: number;
  actions: Set<string>;
  ips: Set<string>;
  last: number;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Caller labels grouped into findings, and the IPs and actions listed for each. */
export const CALLERS_KEPT = 1_000;
export const LISTED_PER_CALLER = 100;

export function createForeignApiCallerDetector(): Detector {
  const callers = new Map<string, CallerCalls>();
  const secretChanges: AuditEvent[] = [];
  let notKept = 0;
  return {
    id: 'foreign-api-caller',
    wants: (c) => c.kind === 'known' && c.category === 'API and provisioning',
    observe(event: AuditEvent, c: Classification) {
      if (c.kind !== 'known' || c.category !== 'API and provisioning') return false;
      if (SECRET_CHANGES.has(normaliseActionName(event.action))) {
        if (secretChanges.length >= CALLERS_KEPT) {
          notKept++;
          return false;
        }
        secretChanges.push({
          at: event.at,
          wall: event.wall,
          username: event.username,
          ip: event.ip,
          action: event.action,
          data: event.data,
        });
        return true;
      }
      const caller = c.apiCaller;
      if (!caller || caller.status === 'known') return false;
      const outside = caller.status === 'outside';
      const id = `${outside ? 'outside' : 'unknown'}\u0000${caller.label.toLowerCase()}`;
      let entry = callers.get(id);
      if (!entry && callers.size >= CALLERS_KEPT) {
        // Not claimed: the call is still listed as a high finding of its own.
        notKept++;
        return false;
      }
      if (!entry)
        callers.set(
          id,
          (entry = { label: caller.label, outside, networks: caller.networks, calls: 0, actions: new Set(), ips: new Set(), last: 0 }),
        );
      entry.calls++;
      if (entry.actions.size < LISTED_PER_CALLER) entry.actions.add(event.action.trim());
      if (event.ip && entry.ips.size < LISTED_PER_CALLER) entry.ips.add(event.ip);
      entry.last = Math.max(entry.last, event.at);
      return true;
    },
    limits() {
      return notKept === 0
        ? []
        : [
            `Foreign API caller: ${notKept.toLocaleString('en-US')} calls of labels past the first ${CALLERS_KEPT.toLocaleString('en-US')} were not grouped; each is listed as a finding of its own`,
          ];
    },
    finish(ctx) {
      const findings: Finding[] = [];
      for (const e of callers.values()) {
        const calls = `${plural(e.calls, 'call')} (${[...e.actions].sort().join(', ')})`;
        const ips = [...e.ips].slice(0, 3).join(', ');
        if (e.outside) {
          const named = e.label === '' ? 'without a caller label' : `labelled "${e.label}"`;
          findings.push({
            detector: 'foreign-api-caller',
            kind: 'api-caller-outside',
            severity: 'high',
            title: 'A known API caller from an unexpected address',
            subject: e.label || '(no caller label)',
            reason: `${calls} ${named} from ${ips || 'no IP'}, outside the networks allowed for it in LASTPASS_KNOWN_API_CALLERS (${e.networks.join(', ')}): a label is free text, so whoever sent these holds the API secret`,
            at: e.last,
            events: e.calls,
          });
          continue;
        }
        findings.push({
          detector: 'foreign-api-caller',
          kind: 'api-caller',
          severity: 'high',
          title: 'Another API caller used the Enterprise API secret',
          subject: e.label || '(no caller label)',
          reason: `${calls} ${e.label === '' ? 'without a caller label' : `by "${e.label}"`}, not by this worker ("${ctx.apiUser}")${ips ? ` from ${ips}` : ''}: someone else holds the API secret`,
          at: e.last,
          events: e.calls,
        });
      }
      for (const e of secretChanges) {
        findings.push({
          detector: 'foreign-api-caller',
          kind: 'secret-changed',
          severity: 'high',
          title: 'The API secret was changed',
          subject: e.username.trim() || '(unknown admin)',
          reason: `${e.action.trim()} by ${e.username.trim() || 'an unknown admin'}${e.ip ? ` from ${e.ip}` : ''}: every integration using the old secret (including this worker) stops working until it is updated`,
          at: e.at,
          events: 1,
        });
      }
      return findings;
    },
  };
}
