/**
 * One `reporting` response, from bytes to its rows: envelope checks (XML auth errors, CDN HTML, HTTP
 * status), JSON and row validation. Pure apart from the errors it throws. Which rows count is the paging
 * decision's (src/core/page-decision.ts).
 */
import { AuthorizationError, UpstreamError } from '../../errors.js';
import type { RawEvent, WallRange } from '../../core/types.js';
import type { RequestTiming } from '../../ports.js';
import type { PageScanner } from './page-scanner.js';
import { createSecretRedactor, upstreamSnippet, upstreamText } from '../http/redact.js';

/** One response as the transport received it, and the range it answered. */
export interface ReportingResponse {
  range: WallRange;
  /** 1-based: which request of this fetch it answered. */
  requestNumber: number;
  status: number;
  contentType: string;
  retryAfter: string | null;
  /** The body exactly as received. */
  bytes: Uint8Array;
  /** The redacted endpoint, for errors. */
  url: string;
  /** The clock at arrival (for Retry-After dates). */
  now: number;
  pageLimit: number;
  /** When it was sent and answered, and the Date header. */
  timing: RequestTiming;
  /** Redacts the secrets from upstream text before it enters an error (the client's; patterns only when absent). */
  redact?: (text: string) => string;
}

/** Without the client's secrets: the value-free patterns (provhash field, bearer tokens, URL credentials). */
const PATTERNS_ONLY = createSecretRedactor([]);

export interface ReportingPage {
  rows: RawEvent[];
  next: string | null;
}

const FIELDS = ['Time', 'Username', 'IP_Address', 'Action', 'Data'] as const;

/** UTF-8 as `Response.text()` decodes it (a BOM is dropped, invalid bytes become U+FFFD). */
const UTF8 = new TextDecoder('utf-8');

export function decodeBody(bytes: Uint8Array): string {
  return UTF8.decode(bytes);
}

function retryAfterSeconds(header: string | null, now: number): number | null {
  if (!header) return null;
  const s = Number(header.trim());
  if (Number.isFinite(s)) return Math.max(0, s);
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, Math.ceil((at - now) / 1000)) : null;
}

/** Upstream text as an error may quote it: redacted, then cut (src/adapters/http/redact.ts). */
function quoted(text: string, redact: (text: string) => string, maxBytes = 120): string {
  return upstreamSnippet(text, redact, maxBytes);
}

