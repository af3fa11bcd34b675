/**
 * The progress bar owns the terminal while it shows: a log line or a result line written meanwhile clears
 * the bar line, prints, and redraws the bar below it. Checked on a fake terminal that interprets what the
 * bar writes, directly and through a whole `backfill` with debug logging.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/commands/dispatch.js';
import { createProgressBar, renderBar } from '../src/commands/progress-bar.js';
import { createLogger } from '../src/logger.js';
import { generateDemoDay } from '../src/simulator/demo-day.js';
import { createLastPassSimulator, type LastPassSimulator } from '../src/simulator/lastpass-simulator.js';
import { createTestIo } from './support/command-io.js';
import { createFakeTerminal } from './support/fake-terminal.js';

const isJson = (line: string) => {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
};

describe('the progress bar', () => {
  it('renders done of total with a label, clamped', () => {
    expect(renderBar(0, 4, 'a', 8)).toBe('[--------] 0/4 a');
    expect(renderBar(2, 4, 'b', 8)).toBe('[####----] 2/4 b');
    expect(renderBar(9, 4, 'c', 8)).toBe('[########] 9/4 c');
  });

  it('keeps log lines whole and the bar as the last line while it shows; stop removes it', () => {
    const term = createFakeTerminal();
    const bar = createProgressBar(term.writer, { width: 8 });
    const logger = createLogger({ level: 'debug', write: (line) => bar.wrap(term.writer).write(`${line}\n`), now: () => new Date(0) });
    bar.update(0, 2, 'day 1');
    logger.info('one', { n: 1 });
    logger.warn('two', { n: 2 });
    bar.update(1, 2, 'day 1');
    bar.wrap(term.writer).write('day 1  done\n');
    bar.update(1, 2, 'day 2');
    logger.info('three', {});
    expect(term.lines()).toEqual([
      '{"time":"1970-01-01T00:00:00.000Z","level":"info","msg":"one","n":1}',
      '{"time":"1970-01-01T00:00:00.000Z","level":"warn","msg":"two","n":2}',
      'day 1  done',
      '{"time":"1970-01-01T00:00:00.000Z","level":"info","msg":"three"}',
      '[####----] 1/2 day 2',
    ]);
    bar.stop();
    expect(term.lines().at(-1)).toBe('');
    bar.wrap(term.writer).write('after\n');
    expect(term.lines().slice(-2)).toEqual(['after', '']);
  });

  it('waits for the end of a line written in pieces before drawing itself again', () => {
    const term = createFakeTerminal();
    const bar = createProgressBar(term.writer, { width: 4 });
    const out = bar.wrap(term.writer);
    bar.update(0, 1, 'x');
    out.write('part one, ');
    bar.update(0, 1, 'y'); // not glued to the unfinished line
    out.write('part two\n');
    expect(term.lines()).toEqual(['part one, part two', '[----] 0/1 y']);
  });
});

describe('backfill on a terminal', () => {
  const SECRET = 'bar-secret-1a2b3c4d';
  let simulator: LastPassSimulator;
  let dir: string;
  beforeAll(async () => {
    simulator = await createLastPassSimulator({
      accountNumber: '8771234',
      apiSecret: SECRET,
      events: generateDemoDay({ end: new Date('2025-03-10T00:00:00Z'), hours: 72, benignCount: 2_000 }).events,
    });
    dir = await mkdtemp(join(tmpdir(), 'lpad-bar-'));
  });
  afterAll(async () => {
    await simulator.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('never glues a JSON log line to the bar: every line is a log line, a day line, or the summary', async () => {
    const term = createFakeTerminal();
    const base = createTestIo({
      env: {
        LASTPASS_ACCOUNT_NUMBER: '8771234',
        LASTPASS_API_KEY: SECRET,
        LASTPASS_API_URL: simulator.url,
        REPORT_FROM: 'digest@example.org',
        REPORT_TO: 'secops@example.org',
        DATA_DIR: join(dir, 'data'),
        LOG_LEVEL: 'debug',
      },
      cwd: dir,
      now: () => new Date('2025-03-10T12:00:00Z'),
    });
    const io = { ...base, stdout: term.writer, stderr: term.writer };
    expect(await runCli(['backfill', '--from', '2025-03-07', '--to', '2025-03-10'], io)).toBe(0);
    const lines = term.lines().filter((l) => l !== '');
    const logs = lines.filter(isJson);
    const days = lines.filter((l) => /^2025-03-0\d{1}T00:00 → 2025-03-\d{2}T00:00 {2}dry run: \//.test(l));
    expect(logs.length).toBeGreaterThan(10);
    expect(days).toHaveLength(3);
    expect(lines.filter((l) => !isJson(l) && !days.includes(l))).toEqual([
      '3 day(s): 3 done, 0 failed (dry run: nothing was sent; add --send to deliver).',
    ]);
    expect(term.raw()).toContain('[########################] 3/3'); // the bar was drawn
    expect(term.lines().at(-1)).toBe(''); // and removed at the end
  });
});
