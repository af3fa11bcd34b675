import { createLogger, type Logger } from '../../src/logger.js';

/** A real logger whose lines are kept for assertions. */
export function recordingLogger(): Logger & { lines: string[]; records: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => lines.push(line) });
  return Object.assign(logger, { lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) });
}