/** Interprets one response body. Exported for tests of the parsing rules. */
export function parseReportingResponse(
  status: number,
  contentType: string,
  body: string,
  ctx: { url: string; now: number; retryAfter: string | null; redact?: (text: string) => string },
): ReportingPage {
  const base = { service: 'lastpass' as const, status, url: ctx.url };
  const redact = ctx.redact ?? PATTERNS_ONLY;
  const trimmed = body.trimStart();
  if (trimmed.startsWith('<')) {
    const rc = /<lastpass[^>]*\brc="([^"]*)"/i.exec(trimmed)?.[1];
    if (rc && /authori[sz]ation/i.test(rc)) {
      throw new AuthorizationError(
        'LastPass rejected the account number or API secret (Authorization Error): check LASTPASS_ACCOUNT_NUMBER and LASTPASS_API_KEY; the secret may have been regenerated in the Admin Console (Advanced > Enterprise API), which invalidates the old one at once.',
        { ...base, retryable: false },
      );
    }
    if (rc) {
      throw new UpstreamError(`LastPass answered with an XML error "${quoted(rc, redact, 200)}" (HTTP ${status}).`, {
        ...base,
        retryable: false,
      });
    }
    const retryable = status >= 500 || status === 429;
    throw new UpstreamError(
      `LastPass answered with HTML instead of JSON (HTTP ${status}${contentType ? `, ${quoted(contentType.split(';')[0]!, redact, 80)}` : ''}): ` +
        (status === 403
          ? 'the CDN in front of LastPass blocked the request; check LASTPASS_API_URL and that this host may reach it.'
          : `probably an error page from the CDN in front of LastPass ("${quoted(trimmed, redact)}").`),
      { ...base, retryable, retryAfterSeconds: retryAfterSeconds(ctx.retryAfter, ctx.now) },
    );
  }
  if (status === 429 || status >= 500) {
    throw new UpstreamError(`LastPass answered HTTP ${status}${status === 429 ? ' (rate limited)' : ''}.`, {
      ...base,
      retryable: true,
      retryAfterSeconds: retryAfterSeconds(ctx.retryAfter, ctx.now),
    });
  }
  if (status !== 200) {
    throw new UpstreamError(`LastPass answered HTTP ${status} ("${quoted(body, redact)}"): check LASTPASS_API_URL.`, {
      ...base,
      retryable: false,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new UpstreamError(
      `LastPass sent a body that is not complete JSON (${body.length} bytes${body.length === 0 ? ', empty' : ''}): the response was truncated or garbled; no events from it are used.`,
      { ...base, retryable: true },
    );
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new UpstreamError('LastPass sent JSON that is not an object: no events from it are used.', { ...base, retryable: false });
  }
  // JSON.parse keeps the last of two equal keys: `"data":{…},"data":{}` would read as an empty day.
  const duplicate = firstDuplicateKey(body);
  if (duplicate !== null) {
    throw new UpstreamError(
      `LastPass sent JSON with the key "${quoted(duplicate.key, redact, 40)}" twice in one object (${duplicate.path}): it cannot be read unambiguously, so no events from it are used.`,
      { ...base, retryable: false },
    );
  }
  const obj = json as Record<string, unknown>;
  if (obj.status !== 'OK') {
    const text = [obj.error, obj.message, obj.errors].find((v) => typeof v === 'string' && v.trim() !== '') as string | undefined;
    throw new UpstreamError(
      `LastPass answered status "${quoted(String(obj.status ?? '(missing)'), redact, 40)}"${text ? `: ${upstreamText(text, redact)}` : ' without an error text'}.`,
      { ...base, retryable: false },
    );
  }
  const data = obj.data;
  let list: unknown[];
  if (data === undefined || data === null) list = [];
  else if (Array.isArray(data)) list = data;
  else if (typeof data === 'object') list = Object.values(data as Record<string, unknown>);
  else throw new UpstreamError(`LastPass sent "data" of type ${typeof data}: expected an object of events.`, { ...base, retryable: false });

  const rows: RawEvent[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    if (typeof item !== 'object' || item === null) {
      throw new UpstreamError(`LastPass sent an event that is not an object (position ${i + 1}).`, { ...base, retryable: false });
    }
    const r = item as Record<string, unknown>;
    if (typeof r.Time !== 'string') {
      throw new UpstreamError(`LastPass sent an event without a Time (position ${i + 1}).`, { ...base, retryable: false });
    }
    // Hot path: the usual row already has five strings and is used as it is; others are normalised.
    if (typeof r.Username === 'string' && typeof r.IP_Address === 'string' && typeof r.Action === 'string' && typeof r.Data === 'string') {
      rows[i] = r as unknown as RawEvent;
      continue;
    }
    const row = {} as RawEvent;
    for (const f of FIELDS) {
      const v = r[f];
      row[f] = typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
    }
    rows[i] = row;
  }
  const next = obj.next;
  const nextText = next === undefined || next === null || next === '' || next === false || next === 0 || next === '0' ? null : String(next);
  return { rows, next: nextText };
}

/**
 * Reads one response: with a scanner, the byte scanner for a plain OK page (no object per row, repeated
 * values shared; its row objects are reused by its next page); otherwise, or when the scanner declines,
 * `parseReportingResponse` on the decoded text, which gives the same rows, or the error.
 */
export function readPage(response: ReportingResponse, scanner: PageScanner | null): ReportingPage {
  if (scanner !== null && response.status === 200) {
    const scanned = scanner.scan(response.bytes);
    if (scanned) return scanned;
  }
  return parseReportingResponse(response.status, response.contentType, decodeBody(response.bytes), response);
}

/**
 * The first key that occurs twice in one object of a JSON text (which must already parse), with where it
 * is ("top level", "data", "data.Event7"), or null. Keys are compared as decoded (`"a"` and `"\\u0061"` are the same key).
 */
export function firstDuplicateKey(text: string): { key: string; path: string } | null {
  /** One open object (its keys so far) or array (null), and the key it sits under. */
  const stack: { keys: Set<string> | null; name: string }[] = [];
  let expectKey = false;
  let lastKey = '';
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      let escaped = false;
      for (;;) {
        const d = text.charCodeAt(j);
        if (d === 0x5c) {
          escaped = true;
          j += 2;
        } else if (d === 0x22 || j >= n) {
          break;
        } else {
          j++;
        }
      }
      if (expectKey) {
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        const top = stack[stack.length - 1];
        if (top?.keys) {
          if (top.keys.has(key)) {
            const path = stack
              .slice(1)
              .map((s) => s.name)
              .join('.');
            return { key, path: path === '' ? 'top level' : path };
          }
          top.keys.add(key);
        }
        lastKey = key;
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b) {
      stack.push({ keys: new Set(), name: stack[stack.length - 1]?.keys === null ? '[…]' : lastKey });
      expectKey = true;
    } else if (c === 0x5b) {
      stack.push({ keys: null, name: stack[stack.length - 1]?.keys === null ? '[…]' : lastKey });
      expectKey = false;
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      expectKey = stack[stack.length - 1]?.keys != null;
    }
  }
  return null;
}
