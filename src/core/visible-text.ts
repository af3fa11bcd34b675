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
  if (!NOT_PLAIN_ASCII.test(json)) return json;
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
  const open = text.lastIndexOf('⟨', end - 1);
  if (open !== -1 && text.indexOf('⟩', open) >= end) end = open;
  return `${text.slice(0, end)}…`;
}
