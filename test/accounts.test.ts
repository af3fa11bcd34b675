/**
 * Many accounts as data (issue #17): the accounts file's validation (every problem at once, naming account
 * and field), two accounts in one `run` against the simulator with one wrong secret (the other is delivered,
 * the wrong one gets its own FAILED notice and /fail ping, the roll-up lists the failure first and is not
 * "all quiet"), per-account state on files and `--account` on run, verify and history. Everything real:
 * the commands in process, the simulator and a SendGrid stand-in on loopback.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/commands/dispatch.js';
import { createLocalAccountRunner, type AccountRunRecord } from '../src/accounts/local-runner.js';
import { loadAccounts } from '../src/accounts/load-accounts.js';
import { buildRollup } from '../src/accounts/rollup.js';
import { accountsHealth, runRound } from '../src/commands/worker.js';
import { createCommandLogger } from '../src/commands/wiring.js';
import { parseAccounts } from '../src/config/accounts.js';
import { loadConfig } from '../src/config/load-config.js';
import { generateDemoDay } from '../src/simulator/demo-day.js';
import { createLastPassSimulator, type LastPassSimulator } from '../src/simulator/lastpass-simulator.js';
import { createTestIo } from './support/command-io.js';
import { startFakeSendGrid, type FakeSendGrid } from './support/fake-sendgrid.js';

const SECRET = 'acme-secret-4d3c2b1a';
const WRONG = 'beta-wrong-secret-9e8f7a';
const SG_KEY = 'SG.accounts-test-key-5f4e';

const BASE_ENV = {
  SENDGRID_API_KEY: SG_KEY,
  REPORT_FROM: 'digest@provider.example',
  ACCOUNTS_FILE: 'accounts.json',
};

describe('the accounts file is validated like the rest of the configuration', () => {
  it('reports every problem at once, naming the account and the field', () => {
    const { config } = loadConfig({ ...BASE_ENV, SENDGRID_API_KEY: SG_KEY });
    const file = JSON.stringify([
      { id: 'acme', accountNumber: '1001', apiKeyEnv: 'KEY_ACME', recipients: ['sec@acme.example'] },
      { id: 'Bad Id', accountNumber: '12a', apiKeyEnv: 'KEY_MISSING', recipients: 'not an address' },
      { id: 'acme', accountNumber: 1003, apiKeyEnv: 'KEY_ACME', recipients: 'x@y.example', lastpassTimeZone: 'Mars/Base' },
      {
        id: 'gamma',
        accountNumber: '1004',
        apiKey: 'literal-secret',
        apiKeyEnv: 'KEY_ACME',
        recipients: 'g@gamma.example',
        severityOverrides: 'No such action=low',
      },
    ]);
    const parsed = parseAccounts(file, { KEY_ACME: SECRET }, config, { file: 'accounts.json' });
    expect(parsed.accounts).toEqual([]);
    const all = parsed.problems.join('\n');
    expect(all).toContain('accounts[1] "Bad Id" id: must be a slug');
    expect(all).toContain('accounts[1] "Bad Id" accountNumber: must be the numeric account number');
    expect(all).toContain('accounts[1] "Bad Id" apiKeyEnv: names KEY_MISSING, which is not set');
    expect(all).toMatch(/accounts\[1\] "Bad Id" recipients: /);
    expect(all).toContain('accounts[2] "acme" id: is used by accounts[0] too');
    expect(all).toContain('accounts[2] "acme" lastpassTimeZone: "Mars/Base" is not an IANA time zone');
    expect(all).toContain('accounts[3] "gamma" apiKey: secrets never go in the accounts file');
    expect(all).toMatch(/accounts\[3\] "gamma" severityOverrides: .*No such action/);
    expect(all).not.toContain(SECRET);
    expect(parsed.problems.length).toBeGreaterThanOrEqual(8);
  });

  it('never echoes a secret pasted where a variable name belongs, nor the text around a JSON error', () => {
    const { config } = loadConfig({ ...BASE_ENV, SENDGRID_API_KEY: SG_KEY });
    const pasted = 'cafe0123456789abcdef0123456789ab';
    const one = parseAccounts(
      JSON.stringify([{ id: 'acme', accountNumber: '1001', apiKeyEnv: pasted, recipients: 'sec@acme.example' }]),
      {},
      config,
      { file: 'accounts.json' },
    );
    expect(one.problems.join('\n')).toMatch(/apiKeyEnv: names a variable, which is not set: .*move it to an environment variable/);
    expect(one.problems.join('\n')).not.toContain(pasted);
    const broken = parseAccounts(`[{"id":"acme",\n"apiKeyEnv":${pasted}}]`, {}, config, { file: 'accounts.json' });
    expect(broken.problems).toEqual([
      expect.stringMatching(/^ACCOUNTS_FILE accounts\.json is not valid JSON \((unexpected text at line 2|check its quotes)/),
    ]);
    expect(broken.problems.join('\n')).not.toContain('cafe');
  });

  it('docs/accounts.example.json is a valid accounts file', () => {
    const { config } = loadConfig({ ...BASE_ENV });
    const example = readFileSync(new URL('../docs/accounts.example.json', import.meta.url), 'utf8');
    const parsed = parseAccounts(example, { LASTPASS_API_KEY_ACME: 'a-secret-1', LASTPASS_API_KEY_GLOBEX: 'b-secret-2' }, config, {
      file: 'docs/accounts.example.json',
    });
    expect(parsed.problems).toEqual([]);
    expect(parsed.accounts.map((a) => [a.id, a.config.lastpass.timeZone, a.config.report.to])).toEqual([
      ['acme', 'America/New_York', ['secops@acme.example', 'ciso@acme.example']],
      ['globex-eu', 'Europe/Berlin', ['security@globex.example']],
    ]);
    expect(parsed.accounts[1]!.config.dataDir).toBe(join('./data', 'accounts', 'globex-eu'));
  });

  it("the CLI exits 2 with every problem, and without ACCOUNTS_FILE nothing changes (one account, today's paths)", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lpad-accounts-cfg-'));
    try {
      await writeFile(join(dir, 'accounts.json'), JSON.stringify([{ id: 'a' }, { id: 'a', accountNumber: 'x' }]));
      const io = createTestIo({ env: { ...BASE_ENV }, cwd: dir });
      expect(await runCli(['run', '--dry-run'], io)).toBe(2);
      const err = io.stderr.text();
      expect(err).toContain('accounts[0] "a" accountNumber: is required');
      expect(err).toContain('accounts[0] "a" apiKeyEnv: is required');
      expect(err).toContain('accounts[1] "a" id: is used by accounts[0] too');
      expect(err).toContain('accounts[1] "a" recipients: is required');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

interface Mail {
  subject: string;
  personalizations: { to: { email: string }[] }[];
  content: { type: string; value: string }[];
  custom_args: Record<string, string>;
}

describe('two accounts in one run, one with a wrong secret', () => {
  let dir: string;
  let simulator: LastPassSimulator;
  let sendgrid: FakeSendGrid;
  let pings: string[];
  let heartbeat: Server;
  let heartbeatUrl: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lpad-accounts-'));
    simulator = await createLastPassSimulator({
      accountNumber: '1001',
      apiSecret: SECRET,
      events: generateDemoDay({ end: new Date(), benignCount: 200 }).events,
    });
    sendgrid = await startFakeSendGrid();
    pings = [];
    heartbeat = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        pings.push(req.url ?? '');
        res.end('OK');
      });
    });
    await new Promise<void>((resolve) => heartbeat.listen(0, '127.0.0.1', resolve));
    heartbeatUrl = `http://127.0.0.1:${(heartbeat.address() as AddressInfo).port}/ping/{account}`;
    await writeFile(
      join(dir, 'accounts.json'),
      JSON.stringify([
        // The failing account first: the one after it runs all the same.
        { id: 'beta', accountNumber: '1002', apiKeyEnv: 'LASTPASS_API_KEY_BETA', recipients: 'soc@beta.example' },
        { id: 'acme', accountNumber: '1001', apiKeyEnv: 'LASTPASS_API_KEY_ACME', recipients: ['sec@acme.example'] },
      ]),
    );
  });
  afterEach(async () => {
    await simulator.close();
    await sendgrid.close();
    await new Promise<void>((resolve) => heartbeat.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  const env = () => ({
    ...BASE_ENV,
    LASTPASS_API_URL: simulator.url,
    SENDGRID_API_URL: sendgrid.url,
    LASTPASS_API_KEY_ACME: SECRET,
    LASTPASS_API_KEY_BETA: WRONG,
    DATA_DIR: join(dir, 'data'),
    ROLLUP_TO: 'noc@provider.example',
    HEARTBEAT_URL: heartbeatUrl,
  });
  const mails = () => sendgrid.requests.filter((r) => r.path === '/v3/mail/send').map((r) => r.body as Mail);
  const to = (m: Mail) => m.personalizations.flatMap((p) => p.to.map((t) => t.email));
  const text = (m: Mail) => (m.content.find((c) => c.type === 'text/plain')?.value ?? '').replace(/\s+/g, ' ');
  const cli = async (args: string[]) => {
    const io = createTestIo({ env: env(), cwd: dir });
    const code = await runCli(args, io);
    return { code, stdout: io.stdout.text(), stderr: io.stderr.text() };
  };

  it('delivers the good account, sends the bad one its own FAILED notice, and a roll-up with the failure first', async () => {
    const result = await cli(['run']);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(result.stdout).toMatch(/account acme:\n(?:evidence .*\n)?sent/);
    expect(result.stdout).toMatch(/account beta:\n(?:evidence .*\n)?FAILED/);

    const sent = mails();
    const digest = sent.find((m) => to(m).includes('sec@acme.example'))!;
    expect(digest.subject).toMatch(/^\[acme\] LastPass security digest/);
    const notice = sent.find((m) => to(m).includes('soc@beta.example'))!;
    expect(notice.subject).toMatch(/^\[beta\] FAILED/);
    expect(notice.custom_args.digest_failure).toBeDefined();
    expect(sent.filter((m) => to(m).includes('soc@beta.example'))).toHaveLength(1);
    // It names what to fix for this account: its apiKeyEnv variable, not the environment's LASTPASS_API_KEY.
    expect(text(notice)).toContain('check accountNumber and LASTPASS_API_KEY_BETA (account "beta" of ACCOUNTS_FILE)');

    const rollup = sent.find((m) => m.custom_args.rollup !== undefined)!;
    expect(to(rollup)).toEqual(['noc@provider.example']);
    expect(rollup.subject).toMatch(/1 of 2 accounts FAILED/);
    expect(rollup.subject).not.toMatch(/quiet/i);
    const body = text(rollup);
    expect(body.indexOf('beta · FAILED')).toBeGreaterThan(-1);
    expect(body.indexOf('beta · FAILED')).toBeLessThan(body.indexOf('acme ·'));
    expect(body).toContain('acme · High findings');
    expect(rollup.content.find((c) => c.type === 'text/html')!.value).toContain('beta');

    // Each account pinged its own check: acme succeeded, beta failed.
    expect(pings).toContain('/ping/acme');
    expect(pings).toContain('/ping/beta/fail');
    expect(pings).not.toContain('/ping/beta');
    for (const out of [result.stdout, result.stderr, JSON.stringify(sent)]) {
      expect(out).not.toContain(SECRET);
      expect(out).not.toContain(WRONG);
    }

    // State per account: files under DATA_DIR/accounts/<id>/, nothing at DATA_DIR's own state.
    const acme = JSON.parse(readFileSync(join(dir, 'data', 'accounts', 'acme', 'state.json'), 'utf8'));
    expect(acme.delivered).toHaveLength(1);
    const beta = JSON.parse(readFileSync(join(dir, 'data', 'accounts', 'beta', 'state.json'), 'utf8'));
    expect(beta.delivered).toHaveLength(0);
    expect(beta.consecutiveFailures).toBe(1);
    expect(existsSync(join(dir, 'data', 'state.json'))).toBe(false);

    // /healthz: a line per account, 503 (failing) because beta failed.
    const io = createTestIo({ env: env(), cwd: dir });
    const runner = createLocalAccountRunner({ io, accounts: loadAccounts(loadConfig(io.env).config, io.env, dir), keepOpen: true });
    try {
      const health = await accountsHealth(runner, { nextRun: () => null, previousRun: () => null, busy: () => false }, new Date());
      expect(health.status).toBe('failing');
      expect(health.reason).toMatch(/^1 of 2 accounts not ok: beta/);
      expect(health.accounts?.map((l) => [l.account, l.status])).toEqual([
        ['beta', 'failing'],
        ['acme', 'ok'],
      ]);
    } finally {
      await runner.close();
    }

    // --account on history, verify and export; without it they name the choices.
    const acmeHistory = await cli(['history', '--account', 'acme']);
    expect(acmeHistory.stdout).toMatch(/^1 delivered digest/);
    const betaHistory = await cli(['history', '--account', 'beta']);
    expect(betaHistory.stdout).toMatch(/^No delivered digests/);
    const ambiguous = await cli(['history']);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain('pick one with --account ID (beta, acme)');
    expect((await cli(['verify', '--account', 'acme'])).code).toBe(0);
    const day = new Date().toISOString().slice(0, 10);
    const exported = await cli(['export', '--account', 'acme', '--from', day, '--to', day, '--out', join(dir, 'acme.tar.gz')]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(existsSync(join(dir, 'acme.tar.gz'))).toBe(true);
    expect((await cli(['verify', '--account', 'nope'])).stderr).toContain('--account nope: no such account; configured: beta, acme');

    // run --account runs that account alone: acme has nothing due, beta fails again; no roll-up.
    const before = mails().length;
    const again = await cli(['run', '--account', 'acme']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Nothing is due');
    expect(mails().length).toBe(before);
  });

  it('backfill of one account marks its mail with [id] and names its own secret variable, as run does', async () => {
    const hour = 3_600_000;
    const to = new Date(Math.floor(Date.now() / hour) * hour - hour).toISOString();
    const from = new Date(Date.parse(to) - 6 * hour).toISOString();
    const good = await cli(['backfill', '--account', 'acme', '--from', from, '--to', to, '--send']);
    expect(good.code, good.stdout + good.stderr).toBe(0);
    expect(mails().length).toBeGreaterThan(0);
    for (const m of mails()) expect(m.subject).toMatch(/^\[acme\] /);
    const bad = await cli(['backfill', '--account', 'beta', '--from', from, '--to', to, '--send']);
    expect(bad.code).toBe(1);
    const notice = mails().at(-1)!;
    expect(notice.subject).toMatch(/^\[beta\] FAILED/);
    expect(text(notice)).toContain('LASTPASS_API_KEY_BETA');
  });
});

describe('a worker round over two accounts', () => {
  it('runs both (the failing one first), reports the round failed (so it is retried) and sends the roll-up', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lpad-accounts-round-'));
    const simulator = await createLastPassSimulator({
      accountNumber: '1001',
      apiSecret: SECRET,
      events: generateDemoDay({ end: new Date(), benignCount: 100 }).events,
    });
    const sendgrid = await startFakeSendGrid();
    try {
      await writeFile(
        join(dir, 'accounts.json'),
        JSON.stringify([
          { id: 'beta', accountNumber: '1002', apiKeyEnv: 'KEY_BETA', recipients: 'soc@beta.example' },
          { id: 'acme', accountNumber: '1001', apiKeyEnv: 'KEY_ACME', recipients: 'sec@acme.example' },
        ]),
      );
      const io = createTestIo({
        env: {
          ...BASE_ENV,
          LASTPASS_API_URL: simulator.url,
          SENDGRID_API_URL: sendgrid.url,
          KEY_ACME: SECRET,
          KEY_BETA: WRONG,
          DATA_DIR: join(dir, 'data'),
          ROLLUP_TO: 'noc@provider.example',
        },
        cwd: dir,
      });
      const { config } = loadConfig(io.env);
      const accounts = loadAccounts(config, io.env, dir);
      const runner = createLocalAccountRunner({ io, accounts, keepOpen: true });
      try {
        const logger = createCommandLogger(io, 'error', accounts[0]!.config.secrets);
        const outcome = await runRound(runner, undefined, { io, config: { ...config, secrets: accounts[0]!.config.secrets }, logger });
        expect(outcome.status).toBe('failed');
        expect(runner.last('acme')?.outcome.status).toBe('ok');
        expect(runner.last('beta')?.outcome.status).toBe('failed');
        const subjects = sendgrid.requests.filter((r) => r.path === '/v3/mail/send').map((r) => (r.body as Mail).subject);
        expect(subjects.some((t) => t.startsWith('LastPass roll-up — 1 of 2 accounts FAILED'))).toBe(true);
        // The interface the job queue codes against: accounts() and run(id) for one account.
        expect(runner.accounts()).toEqual([{ id: 'beta' }, { id: 'acme' }]);
        expect((await runner.run('acme', {})).status).toBe('nothing-due');
        await expect(runner.run('nope', {})).rejects.toThrow(/No account "nope"/);
      } finally {
        await runner.close();
      }
    } finally {
      await simulator.close();
      await sendgrid.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the roll-up never claims "all quiet" while an account failed or was not reported', () => {
  const window = { start: new Date('2026-12-03T07:00:00Z'), end: new Date('2026-12-04T07:00:00Z') };
  const quiet = (id: string): AccountRunRecord => ({
    id,
    finishedAt: '',
    outcome: {
      status: 'ok',
      skipped: null,
      windows: [
        {
          key: 'k',
          window,
          status: 'delivered',
          eventsReviewed: 100,
          digest: {
            verdict: 'Quiet day: no security-relevant events among 100 events reviewed',
            verdictLevel: 'quiet',
            findingCount: 0,
            bySeverity: { high: 0, medium: 0, low: 0, info: 0 },
            topFindings: [],
          },
        },
      ],
    },
  });
  const failed = (id: string): AccountRunRecord => ({
    id,
    finishedAt: '',
    outcome: { status: 'failed', skipped: null, windows: [{ key: 'k', window, status: 'failed', error: 'LastPass rejected the secret' }] },
  });
  const locked = (id: string): AccountRunRecord => ({ id, finishedAt: '', outcome: { status: 'locked', skipped: null, windows: [] } });
  const nothingDue = (id: string): AccountRunRecord => ({
    id,
    finishedAt: '',
    outcome: { status: 'nothing-due', skipped: null, windows: [] },
  });
  const now = new Date('2026-12-04T07:05:00Z');

  it('all quiet only when every account delivered a quiet digest', () => {
    const model = buildRollup([quiet('a'), quiet('b')], now);
    expect(model.level).toBe('quiet');
    expect(model.verdict).toBe('All quiet: 2 accounts reported, no findings');
  });

  it('a failure, listed last, comes first and makes it red', () => {
    const model = buildRollup([quiet('a'), quiet('b'), failed('c')], now);
    expect(model.level).toBe('failed');
    expect(model.verdict).toMatch(/^1 of 3 accounts FAILED/);
    expect(model.accounts.map((a) => a.id)).toEqual(['c', 'a', 'b']);
  });

  it('an account not reported (its lock held) or with no window this round is not quiet', () => {
    const notReported = buildRollup([quiet('a'), locked('b')], now);
    expect(notReported.level).toBe('attention');
    expect(notReported.verdict).toBe('1 of 2 accounts not reported');
    expect(notReported.accounts[0]!.id).toBe('b');
    const noWindow = buildRollup([quiet('a'), nothingDue('b')], now);
    expect(noWindow.level).toBe('attention');
    expect(noWindow.verdict).not.toMatch(/quiet/i);
  });
});
