/**
 * `<command> --help` for every command: exit 0, that command's usage on stdout, and nothing else happens:
 * no file, no request to LastPass or SendGrid, no signal handler, even with a configuration that would let
 * the command run.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/commands/dispatch.js';
import { COMMAND_NAMES } from '../src/commands/usage.js';
import { generateDemoDay } from '../src/simulator/demo-day.js';
import { createLastPassSimulator, type LastPassSimulator } from '../src/simulator/lastpass-simulator.js';
import { runCli as spawnCli } from './support/cli.js';
import { createTestIo } from './support/command-io.js';
import { startFakeSendGrid, type FakeSendGrid } from './support/fake-sendgrid.js';

const SECRET = 'help-secret-7a6b5c4d';
let simulator: LastPassSimulator;
let sendgrid: FakeSendGrid;
let dir: string;

beforeAll(async () => {
  simulator = await createLastPassSimulator({
    accountNumber: '8771234',
    apiSecret: SECRET,
    events: generateDemoDay({ end: new Date(), benignCount: 100 }).events,
  });
  sendgrid = await startFakeSendGrid();
  dir = await mkdtemp(join(tmpdir(), 'lpad-help-'));
});
afterAll(async () => {
  await simulator.close();
  await sendgrid.close();
  await rm(dir, { recursive: true, force: true });
});

const env = () => ({
  LASTPASS_ACCOUNT_NUMBER: '8771234',
  LASTPASS_API_KEY: SECRET,
  LASTPASS_API_URL: simulator.url,
  SENDGRID_API_KEY: 'SG.help-test',
  SENDGRID_API_URL: sendgrid.url,
  REPORT_FROM: 'digest@example.org',
  REPORT_TO: 'secops@example.org',
  DATA_DIR: join(dir, 'data'),
});

const ARGS: Record<string, string[]> = {
  run: ['--dry-run'],
  backfill: ['--from', '2025-03-01', '--to', '2025-03-03', '--send'],
  verify: [],
  export: ['--from', '2025-03-01', '--to', '2025-03-03', '--out', 'x.tar.gz'],
  history: ['--from', '2025-03-01'],
  show: ['2025-03-02', '--html', 'x.html'],
};

describe('<command> --help', () => {
  it.each(
    COMMAND_NAMES.flatMap((name) => [
      [name, '--help'],
      [name, '-h'],
    ]),
  )('%s %s prints its usage, exits 0 and does nothing else', async (name, flag) => {
    const io = createTestIo({ env: env(), cwd: dir });
    const code = await runCli([name, ...(ARGS[name] ?? []), flag], io);
    expect(code).toBe(0);
    const out = io.stdout.text();
    expect(out.startsWith(`Usage: lastpass-audit-digest ${name}`)).toBe(true);
    expect(out).toContain('-h, --help');
    expect(out).toMatch(/Environment \(and \.\/\.env\):\n {2}[A-Z_]+ /);
    expect(io.stderr.text()).toBe('');
    expect(await readdir(dir)).toEqual([]);
    expect(simulator.requests).toHaveLength(0);
    expect(sendgrid.requests).toHaveLength(0);
    expect(io.listeners('SIGTERM') + io.listeners('SIGINT')).toBe(0);
  });

  it('help <command> prints the same page; the overview names every command and how to get its help', async () => {
    const io = createTestIo({ env: {}, cwd: dir });
    expect(await runCli(['help', 'backfill'], io)).toBe(0);
    const direct = createTestIo({ env: {}, cwd: dir });
    await runCli(['backfill', '--help'], direct);
    expect(io.stdout.text()).toBe(direct.stdout.text());
    const overview = createTestIo({ env: {}, cwd: dir, cliName: 'npx lastpass-audit-digest' });
    expect(await runCli(['--help'], overview)).toBe(0);
    for (const name of COMMAND_NAMES) expect(overview.stdout.text()).toMatch(new RegExp(`^ {2}${name}\\b`, 'm'));
    expect(overview.stdout.text()).toContain('`npx lastpass-audit-digest <command> --help`');
  });

  it('a --help after "--" is not a request for help', async () => {
    const io = createTestIo({ env: env(), cwd: dir });
    expect(await runCli(['migrate', '--', '--help'], io)).toBe(2); // migrate takes no positional argument
    expect(io.stdout.text()).toBe('');
  });

  it('the built CLI: worker --help exits at once with 0 instead of starting the worker', async () => {
    const result = await spawnCli(['worker', '--help'], env(), dir, 15_000);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: node \S*cli\.js worker/);
    expect(result.stderr).toBe('');
  });
});
