/**
 * The `Data` of API-initiated rows: LastPass writes `Initiated by API: <apiuser>`, `Initiated by API`, and
 * (quoted in public issue threads) `(initiated by API)`; case and punctuation vary. The phrase is matched
 * wherever it stands, not one punctuation (an API call read as "not via the API" would drop from high to
 * low), and whatever follows it (after a colon, dash or bracket) is the caller's label.
 */

const PHRASE = /initiated\s+by\s+(?:the\s+)?api\b/i;
const LEADING = /^[\s:;,.\-–—)\]}"']+/;
const TRAILING = /[\s.;,)\]}"']+$/;

/** The caller's label ('' when the row names none), or null when the row was not initiated by the API. */
export function parseApiInitiated(data: string): string | null {
  const m = PHRASE.exec(data);
  if (!m) return null;
  let label = data
    .slice(m.index + m[0].length)
    .replace(LEADING, '')
    .replace(TRAILING, '');
  if (label.startsWith('(') || label.startsWith('[')) label = label.slice(1).trim();
  return label.replace(/\s+/g, ' ').trim();
}
