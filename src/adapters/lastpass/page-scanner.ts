/**
 * The fast path for a `reporting` page: reads the rows straight from the response bytes into reused row
 * objects, without building an object per row or a new string per value. A million events a day are
 * mostly repeats (the same users, IPs, action names, seconds and `Data` values), so each value is looked
 * up by its bytes in an intern table and only a value not seen before becomes a new string.
 *
 * It accepts only the shape LastPass sends, `{"status":"OK","next":…,"data":{"Event1":{five strings},…}}`
 * (or `data` as an array, `{}`, `[]`, `null`, missing), strictly as JSON. Anything else (an error status,
 * other keys, a missing or non-string field, keys out of sequence, truncated or invalid JSON) makes it
 * return null, and the caller parses the page with `JSON.parse` (`parseReportingResponse`), which gives the
 * same rows or the error. So for every page it accepts, the rows, their order and `next` are exactly what
 * `parseReportingResponse` would give for the same bytes; `test/page-scanner.test.ts` checks that.
 *
 * Kept by measurement, not habit (bench/README.md, "The byte scanner: kept by measurement"): with LastPass
 * answering each page after 300 ms, a day of a million events costs 15 % less CPU and 35 % less peak RSS
 * than with `JSON.parse` (whose run misses the 256 MiB target), at the same wall time. The client's
 * `pageReader: 'json-parse'` runs without it, for the bench.
 *
 * Over 400 lines on purpose: one state machine over a page's bytes, whose intern table, cursor and row
 * reader share their state in one closure so that the hot path passes nothing around; split into modules,
 * that state would have to travel between them on every value.
 */

import type { RawEvent } from '../../core/types.js';

export interface ScannedPage {
  /** The rows in the order of the response (the same shape `JSON.parse` gives). */
  rows: RawEvent[];
  next: string | null;
}

export interface PageScanner {
  /**
   * The rows of a page, or null when the bytes are not a plain OK page (parse them with JSON.parse then).
   * The row objects are reused by the next call: read them before scanning the next page, keep none.
   */
  scan(bytes: Uint8Array): ScannedPage | null;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/**
 * Values are decoded one by one: a U+FEFF at the start of a value is text, not a byte-order mark (the one
 * at the start of the body is skipped by hand, as the whole-body decoder drops it).
 */
const UTF8 = new TextDecoder('utf-8', { ignoreBOM: true });
/** Node's Latin-1 decoder of a byte range (Buffer's own, usable on any Uint8Array); UTF-8 if it is gone. */
const latin1Slice: (this: Uint8Array, start: number, end: number) => string =
  (Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string }).latin1Slice ??
  function (this: Uint8Array, start: number, end: number) {
    return UTF8.decode(this.subarray(start, end));
  };

/** Values longer than this are decoded each time instead of interned (long `Data` is rarely repeated). */
const INTERN_MAX_BYTES = 256;
/** Distinct values kept; when the table is full it starts again (bounded memory for hostile input). */
const INTERN_MAX_ENTRIES = 30_000;

/** Slots of the open-addressing table: a power of two, at least twice the entries. */
const SLOTS = 1 << 16;
const SLOT_MASK = SLOTS - 1;
/** Bytes of all interned values together (at most 2 MB). */
const ARENA_BYTES = 2 << 20;
/** Slots of the "seen once" filter: a value is interned when it comes again. */
const SEEN_SLOTS = 1 << 16;
const SEEN_MASK = SEEN_SLOTS - 1;
/** Slots looked at before a value is decoded without interning. */
const MAX_PROBES = 32;

// Field identifiers in the row object.
const F_TIME = 0;
const F_USERNAME = 1;
const F_IP = 2;
const F_ACTION = 3;
const F_DATA = 4;
const ALL_FIELDS = 0b11111;
const EVEN_LE = 0x6e657645; // "Even" read as a little-endian int32
/** The row keys as LastPass orders them, quoted and with their colon (indexed by field). */
const KEYS_IN_ORDER = ['Time', 'Username', 'IP_Address', 'Action', 'Data'].map((k) => new TextEncoder().encode(`"${k}":`));

/**
 * The intern table's hash of bytes [start, end) of `bytes` (`view` is a DataView of the same bytes):
 * FNV-1a over four bytes at a time (unaligned little-endian reads), then the rest one by one, then mixed so
 * that the low bits, which pick the slot, depend on all of them. Exported for tests.
 */
