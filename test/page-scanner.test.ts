/**
 * The byte scanner (src/adapters/page-scanner.ts) against the JSON.parse path it stands in for: for every
 * body, `readPage` must give exactly what `parseReportingResponse` gives (the same rows in the same order
 * and the same `next`, or the same error), whether the scanner took the page or handed it back. The
 * cases cover LastPass's own shape, every variant the API notes allow, hostile text, broken JSON cut at
 * every byte, and seeded random pages and mutations.
 */
import { describe, expect, it } from 'vitest';
import { createPageScanner, hashBytes, type PageScanner } from '../src/adapters/lastpass/page-scanner.js';
import { readBodyBytes } from '../src/adapters/lastpass/lastpass-client.js';
import { decodeBody, parseReportingResponse, readPage, type ReportingResponse } from '../src/adapters/lastpass/reporting-page.js';
import type { RawEvent } from '../src/core/types.js';
import { UpstreamError } from '../src/errors.js';
import { mulberry32 } from '../src/simulator/demo-day.js';

const CTX = { url: 'https://lastpass.example.test/enterpriseapi.php', now: 0, retryAfter: null };
const encoder = new TextEncoder();

type Outcome = { rows: RawEvent[]; next: string | null } | { error: string };

/** Plain copies of a page's rows (the scanner's row objects are reused by its next page). */
const copyRows = (rows: readonly RawEvent[]): RawEvent[] =>
  rows.map((r) => ({ Time: r.Time, Username: r.Username, IP_Address: r.IP_Address, Action: r.Action, Data: r.Data }));

/** What the JSON.parse path makes of a 200 response with these bytes. */
function reference(bytes: Uint8Array): Outcome {
  try {
    const page = parseReportingResponse(200, 'application/json', decodeBody(bytes), CTX);
    return { rows: copyRows(page.rows), next: page.next };
  } catch (error) {
    return { error: `${(error as Error).constructor.name}: ${(error as Error).message}` };
  }
}

function response(bytes: Uint8Array): ReportingResponse {
  return {
    range: { from: '2025-01-01 00:00:00', to: '2025-12-31 23:59:59' },
    requestNumber: 1,
    status: 200,
    contentType: 'application/json',
    retryAfter: null,
    bytes,
    url: CTX.url,
    now: 0,
    pageLimit: 10_000,
    timing: { sentAt: 0, receivedAt: 0, serverDate: null },
  };
}

/** What readPage (scanner first, JSON.parse when it declines) makes of them. */
function viaReadPage(bytes: Uint8Array, scanner: PageScanner): Outcome {
  try {
    const page = readPage(response(bytes), scanner);
    return { rows: copyRows(page.rows), next: page.next };
  } catch (error) {
    return { error: `${(error as Error).constructor.name}: ${(error as Error).message}` };
  }
}

/** Checks one body; returns whether the scanner itself took it. */
function check(body: string | Uint8Array, scanner: PageScanner = createPageScanner()): boolean {
  const bytes = typeof body === 'string' ? encoder.encode(body) : body;
  const took = scanner.scan(bytes) !== null;
  expect(viaReadPage(bytes, scanner)).toEqual(reference(bytes));
  return took;
}

const row = (i: number, extra: Partial<RawEvent> = {}): RawEvent => ({
  Time: `2025-03-09 17:${String(59 - (i % 60)).padStart(2, '0')}:0${i % 10}`,
  Username: `user${i % 7}@example.org`,
  IP_Address: `198.51.100.${i % 13}`,
  Action: ['Log in', 'Form Filled', 'Failed Login Attempt', 'Site Changed'][i % 4]!,
  Data: i % 3 === 0 ? '' : `VID: ${1000 + i}`,
  ...extra,
});

/** LastPass's shape: data keyed Event1..EventN. */
function lastpassBody(rows: readonly RawEvent[], next: unknown = null): string {
  const data: Record<string, RawEvent> = {};
  rows.forEach((r, i) => {
    data[`Event${i + 1}`] = r;
  });
  return JSON.stringify({ status: 'OK', next, data });
}

