/**
 * The email addresses of the configuration (REPORT_FROM, REPORT_TO): `name@example.org` or
 * `Name <name@example.org>` (the name may be quoted, `"Doe, Jane" <jane@example.org>`). An address ends up
 * in a mail header, so a control character anywhere (CR/LF: "Evil\r\nBcc: attacker@evil.test <…>") or an
 * invisible one is an error naming the variable, as is anything that is not `local@domain` (the domain
 * dotted or not, no spaces). REPORT_TO's duplicates (case-insensitive) are merged with a warning, and more
 * than SendGrid's 1,000 recipients of one message is an error. Every problem of a list comes out at once.
 * Pure. Values are echoed in problems only as shown by core/visible-text.ts (never a raw line break).
 */
import { hasInvisible, shortenText, visibleText } from '../core/visible-text.js';

/** SendGrid's limit of recipients in one message (to, cc and bcc together). */
export const MAX_RECIPIENTS = 1000;

export interface Mailbox {
  /** The display name, unquoted ("" when there is none). */
  name: string;
  email: string;
}

/** C0, DEL, C1, and the Unicode line and paragraph separators. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters it refuses
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;
/** A dot-atom local part (RFC 5322; letters of any script for internationalised addresses). */
const LOCAL_PART = /^[\p{L}\p{M}\p{N}!#$%&'*+/=?^_`{|}~-]+(?:\.[\p{L}\p{M}\p{N}!#$%&'*+/=?^_`{|}~-]+)*$/u;
/** One domain label: letters and digits of any script, hyphens inside. */
const DOMAIN_LABEL = /^[\p{L}\p{M}\p{N}](?:[\p{L}\p{M}\p{N}-]*[\p{L}\p{M}\p{N}])?$/u;
/** `Name <address>`, the name optional and maybe quoted. */
const ANGLE_FORM = /^(.*?)\s*<([^<>]*)>$/su;

/** The value as it may be echoed: invisible characters shown as ⟨U+…⟩, at most 80 characters. */
export function shownValue(text: string): string {
  return shortenText(visibleText(text), 80);
}

/** Why `address` is not `local@domain`, or null when it is. */
export function addressShapeProblem(address: string): string | null {
  if (/\s/u.test(address)) return 'it contains a space';
  const at = address.lastIndexOf('@');
  if (at === -1) return 'it has no @';
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (local === '') return 'nothing comes before the @';
  if (domain === '') return 'no domain follows the @';
  if (local.includes('@')) return 'it has more than one @';
  if (local.length > 64 || !LOCAL_PART.test(local)) return `"${shownValue(local)}" is not a valid part before the @`;
  const labels = domain.split('.');
  if (domain.length > 253 || labels.some((l) => l.length > 63 || !DOMAIN_LABEL.test(l)))
    return `"${shownValue(domain)}" is not a domain name`;
  return null;
}

/** The display name without its quotes (`\"` unescaped), or a reason it cannot be one. */
function displayName(raw: string): { name: string } | { problem: string } {
  const t = raw.trim();
  if (t.startsWith('"')) {
    const quoted = /^"((?:[^"\\]|\\.)*)"$/su.exec(t);
    if (!quoted) return { problem: 'its display name has an unbalanced quote' };
    return { name: (quoted[1] ?? '').replace(/\\(.)/gsu, '$1') };
  }
  if (/["<>]/u.test(t)) return { problem: 'its display name contains a quote or an angle bracket: put the name in double quotes' };
  return { name: t };
}

/**
 * One address of `variable`: its mailbox, or the one problem that makes it unusable (a control or
 * invisible character is named first: the shape problems it causes would only hide it).
 */
export function parseMailbox(text: string, variable: string, role: string): { mailbox: Mailbox } | { problem: string } {
  const shown = shownValue(text);
  const control = CONTROL.exec(text);
  if (control) {
    return {
      problem: `${variable} contains a control character (${visibleText(control[0])} in "${shown}"): an address and its display name must be one line of printable text (a line break there could add mail headers such as Bcc); remove it.`,
    };
  }
  if (hasInvisible(text)) {
    const ch = [...text].find((c) => hasInvisible(c) && c !== ' ') ?? '';
    return {
      problem: `${variable} contains an invisible character (${visibleText(ch)} in "${shown}"): it would make the address look like another one; retype the address.`,
    };
  }
  const angle = ANGLE_FORM.exec(text);
  let name = '';
  let email = text;
  if (angle) {
    const parsed = displayName(angle[1] ?? '');
    if ('problem' in parsed) return { problem: `${variable} ${role} "${shown}", which is not an email address: ${parsed.problem}.` };
    name = parsed.name;
    email = (angle[2] ?? '').trim();
  } else if (/[<>]/u.test(text)) {
    return { problem: `${variable} ${role} "${shown}", which is not an email address: write it as "Name <name@example.org>".` };
  }
  const shape = addressShapeProblem(email);
  const words = text.split(/\s+/u);
  if (shape && words.length > 1 && words.every((w) => addressShapeProblem(w) === null))
    return {
      problem: `${variable} ${role} "${shown}", which is not an email address but ${words.length} of them: separate them with commas.`,
    };
  if (shape)
    return {
      problem: `${variable} ${role} "${shown}", which is not an email address (${shape}): use "name@example.org" or "Name <name@example.org>".`,
    };
  return { mailbox: { name, email } };
}

/** A mailbox as the mail adapter takes it: `email` or `Name <email>` (the name unquoted). */
export function formatMailbox(m: Mailbox): string {
  return m.name ? `${m.name} <${m.email}>` : m.email;
}

/** Accepts `a@b.c` or `Name <a@b.c>`; returns the address part, or null. */
export function parseAddress(text: string): string | null {
  const parsed = parseMailbox(text.trim(), 'address', 'is');
  return 'mailbox' in parsed ? parsed.mailbox.email : null;
}

/** Splits at the commas that are not inside a quoted display name. */
export function splitAddressList(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted && c === '\\' && i + 1 < text.length) {
      current += c + text[i + 1];
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

export interface ParsedAddresses<T> {
  value: T | null;
  problems: string[];
  warnings: string[];
}

/** REPORT_FROM: exactly one address. */
export function parseSender(text: string, variable: string): ParsedAddresses<string> {
  const parts = splitAddressList(text);
  if (parts.length > 1 && parts.every((p) => 'mailbox' in parseMailbox(p, variable, 'is')))
    return {
      value: null,
      problems: [
        `${variable} names ${parts.length} addresses ("${shownValue(text)}"): the sender is one address; list recipients in REPORT_TO.`,
      ],
      warnings: [],
    };
  const parsed = parseMailbox(text, variable, 'is');
  return 'mailbox' in parsed
    ? { value: formatMailbox(parsed.mailbox), problems: [], warnings: [] }
    : { value: null, problems: [parsed.problem], warnings: [] };
}

/** REPORT_TO: comma-separated addresses, merged case-insensitively, at most MAX_RECIPIENTS. */
export function parseRecipients(text: string, variable: string): ParsedAddresses<string[]> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const kept = new Map<string, { mailbox: Mailbox; times: number }>();
  for (const part of splitAddressList(text)) {
    const parsed = parseMailbox(part, variable, 'contains');
    if ('problem' in parsed) {
      problems.push(parsed.problem);
      continue;
    }
    const key = parsed.mailbox.email.toLowerCase();
    const seen = kept.get(key);
    if (seen) seen.times++;
    else kept.set(key, { mailbox: parsed.mailbox, times: 1 });
  }
  for (const { mailbox, times } of kept.values()) {
    if (times > 1)
      warnings.push(
        `${variable} lists ${mailbox.email} ${times} times (addresses are compared ignoring case): it receives the digest once; remove the repeats.`,
      );
  }
  if (kept.size > MAX_RECIPIENTS)
    problems.push(
      `${variable} lists ${kept.size.toLocaleString('en-US')} different recipients: SendGrid accepts at most ${MAX_RECIPIENTS.toLocaleString('en-US')} in one message; send to a distribution list (one group address) instead.`,
    );
  if (problems.length === 0 && kept.size === 0) problems.push(`${variable} lists no recipient.`);
  return problems.length
    ? { value: null, problems, warnings }
    : { value: [...kept.values()].map((k) => formatMailbox(k.mailbox)), problems, warnings };
}
