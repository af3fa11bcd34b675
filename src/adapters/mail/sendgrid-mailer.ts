/**
 * Delivery through the real @sendgrid/mail client. SendGrid's own errors (ResponseError, axios errors)
 * carry the request configuration, including the `Authorization: Bearer <key>` header, so they are never
 * logged or rethrown: they are translated into an UpstreamError that holds only SendGrid's messages.
 *
 * Every failed send is classified (issue #13, `sendOutcome`): *not sent* (connection refused, DNS, a
 * timeout before the request was written, a 3xx, a 4xx other than 408/429) certainly did not leave, and
 * the transient ones are retried here plainly; *unknown* (a timeout after the request was written, a reset,
 * a 5xx, 408/429) may have been accepted, so it is never re-sent here: the caller records it as "maybe
 * sent" and re-sends with the same marker and the "Possible duplicate" notice (src/run/deliver-window.ts).
 */
import type { Client } from '@sendgrid/client';
import type { MailService } from '@sendgrid/mail';
import { type SendOutcome, MessageTooLargeError, UpstreamError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { isRedirectStatus, redirectError } from '../http/outbound-fetch.js';
import { createSecretRedactor, redactUrl, upstreamSnippet, upstreamText, urlCredentials } from '../http/redact.js';
import { toMailData } from './mail-message.js';
import { DEFAULT_RETRY_POLICY, realSleep, withRetry, type RetryPolicy } from '../http/retry.js';
import type { Mailer, Sleep } from '../../ports.js';

export interface SendGridMailerOptions {
  apiKey: string;
  apiUrl: string;
  logger: Logger;
  timeoutMs?: number;
  sleep?: Sleep;
  now?: () => number;
  retryPolicy?: RetryPolicy;
  /** Every other secret of the configuration, redacted from SendGrid's answers too (the key always is). */
  secrets?: readonly string[];
}

/** Without the key: the value-free patterns (bearer tokens, SendGrid-shaped keys, URL credentials). */
const PATTERNS_ONLY = createSecretRedactor([]);

interface SendGridErrorShape {
  code?: unknown;
  message?: unknown;
  syscall?: unknown;
  /** axios: the node:http ClientRequest (maxRedirects 0), whose `writableFinished` says the body left. */
  request?: { writableFinished?: unknown };
  response?: { headers?: Record<string, unknown>; body?: unknown; status?: unknown };
}

/** Transport errors that happen before anything is written: the connection or the name lookup failed. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/** What an HTTP status says about the message: 408/429 and 5xx may have been accepted, any other 4xx was not. */
export function statusOutcome(status: number): SendOutcome {
  return status === 408 || status === 429 || status >= 500 ? 'unknown' : 'not-sent';
}

/** What a transport error (no HTTP answer) says about the message. */
function transportOutcome(e: SendGridErrorShape, code: string, timedOut: boolean): SendOutcome {
  if (NOT_SENT_CODES.has(code)) return 'not-sent';
  // A timeout while connecting, or before the body was handed to the socket: nothing reached SendGrid.
  if (timedOut && e.request?.writableFinished === false) return 'not-sent';
  // A timeout after the request was written, a reset, a hang-up, anything unforeseen: it may have been accepted.
  return 'unknown';
}

/** SendGrid's own error texts from a response body ({ errors: [{ message, field }] }), redacted. */
export function sendGridMessages(body: unknown, redact: (text: string) => string = PATTERNS_ONLY): string[] {
  if (typeof body === 'string') {
    try {
      return sendGridMessages(JSON.parse(body), redact);
    } catch {
      // Not SendGrid's JSON (a gateway's page): a short sample, redacted before it is cut.
      return body.trim() ? [upstreamSnippet(body, redact, 300)] : [];
    }
  }
  if (body && typeof body === 'object' && Array.isArray((body as { errors?: unknown }).errors)) {
    return (body as { errors: unknown[] }).errors
      .map((e) => {
        if (!e || typeof e !== 'object') return '';
        const m = (e as { message?: unknown }).message;
        const f = (e as { field?: unknown }).field;
        const text = typeof m === 'string' ? (typeof f === 'string' && f ? `${m} (field ${f})` : m) : '';
        return upstreamText(text, redact, 1024);
      })
      .filter(Boolean);
  }
  return [];
}

function adviceFor(status: number, messages: string[]): string {
  const all = messages.join(' ').toLowerCase();
  if (all.includes('verified sender') || all.includes('sender identity')) {
    return 'verify REPORT_FROM as a sender in SendGrid (Settings > Sender Authentication) or use an address of an authenticated domain';
  }
  if (status === 401) return 'check SENDGRID_API_KEY: the key is wrong or was deleted';
  if (status === 403) return 'check that SENDGRID_API_KEY has the "Mail Send" permission and that the account may send';
  if (status === 413) return 'the message is too large for SendGrid (over 30 MB); a digest is re-sent once without its attachments';
  return 'check the SendGrid settings';
}

/** Translates anything @sendgrid/mail throws into an UpstreamError without its request config. */
export function translateSendGridError(error: unknown, url: string, redact: (text: string) => string = PATTERNS_ONLY): UpstreamError {
  const e = (error ?? {}) as SendGridErrorShape;
  // Redirects are not followed (maxRedirects 0): axios rejects a 3xx with its response, as an error of its own.
  const redirected = typeof e.response?.status === 'number' && isRedirectStatus(e.response.status) ? e.response.status : null;
  if (redirected !== null) {
    const refused = redirectError('sendgrid', redirected, headerValue(e.response?.headers, 'location'), url);
    // Not followed, so the message never reached the endpoint that sends it.
    return new UpstreamError(refused.message, { service: 'sendgrid', status: redirected, url, retryable: false, sendOutcome: 'not-sent' });
  }
  const status = typeof e.code === 'number' ? e.code : null;
  if (status !== null && e.response) {
    const messages = sendGridMessages(e.response.body, redact);
    const retryable = status === 408 || status === 429 || status >= 500;
    const headers = e.response.headers ?? {};
    const ra = headers['retry-after'];
    const retryAfter = typeof ra === 'string' || typeof ra === 'number' ? Number(ra) : Number.NaN;
    // SendGrid's text is upstream text: redacted where it enters (a gateway may echo the request and its key).
    const text = messages.length ? upstreamText(messages.join('; '), redact) : `HTTP ${status}`;
    // Too large is never retried with the same body (deliver-window.ts re-sends once without attachments).
    const Kind = status === 413 ? MessageTooLargeError : UpstreamError;
    return new Kind(
      retryable
        ? `SendGrid answered HTTP ${status}${status === 429 ? ' (rate limited)' : ''}: ${text}.`
        : `SendGrid refused the message (HTTP ${status}): ${text}. Next: ${adviceFor(status, messages)}.`,
      {
        service: 'sendgrid',
        status,
        url,
        retryable,
        retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : null,
        sendOutcome: statusOutcome(status),
      },
    );
  }
  const code = typeof e.code === 'string' ? e.code : '';
  const timedOut = code === 'ECONNABORTED' || code === 'ETIMEDOUT';
  const sendOutcome = transportOutcome(e, code, timedOut);
  const text = timedOut
    ? sendOutcome === 'unknown'
      ? 'SendGrid did not answer in time after the message was sent.'
      : 'SendGrid did not answer in time (the message was not sent).'
    : sendOutcome === 'unknown'
      ? `The connection to SendGrid at ${url} broke after the message was sent${code ? ` (${code})` : ''}.`
      : `Could not reach SendGrid at ${url}${code ? ` (${code})` : ''} (the message was not sent).`;
  return new UpstreamError(text, { service: 'sendgrid', url, retryable: true, sendOutcome });
}

/** Whether the mailer itself sends again: only what certainly did not leave and may work on another try. */
function retriedHere(error: unknown): boolean {
  return error instanceof UpstreamError && error.retryable && error.sendOutcome === 'not-sent';
}

function headerValue(headers: unknown, name: string): string | null {
  if (!headers || typeof headers !== 'object') return null;
  const h = headers as Record<string, unknown> & { get?: (n: string) => unknown };
  const v = typeof h.get === 'function' ? h.get(name) : h[name];
  return typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : null;
}

/**
 * The real SendGrid client, configured for our endpoint. Loaded on first use: the client library (with
 * axios) is most of an idle worker's memory, and the worker sends once a day.
 */
export async function createSendGridClient(options: { apiKey: string; apiUrl: string; timeoutMs?: number }): Promise<Client> {
  // CommonJS with `export =`: the class is a named export at run time that the typings do not declare.
  const { Client: SendGridClient } = (await import('@sendgrid/client')) as unknown as { Client: new () => Client };
  const client = new SendGridClient();
  client.setApiKey(options.apiKey);
  // setApiKey resets baseUrl to the region default: set ours afterwards.
  client.setDefaultRequest('baseUrl', `${options.apiUrl.replace(/\/+$/, '')}/`);
  client.setDefaultRequest('timeout' as never, (options.timeoutMs ?? 30_000) as never);
  // Redirects are refused, as for every outbound request (adapters/http/outbound-fetch.ts): the key rides in
  // the Authorization header, and a 3xx becomes a non-retryable error naming the target host.
  client.setDefaultRequest('maxRedirects' as never, 0 as never);
  return client;
}

export function createSendGridMailer(options: SendGridMailerOptions): Mailer {
  let mailService: Promise<MailService> | null = null;
  const service = () =>
    (mailService ??= (async () => {
      const { MailService: SendGridMailService } = (await import('@sendgrid/mail')) as unknown as { MailService: new () => MailService };
      const mail = new SendGridMailService();
      mail.setClient(await createSendGridClient(options));
      return mail;
    })());
  const url = redactUrl(`${options.apiUrl.replace(/\/+$/, '')}/v3/mail/send`);
  const redact = createSecretRedactor([options.apiKey, ...urlCredentials(options.apiUrl), ...(options.secrets ?? [])]);
  const now = options.now ?? Date.now;
  return {
    async send(message, sendOptions) {
      const data = toMailData(message);
      const mail = await service();
      const [response] = await withRetry(
        async () => {
          try {
            return await mail.send(data);
          } catch (error) {
            throw translateSendGridError(error, url, redact);
          }
        },
        {
          policy: options.retryPolicy ?? DEFAULT_RETRY_POLICY,
          sleep: options.sleep ?? realSleep,
          logger: options.logger,
          now,
          shouldRetry: retriedHere,
          ...(sendOptions?.deadline === undefined ? {} : { deadline: sendOptions.deadline }),
        },
        { service: 'sendgrid', what: 'mail.send', url },
      );
      const messageId = headerValue(response.headers, 'x-message-id');
      options.logger.info('sendgrid.accepted', {
        key: message.key,
        kind: message.kind,
        status: response.statusCode,
        messageId,
        recipients: message.to.length,
      });
      return { messageId, destination: 'sendgrid' };
    },
  };
}
