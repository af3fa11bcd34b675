/**
 * Structured logs: one JSON object per line, a static message and fields.
 * Every string that goes out passes through the redactor, so a secret that slipped into a field or an
 * error message is replaced by "[redacted]".
 */
import { createSecretRedactor } from './adapters/http/redact.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * Replaces every secret (at least 4 characters long), in every form it can be echoed in, and the
 * value-free secret patterns (provhash field, bearer tokens, URL credentials) by "[redacted]": the one
 * redactor, src/adapters/http/redact.ts.
 */
export function createRedactor(secrets: readonly (string | undefined)[]): (text: string) => string {
  return createSecretRedactor(secrets);
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where each line goes (without its newline): main.ts hands in the real stderr, tests a recorder. */
  write: (line: string) => void;
  redact?: (text: string) => string;
  now?: () => Date;
}

export function createLogger(options: LoggerOptions): Logger {
  const min = ORDER[options.level ?? 'info'];
  const write = options.write;
  const redact = options.redact ?? ((t: string) => t);
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, message: string, fields?: LogFields) => {
    if (ORDER[level] < min) return;
    const record = { time: now().toISOString(), level, msg: message, ...fields };
    write(redact(JSON.stringify(record, errorReplacer)));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