describe('page scanner', () => {
  it('takes LastPass pages and gives the rows, their order and next exactly as JSON.parse does', () => {
    const rows = Array.from({ length: 500 }, (_, i) => row(i));
    expect(check(lastpassBody(rows, 1741539931.0))).toBe(true);
    expect(check(lastpassBody(rows))).toBe(true);
    // The same values in one page share one string; a second page through the same scanner reads alike.
    const scanner = createPageScanner();
    expect(check(lastpassBody(rows.slice(0, 10)), scanner)).toBe(true);
    expect(check(lastpassBody(rows.slice(10, 30)), scanner)).toBe(true);
    const again = scanner.scan(encoder.encode(lastpassBody(rows.slice(0, 3))));
    expect(again?.rows.length).toBe(3);
    expect(copyRows(again!.rows)).toEqual(rows.slice(0, 3));
  });

  it('takes every layout JSON allows for that shape: spaces, field order, arrays, empty data, a BOM', () => {
    const rows = [row(1), row(2), row(3)];
    const spaced = JSON.stringify({ status: 'OK', next: null, data: { Event1: rows[0], Event2: rows[1], Event3: rows[2] } }, null, 2);
    const reordered = JSON.stringify({
      data: { Event1: { Data: 'x', Action: 'Log in', Username: 'u', IP_Address: '1.2.3.4', Time: '2025-03-09 10:00:00' } },
      next: '1741539931.5',
      status: 'OK',
    });
    const taken = [
      spaced,
      spaced.replace(/\n/g, '\r\n').replace(/ {2}/g, '\t'),
      reordered,
      JSON.stringify({ status: 'OK', next: null, data: rows }),
      JSON.stringify({ status: 'OK', next: null, data: {} }),
      JSON.stringify({ status: 'OK', next: null, data: [] }),
      JSON.stringify({ status: 'OK', next: null, data: null }),
      JSON.stringify({ status: 'OK', next: null }),
      JSON.stringify({ status: 'OK' }),
      `\uFEFF${lastpassBody(rows)}`,
      ` \n${lastpassBody(rows)}\n `,
    ];
    for (const body of taken) expect(check(body), body.slice(0, 60)).toBe(true);
  });

  it('reads next in every form LastPass may send it, as parseReportingResponse does', () => {
    const forms = [
      '1741539931.123456',
      '1741539931',
      '1741539931.000000',
      '-1.5e3',
      '0',
      '-0',
      '0.0',
      '1E400',
      '"1741539931.5"',
      '""',
      '"0"',
      'null',
      'false',
      'true',
    ];
    for (const form of forms) {
      const body = `{"status":"OK","next":${form},"data":{"Event1":${JSON.stringify(row(1))}}}`;
      expect(check(body), form).toBe(true);
    }
    for (const bad of ['01', '1.', '.5', '+1', '1e', '0x10', 'NaN', '{}', '[]', '"a']) {
      check(`{"status":"OK","next":${bad},"data":{}}`);
    }
  });

  it('keeps hostile and unusual text exactly: escapes, quotes, HTML, formulas, non-ASCII, invalid UTF-8', () => {
    const texts = [
      '<script>alert("x")</script>@evil.example',
      '=HYPERLINK("http://evil.example","click")',
      'back\\slash and "quotes" and \u2028 line separator',
      'tab\there, newline\nthere, \u0000 nul',
      'Zoë Müller – 日本語 – 😀',
      '\ud800 lone surrogate',
      '  padded action  ',
      'x'.repeat(300),
      'é'.repeat(200),
    ];
    const rows = texts.map((t, i) => row(i, { Username: t, Data: t, Action: i % 2 ? t : 'Log in' }));
    expect(check(lastpassBody(rows))).toBe(true);
    // Escaped forms of plain characters (\u0041, \/) read the same as JSON.parse reads them.
    expect(
      check(
        '{"status":"OK","data":{"Event1":{"Time":"2025-03-09 10:00:00","Username":"\\u0041\\/b","IP_Address":"","Action":"Log\\u0020in","Data":"\\ud83d\\ude00"}}}',
      ),
    ).toBe(true);
    // Invalid UTF-8 inside a value becomes U+FFFD, as the text decoder makes it; outside a value it is an error.
    const prefix = encoder.encode('{"status":"OK","data":{"Event1":{"Time":"2025-03-09 10:00:00","Username":"');
    const suffix = encoder.encode('","IP_Address":"","Action":"Log in","Data":""}}}');
    for (const bad of [[0xff], [0xe2, 0x82], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0x80, 0x41], [0xf0, 0x9f, 0x98]]) {
      expect(check(new Uint8Array([...prefix, ...bad, ...suffix])), String(bad)).toBe(true);
    }
    check(new Uint8Array([...encoder.encode('{"status":"OK",'), 0xff, ...encoder.encode('"data":{}}')]));
  });

  it('keeps a U+FEFF at the start of a value: only the one at the start of the body is a byte-order mark', () => {
    const scanner = createPageScanner();
    expect(check('{"status":"OK","next":"\uFEFF0"}', scanner)).toBe(true);
    expect(check('{"status":"OK","next":"\uFEFF1"}', scanner)).toBe(true);
    const rows = [row(1, { Username: '\uFEFFa@example.org', Data: '\uFEFF' }), row(2, { Time: '\uFEFF2025-03-09 10:00:00' })];
    expect(check(lastpassBody(rows), scanner)).toBe(true);
    // Interned: the repeat reads the same.
    expect(check(`\uFEFF${lastpassBody(rows)}`, scanner)).toBe(true);
  });

  it('reads a huge number for next without building it digit by digit', () => {
    const digits = '9'.repeat(8_000_000);
    const before = process.memoryUsage().heapUsed;
    expect(check(`{"status":"OK","next":${digits}.5e-7999990,"data":{}}`)).toBe(true);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('hands back every other shape, and readPage then gives the JSON.parse result or error', () => {
    const r = JSON.stringify(row(1));
    const declined = [
      JSON.stringify({ status: 'FAIL', error: 'Invalid request' }),
      JSON.stringify({ status: 'OK', data: { Event1: row(1) }, extra: 1 }),
      JSON.stringify({ status: 'OK', data: { Event1: { ...row(1), Extra: 'x' } } }),
      JSON.stringify({
        status: 'OK',
        data: { Event1: { Time: '2025-03-09 10:00:00', Username: null, IP_Address: 1, Action: 'Log in', Data: false } },
      }),
      JSON.stringify({ status: 'OK', data: { Event1: { Username: 'x' } } }),
      JSON.stringify({ status: 'OK', data: { Event2: row(1), Event1: row(2) } }),
      JSON.stringify({ status: 'OK', data: { 1: row(1), 0: row(2) } }),
      JSON.stringify({ status: 'OK', data: { a: row(1), b: row(2) } }),
      JSON.stringify({ status: 'OK', data: { Event01: row(1) } }),
      JSON.stringify({ status: 'OK', data: 'none' }),
      JSON.stringify({ status: 'OK', data: [1, 2] }),
      JSON.stringify([{ status: 'OK' }]),
      `{"status":"OK","status":"FAIL","data":{}}`,
      `{"status":"OK","data":{"Event1":${r},"Event1":${JSON.stringify(row(2))}}}`,
      `{"status":"OK","data":{"Event1":{"Time":"a","Time":"b","Username":"","IP_Address":"","Action":"","Data":""}}}`,
      `{"status":"OK","data":{"Event1":${r},}}`,
      `{"status":"OK","data":{"Event1":${r}}} x`,
      `{"status":"OK","data":{"Event1":${r}}}{}`,
      `{"status":"OK","data":{"Event1":{"Time":"2025-03-09\t10:00:00","Username":"","IP_Address":"","Action":"","Data":""}}}`,
      `{"status":"OK","data":{"Event1":{"Time":"\\x","Username":"","IP_Address":"","Action":"","Data":""}}}`,
      `{"\\u0073tatus":"OK","data":{}}`,
      `{"status":"\\u004fK","data":{}}`,
      `{'status':'OK'}`,
      '<?xml version="1.0" encoding="UTF-8"?>\n<lastpass rc="Authorization Error"/>',
      '<html><body>503</body></html>',
      '',
      '   ',
      '\u00a0{"status":"OK"}',
    ];
    for (const body of declined) expect(check(body), body.slice(0, 80)).toBe(false);
  });

  it('reads a key twice in one object as an error on both paths, never as the last value (an empty day)', () => {
    const r = JSON.stringify(row(1));
    const twice = [
      `{"status":"OK","next":null,"data":{"Event1":${r}},"data":{}}`,
      `{"status":"OK","data":{},"data":{"Event1":${r}}}`,
      `{"status":"OK","status":"OK","data":{"Event1":${r}}}`,
      `{"status":"OK","data":{"Event1":${r},"Event1":${r}}}`,
      `{"status":"OK","data":{"Event1":${r},"Ev\\u0065nt1":${r}}}`,
      `{"status":"OK","data":[${r},{"Time":"2025-03-09 10:00:00","Time":"2025-03-09 10:00:01","Username":"","IP_Address":"","Action":"","Data":""}]}`,
    ];
    for (const body of twice) {
      expect(check(body), body.slice(0, 80)).toBe(false);
      const outcome = reference(encoder.encode(body));
      expect('error' in outcome && outcome.error, body.slice(0, 80)).toMatch(/twice in one object/);
    }
    // Equal keys in different objects are no duplicate.
    expect(check(`{"status":"OK","data":{"Event1":${r},"Event2":${r}}}`)).toBe(true);
  });

  it('declines a truncated page at every byte, and readPage reports it as incomplete JSON', () => {
    const body = encoder.encode(lastpassBody([row(1), row(2, { Data: 'Zoë "q" \\ 😀' })], 1741539931));
    for (let cut = 0; cut < body.length; cut++) {
      const scanner = createPageScanner();
      expect(scanner.scan(body.subarray(0, cut)), `cut at ${cut}`).toBeNull();
      const outcome = viaReadPage(body.subarray(0, cut), scanner);
      expect(outcome).toEqual(reference(body.subarray(0, cut)));
      expect('error' in outcome).toBe(true);
    }
  });

  it('agrees with JSON.parse on seeded random pages and random byte damage', () => {
    const rand = mulberry32(20261124);
    const pick = <T>(list: readonly T[]) => list[Math.floor(rand() * list.length)]!;
    const alphabet = ['a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\t', '\u0001', 'é', '–', '😀', '\ud800', '<', '=', '@', '.', ':'];
    const text = () => Array.from({ length: Math.floor(rand() * 12) }, () => pick(alphabet)).join('');
    const scanner = createPageScanner();
    let taken = 0;
    for (let round = 0; round < 400; round++) {
      const rows = Array.from({ length: 1 + Math.floor(rand() * 20) }, () => ({
        Time: rand() < 0.9 ? `2025-03-09 1${Math.floor(rand() * 10)}:00:0${Math.floor(rand() * 10)}` : text(),
        Username: rand() < 0.7 ? pick(['a@x.org', 'b@x.org', 'c@x.org']) : text(),
        IP_Address: pick(['198.51.100.1', '203.0.113.9', '']),
        Action: rand() < 0.8 ? pick(['Log in', 'Failed Login Attempt', 'Form Filled']) : text(),
        Data: text(),
      }));
      const body = encoder.encode(lastpassBody(rows, pick([null, 1741539931.25, '17', 0])));
      if (check(body, scanner)) taken++;
      // Damage: flip, drop or insert one byte; the scanner must never take what JSON.parse would read otherwise.
      const damaged = Uint8Array.from(body);
      const at = Math.floor(rand() * damaged.length);
      const kind = rand();
      const mutated =
        kind < 0.4
          ? Object.assign(damaged, { [at]: pick([0x22, 0x5c, 0x2c, 0x7d, 0x3a, 0x20, 0x00, 0xff, 0x41]) })
          : kind < 0.7
            ? new Uint8Array([...damaged.subarray(0, at), ...damaged.subarray(at + 1)])
            : new Uint8Array([...damaged.subarray(0, at), pick([0x22, 0x5c, 0x20, 0x2c, 0x7b, 0xc3]), ...damaged.subarray(at)]);
      check(mutated, scanner);
    }
    // The generated pages are mostly well formed: most of them went through the scanner itself.
    expect(taken).toBeGreaterThan(300);
  });

  it('stays exact when far more distinct values arrive than its intern table holds', () => {
    const scanner = createPageScanner();
    for (let page = 0; page < 8; page++) {
      const rows = Array.from({ length: 10_000 }, (_, i) =>
        row(i, {
          Username: `u${page}-${i}@example.org`,
          Data: `${'d'.repeat(i % 250)}${page}-${i}`,
          IP_Address: `10.${page}.${i >> 8}.${i & 255}`,
        }),
      );
      expect(check(lastpassBody(rows), scanner)).toBe(true);
    }
  });

  it('tells apart different values whose hashes collide', () => {
    const hash = (text: string) => {
      const bytes = encoder.encode(text);
      return hashBytes(bytes, new DataView(bytes.buffer), 0, bytes.length);
    };
    // Found by search: two pairs with the same hash, one of different lengths and one of the same length.
    const pairs = [
      ['u8f2@x.org', 'u6505@x.org'],
      ['fb2dwcngl9ru', '1q2587kaj83e'],
    ] as const;
    for (const [a, b] of pairs) {
      expect(hash(a)).toBe(hash(b));
      const scanner = createPageScanner();
      const rows = [row(1, { Username: a, Data: b }), row(2, { Username: b, Data: a }), row(3, { Username: a, Data: a })];
      expect(check(lastpassBody(rows), scanner)).toBe(true);
      expect(copyRows(scanner.scan(encoder.encode(lastpassBody(rows)))!.rows).map((r) => [r.Username, r.Data])).toEqual([
        [a, b],
        [b, a],
        [a, a],
      ]);
    }
  });
});

describe('reading a body (readBodyBytes)', () => {
  const chunksOf = (text: string, size: number) => {
    const all = encoder.encode(text);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < all.length; i += size) chunks.push(all.slice(i, i + size));
    return chunks;
  };
  const streamOf = (chunks: Uint8Array[], failAfter = -1) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        chunks.forEach((c, i) => {
          if (i === failAfter) controller.error(new Error('socket hang up'));
          else if (failAfter < 0 || i < failAfter) controller.enqueue(c);
        });
        if (failAfter < 0) controller.close();
      },
    });
  const body = lastpassBody(Array.from({ length: 50 }, (_, i) => row(i, { Data: `Zoë ${i} 😀` })));

  it('gives exactly the bytes arrayBuffer() gives, whatever the announced length says', async () => {
    const exact = encoder.encode(body).length;
    for (const headers of [
      { 'content-length': String(exact) },
      { 'content-length': String(exact - 100) }, // more than announced: all of it
      { 'content-length': String(exact + 100) }, // less than announced: what came
      { 'content-length': String(exact), 'content-encoding': 'identity' },
      { 'content-length': 'x' },
      {},
    ]) {
      for (const size of [1, 7, 1000, exact]) {
        const read = await readBodyBytes(new Response(streamOf(chunksOf(body, size)), { headers }), CTX.url);
        const reference = new Uint8Array(await new Response(streamOf(chunksOf(body, size)), { headers }).arrayBuffer());
        expect(Buffer.from(read).equals(Buffer.from(reference)), `${JSON.stringify(headers)} in chunks of ${size}`).toBe(true);
        expect(decodeBody(read)).toBe(body.length === 0 ? '' : decodeBody(reference));
      }
    }
  });

  it('fails as the stream fails (a reset mid-body is not a short page)', async () => {
    const chunks = chunksOf(body, 100);
    const exact = encoder.encode(body).length;
    await expect(
      readBodyBytes(new Response(streamOf(chunks, 3), { headers: { 'content-length': String(exact) } }), CTX.url),
    ).rejects.toThrow('socket hang up');
  });

  it('refuses more than the limit, announced or not, and stops reading', async () => {
    const exact = encoder.encode(body).length;
    const limit = exact - 1;
    for (const headers of [{ 'content-length': String(exact) }, {}, { 'content-length': '10' }]) {
      let pulled = 0;
      const chunks = chunksOf(body, 100);
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pulled < chunks.length) controller.enqueue(chunks[pulled++]!);
          else controller.close();
        },
      });
      const error = await readBodyBytes(new Response(stream, { headers }), CTX.url, limit).catch((e: unknown) => e);
      expect(error, JSON.stringify(headers)).toBeInstanceOf(UpstreamError);
      expect((error as UpstreamError).retryable).toBe(false);
      expect((error as Error).message).toMatch(/more than \d+ bytes/);
      if (headers['content-length'] === String(exact)) expect(pulled).toBeLessThanOrEqual(1);
    }
    // Exactly the limit is fine.
    const read = await readBodyBytes(new Response(streamOf(chunksOf(body, 100)), { headers: {} }), CTX.url, exact);
    expect(decodeBody(read)).toBe(body);
  });
});
