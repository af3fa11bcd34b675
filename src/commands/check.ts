/**
 * `check`: validates the configuration and reaches both APIs without sending anything: LastPass's and
 * SendGrid's clocks (their Date headers) against this machine's, one `reporting` call for a one-minute
 * window, the last 24 hours for the API callers seen, the zone LastPass speaks (inferred from this check's
 * own requests, as every run does), SendGrid's GET /v3/scopes, which must include `mail.send`; then the
 * storage state.
 */
import { parseArgs } from 'node:util';
import { redactUrl } from '../adapters/http/redact.js';
import type { RetryPolicy } from '../adapters/http/retry.js';
import { loadConfig, secretVariants, type Config } from '../config/load-config.js';
import { apiCallersSeen } from '../core/api-callers-seen.js';
import { visibleText } from '../core/visible-text.js';
import { API_READ_ACTIONS, normaliseActionName } from '../core/catalogue.js';
import type { RawEvent } from '../core/types.js';
import { formatWall, wallPlusOneSecond } from '../core/wall-time.js';
import type { Caution } from '../core/digest-model.js';
import { formatOffset, type ZoneInference } from '../core/zone-inference.js';
import { readUpstreamClock } from '../run/upstream-clock.js';
import { checkZone, createEchoCollector } from '../run/zone-self-check.js';
import { describeError } from '../errors.js';
import { createRedactor, silentLogger, type Logger } from '../logger.js';
import type { Clock, LastPassClient, RequestTiming, Store } from '../ports.js';
import { EXIT_FAILED, EXIT_OK, type CommandIo, type ExitCode } from './io.js';
import { type CheckLine, clockLine } from './check-line.js';
import { sendGridLines } from './check-sendgrid.js';
import { loadAccounts, pickAccount } from '../accounts/load-accounts.js';
import { createCommandLogger, createLastPass, ephemeralDiskWarning, openStore, printer } from './wiring.js';

/** One try and one retry: `check` answers quickly. */
const CHECK_RETRY_POLICY: RetryPolicy = { retries: 1, baseDelayMs: 1000, maxDelayMs: 2000, maxRetryAfterMs: 5000 };

export async function checkCommand(args: string[], io: CommandIo): Promise<ExitCode> {
  const { values } = parseArgs({ args, options: { account: { type: 'string' } }, strict: true });
  const loaded = loadConfig(io.env);
  const { warnings } = loaded;
  // With ACCOUNTS_FILE: one account at a time (its number, secret and store), --account names it.
  const { config } = pickAccount(loadAccounts(loaded.config, io.env, io.cwd), values.account, 'check');
  const logger = createCommandLogger(io, 'error', config.secrets);
  const store = openStore(io, config, logger);
  try {
    const lines = await runChecks({
      config,
      lastpass: createLastPass(io, config, logger, CHECK_RETRY_POLICY),
      store,
      now: io.now,
      warnings,
      logger,
    });
    const ephemeral = ephemeralDiskWarning(io.env, config);
    if (ephemeral) lines.push({ name: 'storage', ok: false, detail: ephemeral });
    const redact = createRedactor(secretVariants(config.secrets));
    const print = printer(io.stdout);
    for (const l of lines) print(redact(`${l.ok ? (l.warn ? 'warn' : 'ok  ') : 'FAIL'} ${l.name.padEnd(9)} ${l.detail}`));
    return lines.every((l) => l.ok) ? EXIT_OK : EXIT_FAILED;
  } finally {
    await store.close();
  }
}

export type { CheckLine } from './check-line.js';

export async function runChecks(deps: {
  config: Config;
  lastpass: LastPassClient;
  store: Store;
  now: Clock;
  warnings: string[];
  logger?: Logger;
}): Promise<CheckLine[]> {
  const logger = deps.logger ?? silentLogger;
  const lines: CheckLine[] = [];
  const { config } = deps;
  lines.push({
    name: 'config',
    ok: true,
    detail: deps.warnings.length ? `valid, with warnings: ${deps.warnings.join(' ')}` : 'valid',
  });

  // LastPass: its clock (two probes of the current second, as every run makes), one minute ending a minute
  // ago, the API callers of the last 24 hours, and the zone it speaks, from this check's own requests.
  const clock = await readUpstreamClock({ lastpass: deps.lastpass, now: deps.now, logger, config });
  lines.push(clockLine('LastPass', clock.verdict));
  const end = deps.now().getTime() - 60_000;
  const range = { from: formatWall(end - 60_000, config.lastpass.timeZone), to: formatWall(end - 1000, config.lastpass.timeZone) };
  try {
    const probe = await deps.lastpass.probe(range);
    lines.push({
      name: 'lastpass',
      ok: true,
      detail: `reporting answered for ${range.from} … ${range.to} (${config.lastpass.timeZone}): ${probe.events} events; account ${config.lastpass.accountNumber} at ${redactUrl(config.lastpass.apiUrl)}`,
    });
    const callers = await apiCallersLine(deps);
    lines.push(callers.line);
    const zone = await checkZone({
      lastpass: deps.lastpass,
      logger,
      now: deps.now,
      timeZone: config.lastpass.timeZone,
      apiUser: config.lastpass.apiUser,
      requests: [...clock.probes, ...probe.timings, ...callers.timings],
      echoes: callers.echoes,
      ...(callers.to ? { notBefore: wallPlusOneSecond(callers.to) } : {}),
    });
    lines.push(zoneLine(zone.inference, zone.caution, config.lastpass.timeZone));
  } catch (error) {
    lines.push({ name: 'lastpass', ok: false, detail: describeError(error) });
  }

  // SendGrid: the key's scopes, its clock, and whether REPORT_FROM may send.
  lines.push(...(await sendGridLines({ config, now: deps.now })));

  // Storage.
  try {
    await deps.store.init();
    const state = await deps.store.readState();
    lines.push({
      name: 'storage',
      ok: true,
      detail: `${deps.store.description}, schema ${await deps.store.schemaVersion()}; covered up to ${state.cursor ?? '(nothing delivered yet)'}, ${state.delivered.length} delivered windows kept, ${state.consecutiveFailures} consecutive failures`,
    });
  } catch (error) {
    lines.push({ name: 'storage', ok: false, detail: describeError(error) });
  }
  return lines;
}

