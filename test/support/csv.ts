/** Reading CSV attachments back in tests, as a spreadsheet parses RFC 4180. */
import { expect } from 'vitest';

/** RFC 4180 records of a CSV text (CRLF line ends, "" for a quote inside a quoted cell). */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let cell = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 2;
      } else if (c === '"') {
        quoted = false;
        i++;
      } else {
        cell += c;
        i++;
      }
    } else if (c === '"' && cell === '') {
      quoted = true;
      i++;
    } else if (c === ',') {
      record.push(cell);
      cell = '';
      i++;
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(cell);
      records.push(record);
      record = [];
      cell = '';
      i += 2;
    } else {
      cell += c;
      i++;
    }
  }
  expect(cell).toBe('');
  expect(record).toEqual([]);
  return records;
}
