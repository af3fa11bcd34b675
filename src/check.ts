/**
 * `check`: validates the configuration (done before we get here) and reaches both APIs without sending
 * anything: one `reporting` call for a one-minute window, and SendGrid's GET /v3/scopes, which must
 * include `mail.send`.
 */
import type { Config } from './config/load-config.js';
import { createSendGridClient, translateSendGridError } from './adapters/mail/sendgrid-mailer.js';
import { redactUrl } from './adapters/http/redact.js';
import { formatWall } from './core/wall-time.js';
import { describeError } from './errors.js';
import type { LastPassClient, Store } from './ports.js';

export interface CheckLine {
  name: string;
  ok: boolean;
  detail: string;
}

export async function runChecks(deps: {
  config: Config;
  lastpass: LastPassClient;
  store: Store;
  now: () => Date;
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
