/**
 * `check`'s SendGrid part, without sending anything: GET /v3/scopes (the key works, its clock, `mail.send`),
 * then whether REPORT_FROM may send: GET /v3/verified_senders and GET /v3/whitelabel/domains, judged by
 * core/sender-identity.ts. No message is sent here, so no line ever says SendGrid "refused the message": an
 * error names the request that was made.
 */
import type { Client } from '@sendgrid/client';
import { httpDate } from '../adapters/lastpass/lastpass-client.js';
import { createSecretRedactor, redactUrl } from '../adapters/http/redact.js';
import { createSendGridClient, sendGridMessages, translateSendGridError } from '../adapters/mail/sendgrid-mailer.js';
import { parseAddress, type Config } from '../config/load-config.js';
import { judgeClock } from '../core/clock-sanity.js';
import {
  type AuthenticatedDomain,
  judgeSender,
  type ListReadout,
  parseAuthenticatedDomains,
  parseVerifiedSenders,
  type VerifiedSender,
} from '../core/sender-identity.js';
import type { Clock } from '../ports.js';
import { type CheckLine, clockLine } from './check-line.js';

interface SendGridErrorShape {
  code?: unknown;
  response?: { body?: unknown; status?: unknown };
}

/** The HTTP status of a @sendgrid/client ResponseError, or null for anything else (network, timeout, redirect). */
function statusOf(error: unknown): number | null {
  const e = (error ?? {}) as SendGridErrorShape;
  return typeof e.code === 'number' && e.response ? e.code : null;
}

/** What went wrong with a GET that `check` made, in words that fit a request that sent no message. */
export function describeCheckRequestError(error: unknown, config: Pick<Config, 'sendgrid' | 'secrets'>, path: string): string {
  const { apiUrl } = config.sendgrid;
  // Redacted before anything is cut (a secret cut in half would pass a later redaction).
  const redact = createSecretRedactor([config.sendgrid.apiKey, ...config.secrets]);
  const request = `GET ${path}`;
  const status = statusOf(error);
  if (status === 401) {
    return `SendGrid rejected SENDGRID_API_KEY (HTTP 401 to ${request}): the key is wrong or was deleted; create one with the Mail Send permission (Settings > API Keys). No message was sent.`;
  }
  if (status !== null && status >= 400 && status < 500 && status !== 408 && status !== 429) {
    const messages = sendGridMessages(((error ?? {}) as SendGridErrorShape).response?.body, redact);
    return `SendGrid answered HTTP ${status} to ${request}${messages.length ? `: ${messages.join('; ')}` : ''}. No message was sent.`;
  }
  // Redirects, 5xx, 408/429, timeouts and network errors: the mailer's own words name no message.
  return `${translateSendGridError(error, redactUrl(`${apiUrl}${path}`), redact).message} (${request}; no message was sent)`;
}

async function readList<T>(client: Client, config: Config, path: string, parse: (body: unknown) => T[] | null): Promise<ListReadout<T>> {
  try {
    const [, body] = await client.request({ method: 'GET', url: path });
    const entries = parse(body);
    return entries ? { kind: 'read', entries } : { kind: 'error', message: `SendGrid's answer to GET ${path} is not the documented list` };
  } catch (error) {
    if (statusOf(error) === 403) return { kind: 'forbidden' };
    return { kind: 'error', message: describeCheckRequestError(error, config, path) };
  }
}

/** The sender line: is REPORT_FROM a verified single sender, or on an authenticated domain? */
export async function senderLine(client: Client, config: Config): Promise<CheckLine> {
  const address = parseAddress(config.report.from) ?? config.report.from;
  const [senders, domains] = await Promise.all([
    readList<VerifiedSender>(client, config, '/v3/verified_senders', parseVerifiedSenders),
    readList<AuthenticatedDomain>(client, config, '/v3/whitelabel/domains', parseAuthenticatedDomains),
  ]);
  const verdict = judgeSender(address, senders, domains);
  return {
    name: 'sender',
    ok: verdict.status !== 'missing',
    ...(verdict.status === 'unchecked' ? { warn: true } : {}),
    detail: verdict.detail,
  };
}

export async function sendGridLines(deps: { config: Config; now: Clock }): Promise<CheckLine[]> {
  const { config } = deps;
  if (!config.sendgrid.apiKey) {
    return [{ name: 'sendgrid', ok: false, detail: 'SENDGRID_API_KEY is not set: digests can only be written to the outbox (--dry-run).' }];
  }
  const lines: CheckLine[] = [];
  const client = await createSendGridClient({ apiKey: config.sendgrid.apiKey, apiUrl: config.sendgrid.apiUrl, timeoutMs: 15_000 });
  try {
    const sentAt = deps.now().getTime();
    const [response, body] = await client.request({ method: 'GET', url: '/v3/scopes' });
    const receivedAt = deps.now().getTime();
    const date = (response.headers as { date?: unknown } | undefined)?.date;
    lines.push(
      clockLine(
        'SendGrid',
        judgeClock([{ sentAt, receivedAt, serverDate: httpDate(typeof date === 'string' ? date : null) }], receivedAt, 'SendGrid'),
      ),
    );
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
    lines.push({ name: 'sendgrid', ok: false, detail: describeCheckRequestError(error, config, '/v3/scopes') });
    return lines;
  }
  lines.push(await senderLine(client, config));
  return lines;
}
