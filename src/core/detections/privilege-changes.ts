/**
 * Privilege and policy changes grouped as "who changed what": admin grants and revocations, policy
 * additions, edits and deletions (policy name parsed from Data), MFA removals, master password resets,
 * and shared-folder permission grants with Admin:yes.
 */
import type { Classification } from '../classify.js';
import { normaliseActionName } from '../catalogue.js';
import type { AuditEvent, Severity } from '../types.js';
import type { Detector, Finding } from './detection.js';

type Kind = 'grant' | 'revoke' | 'policy-delete' | 'policy-change' | 'folder-admin' | 'mfa-off' | 'mp-reset';

const ACTIONS: Record<string, Kind> = {
  'make admin': 'grant',
  'made admin': 'grant',
  'remove admin': 'revoke',
  'removed admin': 'revoke',
  'delete policy': 'policy-delete',
  'add policy': 'policy-change',
  'edit policy': 'policy-change',
  'update policy users': 'policy-change',
  'master password reset by super admin': 'mp-reset',
  'reset master password': 'mp-reset',
};

/** "Password length New value: 8" → { name: "Password length", value: "8" } */
export function parsePolicy(data: string): { name: string; value: string | null } {
  const m = /^(.*?)\s+New value:\s*(.*)$/i.exec(data.trim());
  return m ? { name: m[1]!.trim(), value: m[2]!.trim() } : { name: data.trim(), value: null };
}

/** "'Finance' 'eve@example.org' 'Read only:no Admin:yes Hide PW:no'" → folder, member */
export function parseFolderPermission(data: string): { folder: string; member: string } | null {
  const parts = [...data.matchAll(/'([^']*)'/g)].map((m) => m[1]!);
  return parts.length >= 2 ? { folder: parts[0]!, member: parts[1]! } : null;
}

function describe(kind: Kind, e: AuditEvent): string {
  const target = e.data.trim();
  switch (kind) {
    case 'grant':
      return `made ${target || 'someone'} an admin`;
    case 'revoke':
      return `removed admin rights from ${target || 'someone'}`;
    case 'policy-delete':
      return `deleted policy '${parsePolicy(e.data).name}'`;
    case 'policy-change': {
      // "set 'Password length' to 8": what a reader would say, the policy named, the value as LastPass logged it.
      const p = parsePolicy(e.data);
      const added = normaliseActionName(e.action) === 'add policy';
      if (p.value === null) return `${added ? 'added' : 'changed'} policy '${p.name}'`;
      return added ? `added policy '${p.name}', set to ${p.value}` : `set '${p.name}' to ${p.value}`;
    }
    case 'folder-admin': {
      const f = parseFolderPermission(e.data);
      return f ? `gave ${f.member} Admin:yes on shared folder "${f.folder}"` : `granted Admin:yes on a shared folder (${target})`;
    }
    case 'mfa-off': {
      return `${e.action.trim().toLowerCase()}${target ? ` (${target})` : ''}`;
    }
    case 'mp-reset':
      return `reset the master password of ${target || 'a user'}`;
  }
}

const WATCHED: ReadonlySet<string> = new Set(['Admin rights', 'Policies', 'Shared folders', 'MFA', 'Master password']);

const KIND_TITLE: Record<Kind, string> = {
  grant: 'Admin rights granted',
  revoke: 'Admin rights removed',
  'policy-delete': 'Policy deleted',
  'policy-change': 'Policy changed',
  'folder-admin': 'Shared-folder admin rights granted',
  'mfa-off': 'Multifactor authentication disabled',
  'mp-reset': 'Master password reset by an admin',
};

const KIND_SEVERITY: Record<Kind, Severity> = {
  grant: 'high',
  revoke: 'medium',
  'policy-delete': 'high',
  'policy-change': 'medium',
  'folder-admin': 'high',
  'mfa-off': 'high',
  'mp-reset': 'high',
};

/** Admins whose changes are grouped, and changes kept per admin. */
export const ACTORS_KEPT = 1_000;
export const CHANGES_PER_ACTOR_KEPT = 1_000;

export function createPrivilegeChangesDetector(): Detector {
  // Bounded: at most ACTORS_KEPT admins and CHANGES_PER_ACTOR_KEPT changes each; a change not kept is not
  // claimed, so it is still listed as a finding of its own.
  const byActor = new Map<string, { changes: { kind: Kind; text: string; at: number }[] }>();
  let notKept = 0;
  return {
    id: 'privilege-changes',
    wants: (c) => c.kind === 'known' && WATCHED.has(c.category) && c.severity !== 'low' && c.severity !== 'info',
    observe(event: AuditEvent, c: Classification) {
      // Hot path: only these categories, at medium or above, can hold a privilege or policy change.
      if (c.kind !== 'known' || !WATCHED.has(c.category) || c.severity === 'low' || c.severity === 'info') return false;
      const name = normaliseActionName(event.action);
      let kind: Kind | undefined = ACTIONS[name];
      if (!kind && c.category === 'Shared folders' && c.severity === 'high') kind = 'folder-admin';
      if (!kind && c.category === 'MFA' && c.severity === 'high') kind = 'mfa-off';
      if (!kind) return false;
      const actor = event.username.trim() || '(unknown)';
      let entry = byActor.get(actor);
      if (!entry) {
        if (byActor.size >= ACTORS_KEPT) {
          notKept++;
          return false;
        }
        byActor.set(actor, (entry = { changes: [] }));
      }
      if (entry.changes.length >= CHANGES_PER_ACTOR_KEPT) {
        notKept++;
        return false;
      }
      entry.changes.push({ kind, text: describe(kind, event), at: event.at });
      return true;
    },
    limits() {
      return notKept === 0
        ? []
        : [
            `Privilege and policy changes: ${notKept.toLocaleString('en-US')} changes past the bound (${ACTORS_KEPT.toLocaleString('en-US')} admins, ${CHANGES_PER_ACTOR_KEPT.toLocaleString('en-US')} changes each) were not grouped; each is listed as a finding of its own`,
          ];
    },
    finish() {
      const findings: Finding[] = [];
      for (const [actor, { changes }] of byActor) {
        changes.sort((a, b) => a.at - b.at);
        const severity: Severity = changes.some((ch) => KIND_SEVERITY[ch.kind] === 'high') ? 'high' : 'medium';
        const texts = [...new Set(changes.map((ch) => ch.text))];
        const shown = texts.slice(0, 6).join('; ') + (texts.length > 6 ? `; and ${texts.length - 6} more` : '');
        const kinds = new Set(changes.map((ch) => ch.kind));
        findings.push({
          detector: 'privilege-changes',
          // One kind of change picks its own guidance ("mfa-off"); a mix gets the general one.
          kind: kinds.size === 1 ? changes[0]!.kind : 'mixed',
          severity,
          title: changes.length === 1 ? KIND_TITLE[changes[0]!.kind] : `${changes.length} privilege or policy changes`,
          subject: actor,
          reason: `${actor} ${shown}`,
          at: changes.at(-1)!.at,
          events: changes.length,
        });
      }
      return findings;
    },
  };
}
