/**
 * The CSV and JSON attachments: hostile cells are neutralised and quoted, and the file reads back (as a
 * spreadsheet would parse RFC 4180) to exactly the events as shown (invisible characters as ⟨U+200B⟩), cell
 * by cell; the JSON reads back to exactly the events.
 */
import { describe, expect, it } from 'vitest';
import { formatLocalSecond, formatUtc } from '../src/core/display-time.js';
import { CSV_COLUMNS, csvCell, eventsToCsv, eventsToJson } from '../src/core/event-export.js';
import type { ClassifiedEvent } from '../src/core/types.js';
import { visibleText } from '../src/core/visible-text.js';
import { mulberry32 } from '../src/simulator/demo-day.js';
import { parseCsv } from './support/csv.js';

const FORMULA = /^\s*[=+\-@\t\r]/;
const expectedCell = (value: string) => (FORMULA.test(value) ? `'${value}` : value);

describe('event attachments', () => {
  it('neutralises formula cells (also after spaces) and quotes what RFC 4180 requires, and nothing else', () => {
    expect(csvCell('plain text')).toBe('plain text');
    expect(csvCell('=HYPERLINK("http://evil.example","click")')).toBe(`"'=HYPERLINK(""http://evil.example"",""click"")"`);
    expect(csvCell('  +1')).toBe("'  +1");
    // Controls are shown as their code points (core/visible-text.ts): a tab or CR no longer starts a cell.
    expect(csvCell('\t-2')).toBe('⟨U+0009⟩-2');
    expect(csvCell('\r@x')).toBe('⟨U+000D⟩@x');
    expect(csvCell('\u200b=cmd')).toBe('⟨U+200B⟩=cmd');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('line\nbreak')).toBe('line⟨U+000A⟩break');
    expect(csvCell('-\u200b1,2')).toBe(`"'-⟨U+200B⟩1,2"`);
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('a-b=c')).toBe('a-b=c');
    expect(csvCell('')).toBe('');
  });

  it('reads back to exactly the events, cell by cell, for seeded hostile text', () => {
    const rand = mulberry32(7);
    const pieces = [
      '=',
      '+',
      '-',
      '@',
      '\t',
      '\r',
      '\n',
      ' ',
      '"',
      ',',
      "'",
      'a',
      'Zoë',
      '<b>',
      '😀',
      'cmd|',
      '\u200b',
      '\u00ad',
      '\u{e0041}',
      '\u202e',
      '\u00a0',
    ];
    const text = () => Array.from({ length: Math.floor(rand() * 6) }, () => pieces[Math.floor(rand() * pieces.length)]).join('');
    const base = Date.UTC(2025, 2, 9, 17, 5, 31);
    const events: ClassifiedEvent[] = Array.from({ length: 300 }, (_, i) => ({
      at: base - i * 61_000,
      wall: '2025-03-09 13:05:31',
      username: text(),
      ip: text(),
      action: text(),
      data: text(),
      category: 'Sign-in',
      severity: (['high', 'medium', 'low', 'info'] as const)[i % 4]!,
      note: i % 2 ? text() : '',
    }));
    const zone = 'Asia/Kolkata';
    const [header, ...rows] = parseCsv(eventsToCsv(events, zone));
    expect(header).toEqual([...CSV_COLUMNS]);
    expect(rows).toEqual(
      events.map((e) =>
        [formatUtc(e.at), formatLocalSecond(e.at, zone), e.severity, e.category, e.username, e.ip, e.action, e.data, e.note ?? ''].map(
          (v) => expectedCell(visibleText(v)),
        ),
      ),
    );
    // The JSON keeps the exact text, every invisible character written as a \u escape.
    const jsonText = eventsToJson(events);
    expect(jsonText).not.toMatch(/[\u200b\u00ad\u202e\u00a0\u{e0041}]/u);
    expect(jsonText).toContain('\\u200b');
    const json = JSON.parse(jsonText) as Record<string, string>[];
    expect(json.map((x) => [x.time, x.lastpassTime, x.username, x.data, x.note])).toEqual(
      events.map((e) => [formatUtc(e.at), e.wall, e.username, e.data, e.note ? e.note : undefined]),
    );
  });
});
