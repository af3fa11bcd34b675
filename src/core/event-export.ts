/**
 * The full list of security-relevant events, as CSV and JSON attachments. Event text is attacker-
 * influenced: CSV cells that a spreadsheet would run as a formula (starting with =, +, -, @, tab or CR,
 * also after leading spaces) are neutralised with a leading apostrophe, and every cell is quoted as RFC 4180
 * requires. Invisible characters: the CSV shows them as `⟨U+200B⟩` (what a spreadsheet displays is what
 * people compare), the JSON keeps the exact text with them written as `\u200b` escapes (core/visible-text.ts).
 */
import { createLocalSecondFormatter, createUtcSecondFormatter } from './display-time.js';
import type { ClassifiedEvent } from './types.js';
import { escapeInvisibleInJson, visibleText } from './visible-text.js';

const FORMULA_START = /^[\s]*[=+\-@\t\r]/;
/** A cell that needs neither the apostrophe nor quotes (most of them): used as it is. */
const NEEDS_CARE = /^[\s]*[=+\-@\t\r]|[",\r\n]/;

export function neutraliseCell(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

export function csvCell(text: string): string {
  const value = visibleText(text);
  if (!NEEDS_CARE.test(value)) return value;
  const safe = neutraliseCell(value);
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export const CSV_COLUMNS = ['time_utc', 'time_local', 'severity', 'category', 'username', 'ip_address', 'action', 'data', 'note'] as const;

export function eventsToCsv(events: readonly ClassifiedEvent[], timeZone: string): string {
  const lines = [CSV_COLUMNS.join(',')];
  const local = createLocalSecondFormatter(timeZone);
  const utc = createUtcSecondFormatter();
  for (const e of events) {
    // The severity is ours and never needs quoting.
    lines.push(
      `${csvCell(utc(e.at))},${csvCell(local(e.at))},${e.severity},${csvCell(e.category)},${csvCell(e.username)},${csvCell(e.ip)},${csvCell(e.action)},${csvCell(e.data)},${csvCell(e.note ?? '')}`,
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

export function eventsToJson(events: readonly ClassifiedEvent[]): string {
  const utc = createUtcSecondFormatter();
  const json = JSON.stringify(
    events.map((e) => ({
      time: utc(e.at),
      lastpassTime: e.wall,
      severity: e.severity,
      category: e.category,
      username: e.username,
      ipAddress: e.ip,
      action: e.action,
      data: e.data,
      ...(e.note ? { note: e.note } : {}),
    })),
    null,
    1,
  );
  return escapeInvisibleInJson(json);
}
