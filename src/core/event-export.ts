/**
 * The full list of security-relevant events, as CSV and JSON attachments. Event text is attacker-
 * influenced: CSV cells that a spreadsheet would run as a formula (starting with =, +, -, @, tab or CR,
 * also after leading spaces) are neutralised with a leading apostrophe, and every cell is quoted as RFC 4180
 * requires.
 */
import { createLocalSecondFormatter, formatUtc } from './display-time.js';
import type { ClassifiedEvent } from './types.js';

const FORMULA_START = /^[\s]*[=+\-@\t\r]/;

export function neutraliseCell(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

export function csvCell(value: string): string {
  const safe = neutraliseCell(value);
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export const CSV_COLUMNS = ['time_utc', 'time_local', 'severity', 'category', 'username', 'ip_address', 'action', 'data', 'note'] as const;

export function eventsToCsv(events: readonly ClassifiedEvent[], timeZone: string): string {
  const lines = [CSV_COLUMNS.join(',')];
  const local = createLocalSecondFormatter(timeZone);
  for (const e of events) {
    lines.push(
      [formatUtc(e.at), local(e.at), e.severity, e.category, e.username, e.ip, e.action, e.data, e.note ?? '']
        .map(csvCell)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

export function eventsToJson(events: readonly ClassifiedEvent[]): string {
  return JSON.stringify(
    events.map((e) => ({
      time: formatUtc(e.at),
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
}
