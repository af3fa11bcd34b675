/**
 * Redaction, the one place: what we send out and what upstreams send back. Every text that comes from an
 * upstream (an error body, a status text, a header) passes `upstreamText` where it enters (the LastPass
 * client, the SendGrid mailer, the heartbeat), and every text that leaves (logs, the FAILED notice, state,
 * evidence, pings) passes `createSecretRedactor` again, so a gateway that echoes our request (the LastPass
 * `provhash`, SendGrid's `Authorization: Bearer` header) never carries a secret further.
 *
 * A secret is replaced in every form it can take in echoed text: raw, URL-encoded (encodeURIComponent,
 * form encoding with `+`, upper- or lower-case hex), base64 and base64url (at any offset within a longer
 * encoded text, e.g. a whole request body or `Basic user:secret`), JSON-escaped (also with `\/`, as PHP's
 * json_encode writes it). Whatever the values: the `provhash` field (JSON, escaped JSON, form), bearer
 * tokens, SendGrid-shaped keys, and credentials in URLs.
 */

export const REDACTED = '[redacted]';

/** Upstream text kept wherever it goes (logs, notices, state, evidence): 4 KB, then "… (N bytes cut)". */
export const UPSTREAM_TEXT_MAX_BYTES = 4096;

/** Secrets shorter than this are not redacted (they would match everywhere); no real secret is this short. */
const MIN_SECRET_LENGTH = 4;

/** The host and path of a URL, never its query (which could carry a token through a proxy) nor credentials. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** The username and password of a URL, decoded and as written; [] when it has none or is not a URL. */
export function urlCredentials(text: string): string[] {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#@]*)@/i.exec(text.trim());
  if (!m) return [];
  const out: string[] = [];
  for (const part of m[1]!.split(':')) {
    if (part === '') continue;
    out.push(part);
    try {
      out.push(decodeURIComponent(part));
    } catch {
      // not an escape: used as written
    }
  }
  out.push(m[1]!);
  return [...new Set(out)];
}

/** The secret parts of a capability URL (a heartbeat check): the whole URL, its token-like path segments, its query, credentials. */
export function capabilityUrlParts(text: string): string[] {
  const out = [text, ...urlCredentials(text)];
  try {
    const u = new URL(text);
    out.push(`${u.host}${u.pathname}`);
    // Token-like segments (a check's UUID), not words that could occur in any text.
    for (const segment of u.pathname.split('/')) if (segment.length >= 12 && /\d/.test(segment)) out.push(segment);
    if (u.search.length > 1) out.push(u.search.slice(1));
  } catch {
    // not a URL: the whole text is the secret
  }
  return [...new Set(out)];
}

const MIN_BASE64_CORE = 8;

/** The characters of base64 text that depend only on `bytes` when they start `offset` bytes into the encoded data. */
function base64Cores(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    const core = encoded.slice(Math.ceil((offset * 8) / 6), Math.floor(((offset + bytes.length) * 8) / 6));
    // Short cores would match unrelated base64 text: only those of a real secret's length.
    if (core.length >= MIN_BASE64_CORE) out.push(core);
  }
  return out;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Every form a secret may take in echoed text (see the top of the file). */
