/**
 * Classification of one event: catalogue lookup (trimmed, case-insensitive) plus the few rules that read
 * `Data`: API reads by this worker are self-noise, by anyone else high; shared-folder permission changes
 * granting `Admin:yes` are high; any unlisted `Disabled <factor>` is an MFA removal.
 */
import { API_READ_ACTIONS, buildCatalogueIndex, normaliseActionName, type CatalogueEntry } from './catalogue.js';
import type { Category, Severity } from './types.js';

export type Classification =
  | { kind: 'own-api' }
  | {
      kind: 'known';
      category: Category;
      severity: Severity;
      note: string;
      why?: string;
      /** A sign-in attempt that failed or succeeded (for the burst, spraying and new-source detections). */
      signIn?: 'failure' | 'success';
      /** A vault deletion or change (for the unusual-volume detection). */
      vaultChange?: boolean;
    }
  | { kind: 'unrecognised' };

const API_DATA_RE = /^initiated by api(?:\s*:\s*(.*))?$/i;
const DISABLED_FACTOR_RE = /^disabled\s+(?!user\b|account\b)\S/;
const ADMIN_YES_RE = /admin\s*:\s*yes/i;

/** Actions counted as vault deletions and changes. */
export const VAULT_CHANGE_ACTIONS: ReadonlySet<string> = new Set([
  'deleted sites',
  'site deleted',
  'site changed',
  'password changed',
  'username changed',
  'delete shared sites',
  'edit secure note',
]);

const OWN: Classification = { kind: 'own-api' };
const UNRECOGNISED: Classification = { kind: 'unrecognised' };

function staticClassification(name: string, entry: CatalogueEntry): Classification {
  const c: Classification = { kind: 'known', category: entry.category, severity: entry.severity, note: '' };
  if (entry.why) c.why = entry.why;
  if (entry.names.length === 0) c.note = 'a multifactor option was disabled';
  if (entry.category === 'Sign-in' && !/admin console/.test(name)) {
    if (/fail/.test(name)) c.signIn = 'failure';
    else if (entry.severity === 'info' && /log ?in|saml|authentication/.test(name) && !/log ?out/.test(name)) c.signIn = 'success';
  }
  if (VAULT_CHANGE_ACTIONS.has(name)) c.vaultChange = true;
  return c;
}

/**
 * Returns the classifier for one run. Hot path (a million events a day): the result for a raw action
 * string is computed once and shared (callers must not mutate it); only the few actions whose severity
 * depends on `Data` (API reads, shared-folder permissions) are looked at per event.
 */
export function createClassifier(options: {
  apiUser: string;
  catalogue?: readonly CatalogueEntry[];
}): (action: string, data: string) => Classification {
  const index = buildCatalogueIndex(options.catalogue);
  const ownCaller = options.apiUser.trim().toLowerCase();
  type Memo = { fixed: Classification } | { name: string; entry: CatalogueEntry };
  const byRaw = new Map<string, Memo>();

  const memoFor = (action: string): Memo => {
    const name = normaliseActionName(action);
    let entry = index.get(name);
    if (!entry && DISABLED_FACTOR_RE.test(name)) entry = { category: 'MFA', severity: 'high', names: [] };
    if (!entry) return { fixed: UNRECOGNISED };
    if (API_READ_ACTIONS.has(name) || name === 'update folder permissions') return { name, entry };
    return { fixed: staticClassification(name, entry) };
  };

  return (action, data) => {
    let memo = byRaw.get(action);
    if (!memo) {
      memo = memoFor(action);
      if (byRaw.size < 5_000) byRaw.set(action, memo);
    }
    if ('fixed' in memo) return memo.fixed;
    const { name, entry } = memo;
    if (name === 'update folder permissions') {
      return ADMIN_YES_RE.test(data)
        ? { kind: 'known', category: entry.category, severity: 'high', note: 'grants Admin:yes on a shared folder' }
        : { kind: 'known', category: entry.category, severity: entry.severity, note: '', ...(entry.why ? { why: entry.why } : {}) };
    }
    // API reads: ours are self-noise, anyone else's is a finding.
    const m = API_DATA_RE.exec(data.trim());
    if (!m) {
      return { kind: 'known', category: entry.category, severity: 'low', note: 'not initiated by the API (an Admin Console report?)' };
    }
    const caller = (m[1] ?? '').trim();
    if (caller.toLowerCase() === ownCaller) return OWN;
    return {
      kind: 'known',
      category: entry.category,
      severity: 'high',
      note:
        caller === ''
          ? 'API call without a caller label: someone other than this worker holds the API secret'
          : `API call by another caller "${caller}": someone other than this worker holds the API secret`,
    };
  };
}
