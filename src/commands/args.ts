/** Parsing of the commands' flag values; bad values are usage errors (ConfigError, exit 2). */
import { ConfigError } from '../errors.js';

export function parseInstant(value: string | undefined, flag: string): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  if (Number.isNaN(d.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(value)) {
    throw new ConfigError([
      `${flag} "${value}" is not an ISO-8601 time: use e.g. 2025-03-09T07:00:00Z (or a date, 2025-03-09, meaning midnight UTC).`,
    ]);
  }
  return d;
}

/** A real calendar day written YYYY-MM-DD. */
export function isDay(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const ms = Date.parse(`${value}T00:00:00Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === value;
}

export function parseDay(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (!isDay(value))
    throw new ConfigError([`${flag} "${value}" is not a day: use YYYY-MM-DD (the day of the digest window, in REPORT_TIMEZONE).`]);
  return value;
}
