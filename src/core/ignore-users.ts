/**
 * `REPORT_IGNORE_USERS`: accounts whose events are not reviewed at all (service accounts whose routine
 * activity would fill the digest), comma-separated, each an exact username or `*@domain` for every
 * account of one domain (`*@robots.example.org`; subdomains are not included). Matching is trimmed and
 * case-insensitive. Their events are counted per rule and the digest's coverage section says so. Pure.
 */

export const IGNORE_USERS_VARIABLE = 'REPORT_IGNORE_USERS';

export interface IgnoreUserRule {
  /** The rule as written (trimmed). */
  rule: string;
  kind: 'exact' | 'domain';
  /** Lower-case username, or the lower-case domain (without "@") for `*@domain`. */
  match: string;
}

const DOMAIN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/i;

export function parseIgnoreUsers(text: string | undefined): { value: IgnoreUserRule[]; problems: string[] } {
  const problems: string[] = [];
  const value: IgnoreUserRule[] = [];
  const seen = new Set<string>();
  for (const raw of (text ?? '').split(',')) {
    const rule = raw.trim();
    if (rule === '') continue;
    let parsed: IgnoreUserRule;
    if (rule.startsWith('*@')) {
      const domain = rule.slice(2).trim();
      if (!DOMAIN.test(domain)) {
        problems.push(`${IGNORE_USERS_VARIABLE}: "${rule}" is not *@domain: write the domain after "*@", e.g. "*@robots.example.org".`);
        continue;
      }
      parsed = { rule, kind: 'domain', match: domain.toLowerCase() };
    } else if (rule.includes('*')) {
      problems.push(
        `${IGNORE_USERS_VARIABLE}: "${rule}": the only wildcard is a whole domain ("*@example.org"); list other accounts by their exact username.`,
      );
      continue;
    } else {
      parsed = { rule, kind: 'exact', match: rule.toLowerCase() };
    }
    const id = `${parsed.kind}:${parsed.match}`;
    if (seen.has(id)) continue;
    seen.add(id);
    value.push(parsed);
  }
  return { value, problems };
}

/**
 * The matcher for one run: a username → the first rule that ignores it, or null. Usernames repeat a
 * million times a day; each distinct one is matched once (bounded cache).
 */
export function createIgnoreUserMatcher(rules: readonly IgnoreUserRule[]): (username: string) => IgnoreUserRule | null {
  if (rules.length === 0) return () => null;
  const exact = new Map<string, IgnoreUserRule>();
  const domains = new Map<string, IgnoreUserRule>();
  for (const r of rules) {
    const into = r.kind === 'exact' ? exact : domains;
    if (!into.has(r.match)) into.set(r.match, r);
  }
  const cache = new Map<string, IgnoreUserRule | null>();
  return (username) => {
    const hit = cache.get(username);
    if (hit !== undefined) return hit;
    const name = username.trim().toLowerCase();
    const at = name.lastIndexOf('@');
    const rule = (name !== '' ? exact.get(name) : undefined) ?? (at >= 0 ? domains.get(name.slice(at + 1)) : undefined) ?? null;
    if (cache.size >= 20_000) cache.clear();
    cache.set(username, rule);
    return rule;
  };
}
