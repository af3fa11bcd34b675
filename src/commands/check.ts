/**
 * `check`: validates the configuration and reaches both APIs without sending anything: one `reporting`
 * call for a one-minute window, the last 24 hours for the API callers seen, and SendGrid's GET /v3/scopes, which must include `mail.send`; then the
 * storage state.
 */
import { parseArgs } from 'node:util';
import { redactUrl } from '../adapters/http/redact.js';
import type { RetryPolicy } from '../adapters/http/retry.js';
import { createSendGridClient, translateSendGridError } from '../adapters/mail/sendgrid-mailer.js';
import { loadConfig, secretVariants, type Config } from '../config/load-config.js';
import { apiCallersSeen } from '../core/api-callers-seen.js';
import { API_READ_ACTIONS, normaliseActionName } from '../core/catalogue.js';
import type { RawEvent } from '../core/types.js';
import { formatWall } from '../core/wall-time.js';
import { describeError } from '../errors.js';
import { createRedactor } from '../logger.js';
import type { Clock, LastPassClient, Store } from '../ports.js';
import { EXIT_FAILED, EXIT_OK, type CommandIo, type ExitCode } from './io.js';
import { createCommandLogger, createLastPass, ephemeralDiskWarning, openStore, printer } from './wiring.js';

/** One try and one retry: `check` answers quickly. */
const CHECK_RETRY_POLICY: RetryPolicy = { retries: 1, baseDelayMs: 1000, maxDelayMs: 2000, maxRetryAfterMs: 5000 };

export async function checkCommand(args: string[], io: CommandIo): Promise<ExitCode> {
  parseArgs({ args, options: {}, strict: true });
  const { config, warnings } = loadConfig(io.env);
  const logger = createCommandLogger(io, 'error', config.secrets);
  const store = openStore(io, config, logger);
  try {
    const lines = await runChecks({
      config,
      lastpass: createLastPass(io, config, logger, CHECK_RETRY_POLICY),
      store,
      now: io.now,
      warnings,
    });
    const ephemeral = ephemeralDiskWarning(io.env, config);
    if (ephemeral) lines.push({ name: 'storage', ok: false, detail: ephemeral });
    const redact = createRedactor(secretVariants(config.secrets));
    const print = printer(io.stdout);
    for (const l of lines) print(redact(`${l.ok ? 'ok  ' : 'FAIL'} ${l.name.padEnd(9)} ${l.detail}`));
    return lines.every((l) => l.ok) ? EXIT_OK : EXIT_FAILED;
  } finally {
    await store.close();
  }
}

export interface CheckLine {
  name: string;
  ok: boolean;
  detail: string;
}

export async function runChecks(deps: {
  config: Config;
  lastpass: LastPassClient;
  store: Store;
  now: Clock;
  warnings: string[];
}): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const { config } = deps;
  lines.push({
    name: 'config',
    ok: true,
    detail: deps.warnings.length ? `valid, with warnings: ${deps.warnings.join(' ')}` : 'valid',
  });

  // LastPass: one minute ending a minute ago.
  const end = deps.now().getTime() - 60_000;
  const range = { from: formatWall(end - 60_000, config.lastpass.timeZone), to: formatWall(end - 1000, config.lastpass.timeZone) };
  try {
    const probe = await deps.lastpass.probe(range);
    lines.push({
      name: 'lastpass',
      ok: true,
      detail: `reporting answered for ${range.from} … ${range.to} (${config.lastpass.timeZone}): ${probe.events} events; account ${config.lastpass.accountNumber} at ${redactUrl(config.lastpass.apiUrl)}`,
    });
    lines.push(await apiCallersLine(deps));
  } catch (error) {
    lines.push({ name: 'lastpass', ok: false, detail: describeError(error) });
  }

  // SendGrid: scopes.
  if (!config.sendgrid.apiKey) {
    lines.push({
      name: 'sendgrid',
      ok: false,
      detail: 'SENDGRID_API_KEY is not set: digests can only be written to the outbox (--dry-run).',
    });
  } else {
    const url = `${config.sendgrid.apiUrl}/v3/scopes`;
    try {
      const client = await createSendGridClient({ apiKey: config.sendgrid.apiKey, apiUrl: config.sendgrid.apiUrl, timeoutMs: 15_000 });
      const [, body] = await client.request({ method: 'GET', url: '/v3/scopes' });
      const scopes: unknown = body && typeof body === 'object' ? (body as { scopes?: unknown }).scopes : undefined;
      const list = Array.isArray(scopes) ? scopes.filter((s): s is string => typeof s === 'string') : [];
      const ok = list.includes('mail.send');
      lines.push({
        name: 'sendgrid',
        ok,
        detail: ok
          ? `API key accepted at ${redactUrl(config.sendgrid.apiUrl)}; it has mail.send; sender ${config.report.from}, ${config.report.to.length} recipient(s)`
          : 'the API key works but lacks the "mail.send" scope: give it the Mail Send permission in SendGrid (Settings > API Keys).',
      });
    } catch (error) {
      lines.push({ name: 'sendgrid', ok: false, detail: translateSendGridError(error, redactUrl(url)).message });
    }
  }

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
async function apiCallersLine(deps: { config: Config; lastpass: LastPassClient; now: Clock }): Promise<CheckLine> {
  const { config } = deps;
  const end = deps.now().getTime();
  const range = { from: formatWall(end - 86_400_000, config.lastpass.timeZone), to: formatWall(end - 1000, config.lastpass.timeZone) };
  const rows: RawEvent[] = [];
  try {
    await deps.lastpass.fetchEvents(range, {
      add(row) {
        if (rows.length < MAX_API_ROWS && API_READ_ACTIONS.has(normaliseActionName(row.Action))) rows.push({ ...row });
      },
    });
  } catch (error) {
    return { name: 'callers', ok: false, detail: `could not read the last 24 hours: ${describeError(error)}` };
  }
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
    detail: `API callers in the last 24 hours besides this worker: ${others.map(describe).join('; ')}.${suggestion}`,
  };
}
