/**
 * Event text made visible. LastPass rows carry attacker-influenced text (a username is whatever was typed
 * at a sign-in form, Data is free text), and characters that draw nothing or reorder what follows would
 * make two different values look the same: "ali\u200Bce@corp.example" is not alice. `visibleText` shows
 * each such character as its code point in angle brackets (`⟨U+200B⟩`), so the difference is on the page:
 * - control characters (Unicode category Cc: C0, DEL, C1; newlines and tabs too, so no text forges a line),
 * - format characters (Cf: zero-width space / non-joiner / joiner, word joiner, soft hyphen, BOM, the bidi
 *   embeddings, overrides and isolates, the tag characters U+E0000–E007F, …),
 * - the other default-ignorable code points (variation selectors, Hangul fillers, combining grapheme
 *   joiner: drawn as nothing, or as a blank that looks like no character at all),
 * - the line and paragraph separators U+2028 / U+2029, and every space other than U+0020 (a no-break or
 *   ideographic space looks like a space and is not one).
 * A lone surrogate (half of a UTF-16 pair, not a character) becomes U+FFFD, as `wellFormed` does: the
 * intake applies that to every row (window-intake.ts), so nothing serialised (the SendGrid request, the
 * evidence, the state) ever carries one. Pure; text that needs nothing (nearly all of it) is returned as is.
 */

/** Any character outside printable ASCII: the fast test before the real one. */
const NOT_PLAIN_ASCII = /[^\x20-\x7e]/;

/** What `visibleText` rewrites; the spaces are category Zs without U+0020. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]|\p{Cs}/gu;

/** The same characters without C0 (JSON.stringify escapes those itself; a raw newline there is layout). */
const INVISIBLE_IN_JSON = /[\x7f-\x9f\p{Cf}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/gu;

const REPLACEMENT = '\uFFFD';

/** `⟨U+200B⟩`: the code point in hexadecimal, at least four digits. */
export function codePointLabel(codePoint: number): string {
  return `⟨U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}⟩`;
}

/** ES2024's well-formed string methods (Node 20+), which this project's `lib` (ES2023) does not declare. */
const STRING = String.prototype as unknown as { isWellFormed(this: string): boolean; toWellFormed(this: string): string };

/** Lone surrogates replaced by U+FFFD; anything else unchanged (the same string when it was well formed). */
export function wellFormed(text: string): string {
  return STRING.isWellFormed.call(text) ? text : STRING.toWellFormed.call(text);
}

/** The text with every invisible or look-alike character shown as `⟨U+XXXX⟩` and lone surrogates as U+FFFD. */
export function visibleText(text: string): string {
  if (!NOT_PLAIN_ASCII.test(text)) return text;
  return text.replace(INVISIBLE, (ch) => {
    const cp = ch.codePointAt(0) ?? 0;
    return cp >= 0xd800 && cp <= 0xdfff ? REPLACEMENT : codePointLabel(cp);
  });
}

/** Whether `visibleText` would change the text (lone surrogates included). */
export function hasInvisible(text: string): boolean {
  if (!NOT_PLAIN_ASCII.test(text)) return false;
  INVISIBLE.lastIndex = 0;
  const found = INVISIBLE.test(text);
  INVISIBLE.lastIndex = 0;
  return found;
}

/**
 * JSON text (from JSON.stringify) with every invisible character inside its strings written as a `\uXXXX`
 * escape: the values decode to exactly the same text (nothing lost for a machine or an auditor), and a
 * person reading the file sees `ali\u200bce`, not alice. Outside strings JSON has only ASCII.
 */
export function escapeInvisibleInJson(json: string): string {
  // Tested first: a day's JSON can be tens of MB, and nearly always has nothing to escape (no copy then).
  INVISIBLE_IN_JSON.lastIndex = 0;
  if (!NOT_PLAIN_ASCII.test(json) || !INVISIBLE_IN_JSON.test(json)) return json;
  INVISIBLE_IN_JSON.lastIndex = 0;
  return json.replace(INVISIBLE_IN_JSON, (ch) => {
    let out = '';
    for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return out;
  });
}

/**
 * At most `max` UTF-16 units, ending in "…" when shortened: never half of a surrogate pair (that would be a
 * lone surrogate) and never part of a `⟨U+200B⟩` label.
 */
export function shortenText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - 1);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  // A label is at most 10 units (⟨U+10FFFF⟩): a "⟨" further back is text, not a label being cut.
  const open = text.lastIndexOf('⟨', end - 1);
  const close = open === -1 ? -1 : text.indexOf('⟩', open);
  if (open !== -1 && close >= end && close - open <= 9) end = open;
  return `${text.slice(0, end)}…`;
}

