/**
 * API callers other than this worker (someone else holds the API secret), grouped per caller, and the
 * regeneration of the API secret itself.
 */
import type { Classification } from '../classify.js';
import { API_READ_ACTIONS, normaliseActionName } from '../catalogue.js';
import type { AuditEvent } from '../types.js';
import type { Detector, Finding } from './detection.js';

const API_DATA_RE = /^initiated by api(?:\s*:\s*(.*))?$/i;
const SECRET_CHANGES = new Set(['enterprise api secret regenerated', 'scim provisioning hash updated']);

export function createForeignApiCallerDetector(): Detector {
  const callers = new Map<string, { calls: number; actions: Set<string>; admins: Set<string>; ips: Set<string>; last: number }>();
  const secretChanges: AuditEvent[] = [];
  return {
    id: 'foreign-api-caller',
    wants: (c) => c.kind === 'known' && c.category === 'API and provisioning',
    observe(event: AuditEvent, c: Classification) {
      if (c.kind !== 'known' || c.category !== 'API and provisioning') return false;
      const name = normaliseActionName(event.action);
      if (SECRET_CHANGES.has(name)) {
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
      if (!API_READ_ACTIONS.has(name) || c.severity !== 'high') return false;
      const m = API_DATA_RE.exec(event.data.trim());
      const caller = m ? (m[1] ?? '').trim() || '(no caller label)' : '(not via the API)';
      let entry = callers.get(caller);
      if (!entry) callers.set(caller, (entry = { calls: 0, actions: new Set(), admins: new Set(), ips: new Set(), last: 0 }));
      entry.calls++;
      entry.actions.add(event.action.trim());
      if (event.username) entry.admins.add(event.username.trim());
      if (event.ip) entry.ips.add(event.ip);
      entry.last = Math.max(entry.last, event.at);
      return true;
    },
    finish(ctx) {
      const findings: Finding[] = [];
      for (const [caller, e] of callers) {
        findings.push({
          detector: 'foreign-api-caller',
          severity: 'high',
          title: 'Another API caller used the Enterprise API secret',
          subject: caller,
          reason: `${e.calls} call${e.calls === 1 ? '' : 's'} (${[...e.actions].sort().join(', ')}) ${caller.startsWith('(') ? caller.slice(1, -1).replace(/^no /, 'without a ') : `by "${caller}"`}, not by this worker ("${ctx.apiUser}")${e.ips.size ? ` from ${[...e.ips].slice(0, 3).join(', ')}` : ''}: someone else holds the API secret`,
          at: e.last,
          events: e.calls,
        });
      }
      for (const e of secretChanges) {
        findings.push({
          detector: 'foreign-api-caller',
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