export function secretForms(secret: string): string[] {
  if (secret.length < MIN_SECRET_LENGTH) return [];
  const forms = new Set<string>([secret]);
  const uri = encodeURIComponent(secret);
  const form = new URLSearchParams({ x: secret }).toString().slice(2);
  for (const encoded of [uri, form, uri.replace(/%20/g, '+')]) {
    forms.add(encoded);
    forms.add(encoded.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()));
  }
  forms.add(secret.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!));
  const json = JSON.stringify(secret).slice(1, -1);
  forms.add(json);
  forms.add(json.replace(/\//g, '\\/'));
  // Escaped twice: a JSON body echoed inside a JSON string.
  forms.add(JSON.stringify(json).slice(1, -1));
  for (const core of base64Cores(Buffer.from(secret, 'utf8'))) {
    forms.add(core);
    forms.add(core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return [...forms].filter((f) => f.length >= MIN_SECRET_LENGTH);
}

/** The `provhash` field, whatever its value: JSON (also escaped inside a string), form, query, header. */
const PROVHASH_FIELD =
  /((?:\\*["']|%22|&quot;)?provhash(?:\\*["']|%22|&quot;)?\s*(?::|=|%3A|%3D)\s*)(\[redacted\]|\\*"(?:[^"\\]|\\(?!"))*\\*"|%22.*?%22|&quot;.*?&quot;|'[^']*'|[^\s&"'<>,;}\]]+)/gi;
/**
 * A bearer token (SendGrid's `Authorization: Bearer SG.…`) and a basic-auth value: a token has a digit or
 * is 20 characters or more, so that words after "Bearer"/"Basic" in an upstream's prose ("Basic accounts
 * cannot send") stay readable.
 */
const BEARER = /\b(bearer\s+)(?=[A-Za-z0-9._~+/=-]*\d|[A-Za-z0-9._~+/=-]{20})[A-Za-z0-9._~+/=-]{8,}/gi;
const BASIC = /\b(basic\s+)(?=[A-Za-z0-9+/=]*\d|[A-Za-z0-9+/=]{20})[A-Za-z0-9+/=]{8,}/gi;
/** A SendGrid-shaped key anywhere. */
const SENDGRID_KEY = /\bSG\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}/g;
/**
 * Credentials in a URL: scheme://user:pass@host. The password goes; a user alone goes when it is long
 * enough to be a token (`https://<token>@host`), not a login name (`postgresql://postgres@host`). The
 * configured URLs' own user names are secrets anyway (schema.ts), so they go wherever they appear.
 */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@:"'<>]*)(:[^\s/?#@"'<>]*)?@/gi;

/** A user name without password at least this long is taken for a token. */
const LONE_USER_TOKEN = 20;

/** The patterns that need no secret value. */
function redactPatterns(text: string): string {
  return text
    .replace(PROVHASH_FIELD, (_m, key: string, value: string) => {
      if (value === REDACTED) return `${key}${value}`;
      const quote = /^(\\*"|%22|&quot;)/.exec(value)?.[1];
      return `${key}${quote ? `${quote}${REDACTED}${quote}` : REDACTED}`;
    })
    .replace(BEARER, `$1${REDACTED}`)
    .replace(BASIC, `$1${REDACTED}`)
    .replace(SENDGRID_KEY, REDACTED)
    .replace(URL_CREDENTIALS, (_m, scheme: string, user: string, password: string | undefined) =>
      password !== undefined
        ? `${scheme}${user}:${REDACTED}@`
        : user.length >= LONE_USER_TOKEN
          ? `${scheme}${REDACTED}@`
          : `${scheme}${user}@`,
    );
}

/**
 * The redactor of any text: every form of every secret in `secrets` (valid or not) becomes "[redacted]",
 * and so do the value-free patterns (provhash field, bearer/basic tokens, SendGrid keys, URL credentials).
 */
export function createSecretRedactor(secrets: readonly (string | null | undefined)[]): (text: string) => string {
  const raw = secrets.filter((s): s is string => typeof s === 'string' && s.length >= MIN_SECRET_LENGTH);
  const list = [...new Set(raw.flatMap(secretForms))].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const form of list) if (out.includes(form)) out = out.split(form).join(REDACTED);
    return redactPatterns(out);
  };
}

/** `text` cut to `maxBytes` of UTF-8 (never inside a character), with "… (N bytes cut)" when it was longer. */
export function capText(text: string, maxBytes = UPSTREAM_TEXT_MAX_BYTES): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return `${bytes.subarray(0, end).toString('utf8')}… (${bytes.length - end} bytes cut)`;
}

/** How much of a long upstream text is redacted and then kept at most (far beyond any cap used). */
const HEAD_WINDOW = 65_536;

/**
 * The redacted beginning of `text`, at most HEAD_WINDOW / 2 characters when it was longer than HEAD_WINDOW:
 * the window is redacted before anything is cut, and its second half (where a secret may straddle the
 * window's edge) is dropped, so no part of a secret survives a cut.
 */
export function redactedHead(text: string, redact: (text: string) => string): string {
  if (text.length <= HEAD_WINDOW) return redact(text);
  return redact(text.slice(0, HEAD_WINDOW)).slice(0, HEAD_WINDOW / 2);
}

/**
 * Text from an upstream (a body, a status text, a header), made fit to log, store, mail, archive or ping:
 * redacted first (so a cut can never leave part of a secret), then capped at `maxBytes` with
 * "… (N bytes cut)" (N counts the upstream's bytes not shown).
 */
export function upstreamText(text: string, redact: (text: string) => string, maxBytes = UPSTREAM_TEXT_MAX_BYTES): string {
  const head = redactedHead(text, redact);
  if (text.length <= HEAD_WINDOW) return capText(head, maxBytes);
  const capped = capText(head, maxBytes);
  const kept = capped === head ? head : capped.slice(0, capped.lastIndexOf('… ('));
  return `${kept}… (${Buffer.byteLength(text, 'utf8') - Buffer.byteLength(kept, 'utf8')} bytes cut)`;
}

/** A short one-line sample of an upstream body for a message: redacted, whitespace collapsed, capped. */
export function upstreamSnippet(body: string, redact: (text: string) => string, maxBytes = 120): string {
  return capText(redactedHead(body, redact).replace(/\s+/g, ' ').trim(), maxBytes);
}