/** A `⟨U+200B⟩` label, as visibleText writes it. */
const LABEL = /⟨U\+([0-9A-F]{4,6})⟩/g;

/** The code points shown as labels in `text`, added to `into`. */
export function collectLabels(text: string, into: Set<number>): void {
  if (!text.includes('⟨U+')) return;
  for (const m of text.matchAll(LABEL)) into.add(Number.parseInt(m[1] ?? '0', 16));
}

const NAMES: Readonly<Record<number, string>> = {
  0: 'null character',
  9: 'tab',
  10: 'line feed',
  13: 'carriage return',
  27: 'escape',
  160: 'no-break space',
  173: 'soft hyphen',
  847: 'combining grapheme joiner',
  1564: 'Arabic letter mark',
  8203: 'zero-width space',
  8204: 'zero-width non-joiner',
  8205: 'zero-width joiner',
  8206: 'left-to-right mark',
  8207: 'right-to-left mark',
  8232: 'line separator',
  8233: 'paragraph separator',
  8234: 'left-to-right embedding',
  8235: 'right-to-left embedding',
  8236: 'pop directional formatting',
  8237: 'left-to-right override',
  8238: 'right-to-left override',
  8288: 'word joiner',
  8294: 'left-to-right isolate',
  8295: 'right-to-left isolate',
  8296: 'first strong isolate',
  8297: 'pop directional isolate',
  12644: 'Hangul filler',
  65279: 'byte order mark (zero-width no-break space)',
};

/** What a recipient reads for one code point: "⟨U+200B⟩ zero-width space". */
export function describeCodePoint(cp: number): string {
  const name =
    NAMES[cp] ??
    (cp >= 0xe0000 && cp <= 0xe007f
      ? 'tag character'
      : cp >= 0xfe00 && cp <= 0xfe0f
        ? 'variation selector'
        : cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)
          ? 'control character'
          : 'invisible or look-alike character');
  return `${codePointLabel(cp)} ${name}`;
}

/** Code points named in the notice; the rest are counted. */
const NOTICE_NAMED = 6;

/**
 * The digest's notice when it shows any `⟨U+…⟩` label: what the marks mean and what to do about a name
 * that looks like a familiar one, and where the exact text is (null when there is no label).
 */
export function invisibleCharactersNotice(codePoints: ReadonlySet<number>, jsonAttachment = ''): string | null {
  if (codePoints.size === 0) return null;
  const sorted = [...codePoints].sort((a, b) => a - b);
  const named = sorted.slice(0, NOTICE_NAMED).map(describeCodePoint).join(', ');
  const more = sorted.length > NOTICE_NAMED ? ` and ${sorted.length - NOTICE_NAMED} more` : '';
  return (
    `Some names or details LastPass logged contain characters that are invisible or look like others; this digest shows each as its code point (${named}${more}). ` +
    'A username that looks like a familiar one but carries such a mark is a different account: treat it as a possible impersonation and look it up in the Admin Console (Users).' +
    (jsonAttachment ? ` The attached ${jsonAttachment} has the exact text.` : '')
  );
}
