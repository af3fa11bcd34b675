/**
 * Classification of one event: catalogue lookup (trimmed, case-insensitive) plus the few rules that read
 * `Data`: API reads by this worker are self-noise, by anyone else high; shared-folder permission changes
 * granting `Admin:yes` are high; any unlisted `Disabled <factor>` is an MFA removal.
 */
import {
  API_READ_ACTIONS,
  buildCatalogueIndex,
  normaliseActionName,
  type CatalogueEntry,
} from './catalogue.js';
import type { AuditEvent, Category, Severity } from './types.js';

export type Classification =
  | { kind: 'own-api' }
  | { kind: 'known'; category: Category; severity: Severity; note: string; why?: string }
  | { kind: 'unrecognised' };

const API_DATA_RE = /^initiated by api(?:\s*:\s*(.*))?$/i;
const DISABLED_FACTOR_RE = /^disabled\s+(?!user\b|account\b)\S/;
const ADMIN_YES_RE = /admin\s*:\s*yes/i;

export function createClassifier(options: {
  apiUser: string;
  catalogue?: readonly CatalogueEntry[];
}): (event: AuditEvent) => Classification {
  const index = buildCatalogueIndex(options.catalogue);
  const ownCaller = options.apiUser.trim().toLowerCase();
  // Few distinct action strings per day: memoise the name lookup on the raw string.
  const byRaw = new Map<string, { name: string; entry: CatalogueEntry | undefined }>();

  return (event) => {
    let hit = byRaw.get(event.action);
    if (!hit) {
      const name = normaliseActionName(event.action);
      let entry = index.get(name);
      if (!entry && DISABLED_FACTOR_RE.test(name)) {
        entry = { category: 'MFA', severity: 'high', names: [] };
      }
      hit = { name, entry };
      if (byRaw.size < 5_000) byRaw.set(event.action, hit);
    }
    const { name, entry } = hit;
    if (!entry) return { kind: 'unrecognised' };

    if (API_READ_ACTIONS.has(name)) {
      const m = API_DATA_RE.exec(event.data.trim());
      if (!m) {
        return { kind: 'known', category: entry.category, severity: 'low', note: 'not initiated by the API (an Admin Console report?)' };
      }
      const caller = (m[1] ?? '').trim();
      if (caller.toLowerCase() === ownCaller) return { kind: 'own-api' };
      return {
        kind: 'known',
        category: entry.category,
        severity: 'high',
        note:
          caller === ''
            ? 'API call without a caller label: someone other than this worker holds the API secret'
            : `API call by another caller "${caller}": someone other than this worker holds the API secret`,
      };
    }
    if (name === 'update folder permissions' && ADMIN_YES_RE.test(event.data)) {
      return { kind: 'known', category: entry.category, severity: 'high', note: 'grants Admin:yes on a shared folder' };
    }
    if (entry.names.length === 0) {
      return { kind: 'known', category: entry.category, severity: entry.severity, note: 'a multifactor option was disabled' };
    }
    return entry.why
      ? { kind: 'known', category: entry.category, severity: entry.severity, note: '', why: entry.why }
      : { kind: 'known', category: entry.category, severity: entry.severity, note: '' };
  };
}
