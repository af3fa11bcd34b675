/**
 * Classification of one event: catalogue lookup (trimmed, case-insensitive) plus the rules that read
 * `Data` (and, for API calls, the IP): API reads by this worker are self-noise, by a known caller
 * (LASTPASS_KNOWN_API_CALLERS, inside its networks) info, by anyone else high; a `Log in` whose Data names a
 * vault item or a site is not a LastPass sign-in; shared-folder permission changes granting `Admin:yes` are
 * high; any unlisted `Disabled <factor>` is an MFA removal. REPORT_SEVERITY_OVERRIDES then sets the
 * severity of the actions it names (never of API reads, which are rated per caller).
 */
import { parseApiInitiated } from './api-initiated.js';
import { API_READ_ACTIONS, buildCatalogueIndex, normaliseActionName, type CatalogueEntry } from './catalogue.js';
import { callerKey, type KnownApiCaller } from './known-callers.js';
import { createNoiseControl, type NoiseControl, type OverrideCounter } from './noise-control.js';
import { DATA_RULED_SIGN_INS, loginTarget } from './sign-in-rule.js';
import type { Category, Severity } from './types.js';

/** Who made an API call, as far as the classifier could tell. */
export interface ApiCaller {
  /** The label from Data ('' when none). */
  label: string;
  /** known: listed and inside its networks; outside: listed, but from another address; unknown: not listed. */
  status: 'known' | 'outside' | 'unknown';
  /** The networks it is allowed from (for "outside"). */
  networks: string[];
}

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
      /** An API read (Reporting, Get User Data, …) and who made it. */
      apiCaller?: ApiCaller;
      /** Set when REPORT_SEVERITY_OVERRIDES set the severity: what the catalogue said. */
      overriddenFrom?: Severity;
    }
  | { kind: 'unrecognised' };

export type KnownClassification = Classification & { kind: 'known' };

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

function base(entry: CatalogueEntry, severity: Severity = entry.severity, note = ''): KnownClassification {
  const c: KnownClassification = { kind: 'known', category: entry.category, severity, note };
  if (entry.why) c.why = entry.why;
  return c;
}

function staticClassification(name: string, entry: CatalogueEntry): KnownClassification {
  const c = base(entry);
  if (entry.names.length === 0) c.note = 'a multifactor option was disabled';
  if (entry.category === 'Sign-in' && !/admin console/.test(name)) {
    if (/fail/.test(name)) c.signIn = 'failure';
    else if (entry.severity === 'info' && /log ?in|saml|authentication/.test(name) && !/log ?out/.test(name)) c.signIn = 'success';
  }
  if (VAULT_CHANGE_ACTIONS.has(name)) c.vaultChange = true;
  return c;
}

function overridden(c: KnownClassification, counter: OverrideCounter | undefined): KnownClassification {
  if (!counter) return c;
  const { severity } = counter.override;
  const note = `severity set to ${severity} by REPORT_SEVERITY_OVERRIDES (catalogue: ${c.severity})`;
  return { ...c, severity, overriddenFrom: c.severity, note: c.note ? `${c.note}; ${note}` : note };
}

/** A classification that depends on the row, worked out per event. */
type Rule = (data: string, ip: string) => Classification;
type Memo = { fixed: Classification; counter?: OverrideCounter } | { rule: Rule; counter?: OverrideCounter };

/**
 * Returns the classifier for one run. Hot path (a million events a day): the result for a raw action
 * string is computed once and shared (callers must not mutate it); only the few actions whose severity
 * depends on `Data` (API reads, `Log in`, shared-folder permissions) are looked at per event, and even
 * they return one of a few shared results.
 */
