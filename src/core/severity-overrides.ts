/**
 * `REPORT_SEVERITY_OVERRIDES`: a team's own severities for catalogue actions, without code:
 * `"Login to Admin Console=info,Data printed=low"`. Names are matched like the catalogue (trimmed, inner
 * spaces collapsed, any case); a name the catalogue does not know is a configuration error (a typo would
 * otherwise silently change nothing). API reads (`Reporting`, …) are rated per caller and cannot be
 * overridden: LASTPASS_KNOWN_API_CALLERS is the way to quiet a known integration. Pure parsing.
 */
import { API_READ_ACTIONS, CATALOGUE, CATALOGUE_VERSION, normaliseActionName, type CatalogueEntry } from './catalogue.js';
import { SEVERITIES, type Severity } from './types.js';

export const SEVERITY_OVERRIDES_VARIABLE = 'REPORT_SEVERITY_OVERRIDES';

export interface SeverityOverride {
  /** The action name as written in the variable (trimmed). */
  name: string;
  /** The catalogue key it matches (normalised). */
  key: string;
  severity: Severity;
  /** What the catalogue says without the override. */
  catalogueSeverity: Severity;
}

const words = (name: string) => new Set(normaliseActionName(name).split(' '));

/** Up to three catalogue names sharing the most words with `name` ("Changed password" → "Password Changed", …). */
function closestNames(name: string, entries: readonly CatalogueEntry[]): string[] {
  const wanted = words(name);
  const scored: { name: string; score: number }[] = [];
  for (const entry of entries) {
    for (const candidate of entry.names) {
      const have = words(candidate);
      let common = 0;
      for (const w of wanted) if (have.has(w)) common++;
      if (common > 0) scored.push({ name: candidate, score: common / Math.max(wanted.size, have.size) });
    }
  }
  return scored
    .sort((a, b) => b.score - a.score || a.name.localeCompare(b.name))
    .slice(0, 3)
    .map((s) => s.name);
}

export function parseSeverityOverrides(
  text: string | undefined,
  catalogue: readonly CatalogueEntry[] = CATALOGUE,
): { value: SeverityOverride[]; problems: string[] } {
  const problems: string[] = [];
  const index = new Map<string, CatalogueEntry>();
  for (const entry of catalogue) for (const n of entry.names) index.set(normaliseActionName(n), entry);
  const byKey = new Map<string, SeverityOverride>();
  for (const raw of (text ?? '').split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const eq = entry.lastIndexOf('=');
    if (eq < 0) {
      problems.push(`${SEVERITY_OVERRIDES_VARIABLE}: "${entry}" has no severity: write action=severity, e.g. "${entry}=low".`);
      continue;
    }
    const name = entry.slice(0, eq).trim();
    const level = entry
      .slice(eq + 1)
      .trim()
      .toLowerCase();
    if (!(SEVERITIES as readonly string[]).includes(level)) {
      problems.push(
        `${SEVERITY_OVERRIDES_VARIABLE}: "${entry}": "${entry.slice(eq + 1).trim()}" is not a severity: use high, medium, low or info.`,
      );
      continue;
    }
    const severity = level as Severity;
    const key = normaliseActionName(name);
    const found = index.get(key);
    if (!found) {
      const close = closestNames(name, catalogue);
      problems.push(
        `${SEVERITY_OVERRIDES_VARIABLE}: "${name}" is not an action name in event catalogue ${CATALOGUE_VERSION}: ` +
          `write it as LastPass logs it (any case)${close.length ? `, e.g. ${close.map((c) => `"${c}"`).join(' or ')}` : ''}.`,
      );
      continue;
    }
    if (API_READ_ACTIONS.has(key)) {
      problems.push(
        `${SEVERITY_OVERRIDES_VARIABLE}: "${name}" cannot be overridden: API calls are rated per caller (another caller holding the API secret is high). ` +
          'List a legitimate integration in LASTPASS_KNOWN_API_CALLERS instead.',
      );
      continue;
    }
    const earlier = byKey.get(key);
    if (earlier && earlier.severity !== severity) {
      problems.push(`${SEVERITY_OVERRIDES_VARIABLE}: "${name}" is given two severities (${earlier.severity} and ${severity}): keep one.`);
      continue;
    }
    if (!earlier) byKey.set(key, { name, key, severity, catalogueSeverity: found.severity });
  }
  return { value: [...byKey.values()], problems };
}
