/**
 * The one redactor (src/adapters/http/redact.ts): every form a secret can take in an echoed request, the
 * value-free patterns, and the cap on upstream text.
 */
import { describe, expect, it } from 'vitest';
import {
  capabilityUrlParts,
  capText,
  createSecretRedactor,
  REDACTED,
  redactUrl,
  secretForms,
  upstreamSnippet,
  upstreamText,
  urlCredentials,
} from '../src/adapters/http/redact.js';

const SECRET = 'Lp/Secret+Key=42 "quoted" & more';
const redact = createSecretRedactor([SECRET]);

describe('createSecretRedactor', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const b64url = (s: string) => Buffer.from(s).toString('base64url');
  const cases: [string, string][] = [
    ['raw', `echo: ${SECRET}!`],
    ['encodeURIComponent', `body=${encodeURIComponent(SECRET)}`],
    ['encodeURIComponent, lower-case hex', `q=${encodeURIComponent(SECRET).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase())}`],
    ['form encoding with +', `a=1&${new URLSearchParams({ key: SECRET }).toString()}`],
    ['JSON-escaped', JSON.stringify({ echoed: SECRET })],
    ['JSON-escaped with \\/', JSON.stringify({ echoed: SECRET }).replace(/\//g, '\\/')],
    ['JSON inside a JSON string', JSON.stringify({ body: JSON.stringify({ key: SECRET }) })],
    ['HTML-escaped', `<pre>${SECRET.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}</pre>`],
    ['base64 of the secret', b64(SECRET)],
    ['base64 at offset 1', b64(`x${SECRET}yz`)],
    ['base64 at offset 2', b64(`xy${SECRET}`)],
    ['base64url of a whole request', b64url(`{"cid":"1","key":"${SECRET}"}`)],
    ['basic auth', `Authorization: Basic ${b64(`apiuser:${SECRET}`)}`],
  ];
  it.each(cases)('removes the secret written %s', (_name, text) => {
    const out = redact(text);
    expect(out).toContain(REDACTED);
    for (const form of secretForms(SECRET)) expect(out).not.toContain(form);
    expect(out).not.toContain('Secret+Key');
    expect(out).not.toContain('Secret%2BKey');
  });

  it('redacts the provhash field whatever its value (JSON, escaped JSON, form, URL-encoded JSON, HTML)', () => {
    const r = createSecretRedactor([]);
    expect(r('{"cid":"1","provhash":"other-value-123","cmd":"reporting"}')).toBe('{"cid":"1","provhash":"[redacted]","cmd":"reporting"}');
    expect(r('{"body":"{\\"provhash\\":\\"other-value-123\\",\\"cmd\\":1}"}')).toBe(
      '{"body":"{\\"provhash\\":\\"[redacted]\\",\\"cmd\\":1}"}',
    );
    expect(r('cid=1&provhash=other-value-123&cmd=reporting')).toBe('cid=1&provhash=[redacted]&cmd=reporting');
    expect(r('%7B%22provhash%22%3A%22other-value-123%22%7D')).toBe('%7B%22provhash%22%3A%22[redacted]%22%7D');
    expect(r('<pre>{&quot;provhash&quot;:&quot;other-value-123&quot;}</pre>')).toBe(
      '<pre>{&quot;provhash&quot;:&quot;[redacted]&quot;}</pre>',
    );
    expect(r("PROVHASH: 'other-value-123'")).toBe('PROVHASH: [redacted]');
  });

  it('redacts bearer tokens, SendGrid-shaped keys and URL credentials without knowing them', () => {
    const r = createSecretRedactor([]);
    expect(r('authorization: Bearer SG.abcdefgh.ijklmnopqrst')).toBe('authorization: Bearer [redacted]');
    // Prose after the scheme words stays readable: a token has a digit or is 20+ characters.
    expect(r('Basic accounts cannot send; Bearer authentication required; basic validation failed')).toBe(
      'Basic accounts cannot send; Bearer authentication required; basic validation failed',
    );
    expect(r('Authorization: Bearer abcdefghijklmnopqrstuvwxyz')).toBe('Authorization: Bearer [redacted]');
    expect(r('key SG.abcdefgh_12.ijklmnop-34 leaked')).toBe('key [redacted] leaked');
    expect(r('see https://user:p%40ss@proxy.example/path')).toBe('see https://user:[redacted]@proxy.example/path');
    expect(r('see https://ghp_0123456789abcdefghij@proxy.example/path')).toBe('see https://[redacted]@proxy.example/path');
    expect(r('postgresql://postgres@127.0.0.1:5432/test')).toBe('postgresql://postgres@127.0.0.1:5432/test');
  });

  it('leaves ordinary text alone and ignores secrets too short to redact', () => {
    const r = createSecretRedactor(['abc', null, undefined]);
    expect(r('LastPass answered HTTP 500 (abc).')).toBe('LastPass answered HTTP 500 (abc).');
  });
});

describe('URLs', () => {
  it('redactUrl keeps scheme, host and path only', () => {
    expect(redactUrl('https://u:p@host.example:8443/a/b?token=1#f')).toBe('https://host.example:8443/a/b');
  });
  it('urlCredentials finds user and password, decoded and as written', () => {
    expect(urlCredentials('https://us%65r:p%40ss@h/')).toEqual(expect.arrayContaining(['us%65r', 'user', 'p%40ss', 'p@ss']));
    expect(urlCredentials('https://h.example/x')).toEqual([]);
  });
  it('capabilityUrlParts: the whole URL and its long path segments', () => {
    const parts = capabilityUrlParts('https://hc-ping.com/3f1c2b7e-aaaa-bbbb-cccc-1234567890ab');
    expect(parts).toContain('3f1c2b7e-aaaa-bbbb-cccc-1234567890ab');
    expect(parts).not.toContain('hc-ping.com');
  });
});

describe('the cap', () => {
  it('cuts at 4 KB of UTF-8 and says how much was cut', () => {
    expect(capText('short')).toBe('short');
    const long = 'é'.repeat(3000); // 6000 bytes
    const cut = capText(long);
    expect(Buffer.byteLength(cut.split('…')[0]!)).toBe(4096);
    expect(cut).toMatch(/… \(1904 bytes cut\)$/);
  });
  it('upstreamText redacts before cutting, also for a huge body', () => {
    const body = `${'a'.repeat(4090)}${SECRET}${'b'.repeat(100_000)}`;
    const out = upstreamText(body, redact);
    expect(out).not.toContain(SECRET.slice(0, 6));
    expect(out).toMatch(/^a{4090}\[redac… \(\d+ bytes cut\)$/);
    // A secret straddling the redaction window's edge is gone too.
    const edge = `${'c'.repeat(65_530)}${SECRET}`;
    expect(upstreamText(edge, redact, 70_000)).not.toContain(SECRET.slice(0, 6));
    expect(upstreamSnippet(`<html>\n  <body>${SECRET}</body>`, redact)).toBe('<html> <body>[redacted]</body>');
    const n = Number(/\((\d+) bytes cut\)/.exec(out)![1]);
    expect(n).toBe(Buffer.byteLength(body) - 4096);
  });
});