export function createClassifier(options: {
  apiUser: string;
  catalogue?: readonly CatalogueEntry[];
  /** Known callers and overrides (and the counts of what they did); none when absent. */
  noise?: NoiseControl;
}): (action: string, data: string, ip?: string) => Classification {
  const index = buildCatalogueIndex(options.catalogue);
  const noise = options.noise ?? createNoiseControl();
  const ownCaller = callerKey(options.apiUser);
  const byRaw = new Map<string, Memo>();

  const apiReadRule = (entry: CatalogueEntry, action: string): Rule => {
    const notViaApi = base(entry, 'low', 'not initiated by the API (an Admin Console report?)');
    // One result per caller label and status, so that the analysis routes each once.
    const byCaller = new Map<string, KnownClassification>();
    const callerResult = (label: string, status: ApiCaller['status'], caller: KnownApiCaller | null): KnownClassification => {
      const id = `${status}\u0000${callerKey(label)}`;
      const seen = byCaller.get(id);
      if (seen) return seen;
      const networks = caller ? caller.networks.map((n) => n.text) : [];
      const shown = label === '' ? 'without a caller label' : `by "${label}"`;
      const note =
        status === 'known'
          ? `API call ${shown}, a known caller (LASTPASS_KNOWN_API_CALLERS)`
          : status === 'outside'
            ? `API call ${shown} from outside the networks allowed for it (${networks.join(', ')}): a label is free text, anyone holding the API secret can send it`
            : label === ''
              ? 'API call without a caller label: someone other than this worker holds the API secret'
              : `API call by another caller "${label}": someone other than this worker holds the API secret`;
      const c = base(entry, status === 'known' ? 'info' : 'high', note);
      c.apiCaller = { label, status, networks };
      if (byCaller.size < 1_000) byCaller.set(id, c);
      return c;
    };
    return (data, ip) => {
      const label = parseApiInitiated(data);
      if (label === null) return notViaApi;
      if (callerKey(label) === ownCaller) return OWN;
      const match = noise.knownCaller(label, ip);
      if (match) noise.recordKnownCall(match.caller, match.inside, ip, action);
      return callerResult(label, match ? (match.inside ? 'known' : 'outside') : 'unknown', match?.caller ?? null);
    };
  };

  const memoFor = (action: string): Memo => {
    const name = normaliseActionName(action);
    let entry = index.get(name);
    if (!entry && DISABLED_FACTOR_RE.test(name)) entry = { category: 'MFA', severity: 'high', names: [] };
    if (!entry) return { fixed: UNRECOGNISED };
    // API reads are rated per caller: no override applies to them.
    if (API_READ_ACTIONS.has(name)) return { rule: apiReadRule(entry, action.trim()) };
    const counter = noise.overrideFor(name);
    const withCounter = <M extends Memo>(memo: M): M => (counter ? { ...memo, counter } : memo);
    if (name === 'update folder permissions') {
      const grant = overridden(base(entry, 'high', 'grants Admin:yes on a shared folder'), counter);
      const plain = overridden(base(entry), counter);
      return withCounter({ rule: (data) => (ADMIN_YES_RE.test(data) ? grant : plain) });
    }
    const fixed = overridden(staticClassification(name, entry), counter);
    if (DATA_RULED_SIGN_INS.has(name)) {
      const fromVault = (note: string): KnownClassification =>
        overridden({ kind: 'known', category: 'Vault items', severity: 'info', note }, counter);
      const vaultItem = fromVault('a login to a vault item (Data names it), not a sign-in to LastPass');
      const site = fromVault('a login to a site from the vault (Data names the site), not a sign-in to LastPass');
      // Data repeats (a few client strings, each user's vault items): each distinct one is read once.
      const byData = new Map<string, KnownClassification>();
      return withCounter({
        rule: (data) => {
          const seen = byData.get(data);
          if (seen !== undefined) return seen;
          const target = loginTarget(data);
          const c = target === 'lastpass' ? fixed : target === 'vault-item' ? vaultItem : site;
          if (byData.size >= 10_000) byData.clear();
          byData.set(data, c);
          return c;
        },
      });
    }
    return withCounter({ fixed });
  };

  return (action, data, ip = '') => {
    let memo = byRaw.get(action);
    if (!memo) {
      memo = memoFor(action);
      if (byRaw.size < 5_000) byRaw.set(action, memo);
    }
    if (memo.counter) memo.counter.events++;
    return 'fixed' in memo ? memo.fixed : memo.rule(data, ip);
  };
}