export function hashBytes(bytes: Uint8Array, view: DataView, start: number, end: number): number {
  let h = 0x811c9dc5 | 0;
  let i = start;
  for (; i + 4 <= end; i += 4) h = Math.imul(h ^ view.getInt32(i, true), 0x01000193);
  for (; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h;
}

export function createPageScanner(): PageScanner {
  // The intern table: open addressing over SLOTS slots of [hash, entry number] (entry 0 = empty slot);
  // entry e's bytes are arena[meta[2e], + meta[2e + 1]) and its text entryText[e].
  const slots = new Int32Array(2 * SLOTS); // [hash, entry] per slot
  /** Hashes of values seen once and not interned yet (one per slot of its own: a collision only delays). */
  const seenOnce = new Int32Array(SEEN_SLOTS);
  const meta = new Int32Array(2 * INTERN_MAX_ENTRIES); // [arena start, length] per entry
  const entryText: string[] = [];
  const arena = new Uint8Array(ARENA_BYTES);
  const arenaView = new DataView(arena.buffer);
  let entries = 0;
  let arenaUsed = 0;
  /** The row objects, reused from page to page; `count` of them hold the page being read. */
  const rows: RawEvent[] = [];
  let count = 0;

  // Scanner state for the page being read.
  let b: Uint8Array = new Uint8Array(0);
  let bv = new DataView(b.buffer);
  let n = 0;
  let p = 0;
  /** Where the previous row's Time is in this page (length -1: none yet). */
  let prevTimeStart = 0;
  let prevTimeLen = -1;
  /** Set by readString: 1 = has escapes, 2 = has non-ASCII bytes. */
  let flags = 0;

  // Reads at or past the end (b[p] with p >= n) give undefined, which equals no byte value and compares
  // false with every number: each check below then fails, and the scan declines the page.
  const skipWs = () => {
    if (b[p]! > 0x20) return;
    while (p < n) {
      const c = b[p]!;
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      p++;
    }
  };

  /** At an opening quote: moves past the closing one; returns the end of the content, or -1. */
  const readString = (): number => {
    const buf = b;
    const end = n;
    if (buf[p] !== QUOTE) return -1;
    let i = p + 1;
    let f = 0;
    for (;;) {
      if (i >= end) return -1;
      const c = buf[i]!;
      // Most bytes are letters (above the backslash): one comparison for them.
      if (c > BACKSLASH) {
        if (c >= 0x80) f |= 2;
        i++;
        continue;
      }
      if (c === QUOTE) break;
      if (c < 0x20) return -1;
      if (c === BACKSLASH) {
        f |= 1;
        i += 2;
        continue;
      }
      i++;
    }
    flags = f;
    p = i + 1;
    return i;
  };

  /** The text of the string whose content is [start, end) (flags from readString); null when invalid. */
  const decode = (start: number, end: number, f: number): string | null => {
    // ASCII: Latin-1 is the same text and the quicker decoder.
    if (f === 0) return latin1Slice.call(b, start, end);
    if ((f & 1) === 0) return UTF8.decode(b.subarray(start, end));
    try {
      // Escapes: JSON's own reading of the string, quotes included.
      return JSON.parse(UTF8.decode(b.subarray(start - 1, end + 1))) as string;
    } catch {
      return null;
    }
  };

  /** The string for the value just read by readString ([start, end)), shared with earlier equal values. */
  const intern = (start: number, end: number): string | null => {
    const len = end - start;
    if (len === 0) return '';
    if (len > INTERN_MAX_BYTES) return decode(start, end, flags);
    const buf = b;
    // Equal values always meet; different ones with the same hash are told apart by length and bytes.
    const h = hashBytes(buf, bv, start, end);
    let slot = h & SLOT_MASK;
    for (let probes = 0; ; probes++) {
      const e = slots[2 * slot + 1]!;
      if (e === 0) break;
      // Many values with the same hash (hostile input?): decode this one rather than search further.
      if (probes === MAX_PROBES) return decode(start, end, flags);
      if (slots[2 * slot] === h && meta[2 * e + 1] === len) {
        const delta = meta[2 * e]! - start;
        let i = start;
        while (i + 4 <= end && arenaView.getInt32(i + delta, true) === bv.getInt32(i, true)) i += 4;
        while (i < end && arena[i + delta] === buf[i]) i++;
        if (i === end) return entryText[e]!;
      }
      slot = (slot + 1) & SLOT_MASK;
    }
    const text = decode(start, end, flags);
    if (text === null) return null;
    // Interned on its second sighting only: a value seen once (an attack day's hundreds of thousands of
    // distinct users and IPs) would sit in the table until it starts again, long enough to reach V8's old
    // generation as garbage; measured (bench --attack 100000): V8 heap total 100 → 65 MB at the end of the fetch.
    const seenAt = h & SEEN_MASK;
    if (seenOnce[seenAt] !== h) {
      seenOnce[seenAt] = h;
      return text;
    }
    if (entries + 1 >= INTERN_MAX_ENTRIES || arenaUsed + len > arena.length) {
      // Full: start again (hostile input cannot grow it).
      slots.fill(0);
      entries = 0;
      arenaUsed = 0;
      slot = h & SLOT_MASK;
    }
    const e = ++entries;
    slots[2 * slot] = h;
    slots[2 * slot + 1] = e;
    meta[2 * e] = arenaUsed;
    meta[2 * e + 1] = len;
    entryText[e] = text;
    arena.set(buf.subarray(start, end), arenaUsed);
    arenaUsed += len;
    return text;
  };

  /** Which row field a key [start, end) names (-1: none of the five). */
  const fieldOf = (start: number, end: number): number => {
    const len = end - start;
    if (len === 4) return equalsAscii(start, 'Time') ? F_TIME : equalsAscii(start, 'Data') ? F_DATA : -1;
    if (len === 8) return equalsAscii(start, 'Username') ? F_USERNAME : -1;
    if (len === 10) return equalsAscii(start, 'IP_Address') ? F_IP : -1;
    if (len === 6) return equalsAscii(start, 'Action') ? F_ACTION : -1;
    return -1;
  };

  /** Are the bytes at [other, +end-start) the same as [start, end) of this page? */
  const sameBytes = (other: number, start: number, end: number): boolean => {
    const view = bv;
    const delta = other - start;
    let i = start;
    while (i + 4 <= end && view.getInt32(i + delta, true) === view.getInt32(i, true)) i += 4;
    while (i < end && b[i + delta] === b[i]) i++;
    return i === end;
  };

  const startsWith = (start: number, key: Uint8Array): boolean => {
    const buf = b;
    if (start + key.length > n) return false;
    for (let i = 0; i < key.length; i++) if (buf[start + i] !== key[i]) return false;
    return true;
  };

  const equalsAscii = (start: number, text: string): boolean => {
    for (let i = 0; i < text.length; i++) if (b[start + i] !== text.charCodeAt(i)) return false;
    return true;
  };

  /** One row object, into row `index`. False when it is not five string fields. */
  const readRow = (index: number): boolean => {
    if (b[p] !== 0x7b) return false;
    p++;
    let row = rows[index];
    if (row === undefined) rows[index] = row = { Time: '', Username: '', IP_Address: '', Action: '', Data: '' };
    let seen = 0;
    let member = 0;
    skipWs();
    if (b[p] === 0x7d) return false;
    for (;;) {
      skipWs();
      let field: number;
      if (member < 5 && startsWith(p, KEYS_IN_ORDER[member]!)) {
        // The usual layout: `"Time":`, `"Username":`, … in this order, without spaces.
        field = member;
        p += KEYS_IN_ORDER[member]!.length;
      } else {
        const keyStart = p + 1;
        const keyEnd = readString();
        if (keyEnd < 0 || flags !== 0) return false;
        field = fieldOf(keyStart, keyEnd);
        if (field < 0) return false;
        skipWs();
        if (b[p] !== 0x3a) return false;
        p++;
      }
      if ((seen & (1 << field)) !== 0) return false;
      seen |= 1 << field;
      member++;
      skipWs();
      const start = p + 1;
      const end = readString();
      if (end < 0) return false;
      let text: string | null;
      if (field !== F_TIME) {
        text = intern(start, end);
        if (text === null) return false;
      } else if (end - start === prevTimeLen && sameBytes(prevTimeStart, start, end)) {
        // Rows come newest first, many in the same second: the row above has the same Time.
        text = rows[index - 1]!.Time;
      } else {
        // A new second: not interned (it would only push the repeated values out of the table).
        text = decode(start, end, flags);
        if (text === null) return false;
        prevTimeStart = start;
        prevTimeLen = end - start;
      }
      if (field === F_TIME) row.Time = text;
      else if (field === F_USERNAME) row.Username = text;
      else if (field === F_IP) row.IP_Address = text;
      else if (field === F_ACTION) row.Action = text;
      else row.Data = text;
      skipWs();
      const c = b[p];
      p++;
      if (c === 0x2c) continue;
      if (c === 0x7d) return seen === ALL_FIELDS;
      return false;
    }
  };

  /** Is [start, end) the key `Event<expected>` (canonical decimal)? */
  const isEventKey = (start: number, end: number, expected: number): boolean => {
    // "Event" is 45 76 65 6e 74: one four-byte read and one byte.
    if (end - start < 6 || bv.getInt32(start, true) !== EVEN_LE || b[start + 4] !== 0x74) return false;
    if (b[start + 5] === 0x30) return false; // no leading zero
    let value = 0;
    for (let i = start + 5; i < end; i++) {
      const d = b[i]! - 0x30;
      if (d < 0 || d > 9) return false;
      value = value * 10 + d;
    }
    return value === expected;
  };

  /** The `data` value: an object of Event1..EventN rows, an array of rows, or null. False when it is not. */
  const readData = (): boolean => {
    const open = b[p];
    if (open === 0x6e) {
      if (!literal('null')) return false;
      count = 0;
      return true;
    }
    if (open !== 0x7b && open !== 0x5b) return false;
    const isArray = open === 0x5b;
    const close = isArray ? 0x5d : 0x7d;
    p++;
    skipWs();
    let read = 0;
    if (b[p] === close) {
      p++;
      count = 0;
      return true;
    }
    for (;;) {
      skipWs();
      if (!isArray) {
        const keyStart = p + 1;
        const keyEnd = readString();
        if (keyEnd < 0 || flags !== 0 || !isEventKey(keyStart, keyEnd, read + 1)) return false;
        skipWs();
        if (b[p] !== 0x3a) return false;
        p++;
        skipWs();
      }
      if (!readRow(read)) return false;
      read++;
      skipWs();
      const c = b[p];
      p++;
      if (c === 0x2c) continue;
      if (c === close) break;
      return false;
    }
    count = read;
    return true;
  };

  const literal = (word: string): boolean => {
    if (p + word.length > n || !equalsAscii(p, word)) return false;
    p += word.length;
    return true;
  };

  /** A JSON number (strict grammar); returns its value, or NaN when the text is not one. */
  const readNumber = (): number => {
    const start = p;
    if (b[p] === 0x2d) p++;
    if (b[p] === 0x30) p++;
    else if (!digitsAt()) return NaN;
    if (b[p] === 0x2e) {
      p++;
      if (!digitsAt()) return NaN;
    }
    if (b[p] === 0x65 || b[p] === 0x45) {
      p++;
      if (b[p] === 0x2b || b[p] === 0x2d) p++;
      if (!digitsAt()) return NaN;
    }
    return Number(latin1Slice.call(b, start, p));
  };

  const digitsAt = (): boolean => {
    const start = p;
    while (p < n && b[p]! >= 0x30 && b[p]! <= 0x39) p++;
    return p > start;
  };

  /** `next` as parseReportingResponse reads it (undefined: a value it does not take on this path). */
  const readNext = (): string | null | undefined => {
    const c = b[p];
    if (c === 0x6e) return literal('null') ? null : undefined;
    if (c === 0x66) return literal('false') ? null : undefined;
    if (c === 0x74) return literal('true') ? 'true' : undefined;
    if (c === QUOTE) {
      const start = p + 1;
      const end = readString();
      if (end < 0) return undefined;
      const text = decode(start, end, flags);
      if (text === null) return undefined;
      return text === '' || text === '0' ? null : text;
    }
    const value = readNumber();
    if (Number.isNaN(value)) return undefined;
    return value === 0 ? null : String(value);
  };

  return {
    scan(bytes) {
      b = bytes;
      bv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      n = bytes.length;
      p = 0;
      prevTimeLen = -1;
      count = 0;
      try {
        if (n >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) p = 3;
        skipWs();
        if (b[p] !== 0x7b) return null;
        p++;
        let statusOk = false;
        let next: string | null = null;
        let seen = 0;
        skipWs();
        if (b[p] === 0x7d) return null;
        for (;;) {
          skipWs();
          const keyStart = p + 1;
          const keyEnd = readString();
          if (keyEnd < 0 || flags !== 0) return null;
          const len = keyEnd - keyStart;
          const key =
            len === 6 && equalsAscii(keyStart, 'status')
              ? 1
              : len === 4 && equalsAscii(keyStart, 'next')
                ? 2
                : len === 4 && equalsAscii(keyStart, 'data')
                  ? 4
                  : 0;
          if (key === 0 || (seen & key) !== 0) return null;
          seen |= key;
          skipWs();
          if (b[p] !== 0x3a) return null;
          p++;
          skipWs();
          if (key === 1) {
            const start = p + 1;
            const end = readString();
            if (end !== start + 2 || b[start] !== 0x4f || b[start + 1] !== 0x4b) return null; // "OK"
            statusOk = true;
          } else if (key === 2) {
            const value = readNext();
            if (value === undefined) return null;
            next = value;
          } else if (!readData()) {
            return null;
          }
          skipWs();
          const c = b[p];
          p++;
          if (c === 0x2c) continue;
          if (c === 0x7d) break;
          return null;
        }
        skipWs();
        if (p !== n || !statusOk) return null;
        if ((seen & 4) === 0) count = 0;
        // A short page after a longer one: drop the longer one's rows, so their values are not kept alive.
        if (rows.length > count) rows.length = count;
        return { rows, next };
      } finally {
        // Do not keep the page's bytes alive until the next scan.
        b = new Uint8Array(0);
        bv = new DataView(b.buffer);
        n = 0;
      }
    },
  };
}