/** API rows kept for the callers line: far more than any real tenant's day of API calls. */
const MAX_API_ROWS = 100_000;

/**
 * The API callers LastPass logged in the last 24 hours (label, calls, IPs) and how LASTPASS_KNOWN_API_CALLERS
 * rates each, so a team can fill the list in from what LastPass saw rather than guess. Reading a day is one
 * request per 10,000 events; only the API rows are kept.
 */
async function apiCallersLine(deps: {
  config: Config;
  lastpass: LastPassClient;
  now: Clock;
}): Promise<{ line: CheckLine; timings: RequestTiming[]; echoes: Record<string, number>; to: string | null }> {
  const { config } = deps;
  const end = deps.now().getTime();
  const range = { from: formatWall(end - 86_400_000, config.lastpass.timeZone), to: formatWall(end - 1000, config.lastpass.timeZone) };
  const rows: RawEvent[] = [];
  // This check's own rows, for the zone line.
  const echoes = createEchoCollector(config.lastpass.apiUser);
  let timings: RequestTiming[] = [];
  try {
    const stats = await deps.lastpass.fetchEvents(range, {
      add(row, at) {
        echoes.add(row, at);
        if (rows.length < MAX_API_ROWS && API_READ_ACTIONS.has(normaliseActionName(row.Action))) rows.push({ ...row });
      },
    });
    timings = stats.timings;
  } catch (error) {
    return {
      line: { name: 'callers', ok: false, detail: `could not read the last 24 hours: ${describeError(error)}` },
      timings,
      echoes: {},
      to: null,
    };
  }
  return { line: callersLine(rows, config), timings, echoes: echoes.echoes, to: range.to };
}

/** What the API rows of the last 24 hours say about the callers. */
function callersLine(rows: readonly RawEvent[], config: Config): CheckLine {
  const seen = apiCallersSeen(rows, { apiUser: config.lastpass.apiUser, knownApiCallers: config.lastpass.knownApiCallers ?? [] });
  const others = seen.filter((c) => c.status !== 'own');
  if (others.length === 0) return { name: 'callers', ok: true, detail: 'no API caller but this worker in the last 24 hours' };
  const describe = (c: (typeof seen)[number]) =>
    `${c.label ? `"${c.label}"` : '(no label)'} ${c.calls} call${c.calls === 1 ? '' : 's'} from ${c.ips.join(', ')}: ${
      c.status === 'known'
        ? 'known'
        : c.status === 'outside'
          ? 'known label, but from outside its networks (a finding)'
          : 'unknown (a finding)'
    }`;
  const unknown = others.filter((c) => c.status !== 'known');
  const entries = [...new Set(unknown.filter((c) => c.status === 'unknown').map((c) => c.entry))];
  const suggestion = entries.length
    ? ` If these are your integrations, add ${entries.map((e) => `"${e}"`).join(', ')} to LASTPASS_KNOWN_API_CALLERS (comma-separated; "label@CIDR" pins a caller to its network); if not, someone else holds the API secret.`
    : '';
  return {
    name: 'callers',
    ok: true,
    // Labels and IPs are LastPass text: shown with invisible and control characters as ⟨U+…⟩ (no terminal escapes).
    detail: visibleText(`API callers in the last 24 hours besides this worker: ${others.map(describe).join('; ')}.${suggestion}`),
  };
}

/** The zone line: the offset LastPass speaks, as this check's own requests tell it. */
function zoneLine(inference: ZoneInference | null, caution: Caution | null, timeZone: string): CheckLine {
  const name = 'zone';
  if (caution) return { name, ok: false, detail: caution.detail };
  if (inference === null || inference.inferredOffsetMs === null) {
    return {
      name,
      ok: true,
      detail: `not verified: this check's own requests did not come back in LastPass's rows (LASTPASS_TIMEZONE ${timeZone}, ${formatOffset(inference?.configuredOffsetMs ?? 0)} now)`,
    };
  }
  return {
    name,
    ok: true,
    detail: `LastPass speaks ${formatOffset(inference.inferredOffsetMs)} (inferred from ${inference.matchedRequests} of this check's own requests), as LASTPASS_TIMEZONE ${timeZone} does now`,
  };
}
