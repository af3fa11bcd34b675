/**
 * The second alarm channel: a POST of the alarm (core/alarm.ts) to NOTIFY_WEBHOOK_URL in its format.
 * Retries as for SendGrid (http/retry.ts: a network error, 408, 429 and 5xx are retried with backoff,
 * Retry-After honoured, never past the deadline; any other 4xx is final); redirects are refused
 * (http/outbound-fetch.ts). The URL is a secret (its path or query is the webhook's token): logs and errors
 * name its scheme and host only, and the payload never carries any configured secret. The upstream's
 * answer is quoted cut, on one line, with URLs reduced to their host. Never throws.
 */
import { type AlarmNotice, alarmPayload, clean, type WebhookFormat } from '../../core/alarm.js';
import { UpstreamError, describeError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { FetchLike, Notifier, NotifyResult, Sleep } from '../../ports.js';
import { capabilityUrlParts, createSecretRedactor } from '../http/redact.js';
import { createOutboundFetch, originOf } from '../http/outbound-fetch.js';
import { DEFAULT_RETRY_POLICY, realSleep, type RetryPolicy, withRetry } from '../http/retry.js';

export interface WebhookNotifierOptions {
  url: string;
  format: WebhookFormat;
  logger: Logger;
  /** Every configured secret: replaced in the payload should one ever reach a text (defence in depth). */
  secrets?: readonly string[];
  fetch?: FetchLike;
  sleep?: Sleep;
  now?: () => number;
  retryPolicy?: RetryPolicy;
  timeoutMs?: number;
  random?: () => number;
}

/**
 * The receiver's answer as its error quotes it: redacted (http/redact.ts), one line of at most 200 characters
 * with no control characters (core/alarm.ts `clean`), and any URL cut to its origin (a receiver may echo
 * another capability URL than ours).
 */
function quotedAnswer(answer: string, redact: (text: string) => string): string {
  return clean(
    redact(answer).replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (u) => originOf(u)),
    200,
  );
}

/** Redacts every string of a JSON value (every configured secret in every form: http/redact.ts). */
function scrub(value: unknown, redact: (text: string) => string): unknown {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redact(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value);
}

function retryAfterSeconds(header: string | null): number | null {
  if (header === null) return null;
  const n = Number(header.trim());
  return Number.isFinite(n) && n >= 0 ? n : null;
}

export function createWebhookNotifier(options: WebhookNotifierOptions): Notifier {
  const { logger, format } = options;
  const fetchImpl = createOutboundFetch({ service: 'webhook', ...(options.fetch ? { fetch: options.fetch } : {}) });
  const origin = originOf(options.url);
  const redact = createSecretRedactor([...capabilityUrlParts(options.url), ...(options.secrets ?? [])]);
  const now = options.now ?? Date.now;

  const attempt = async (body: string): Promise<void> => {
    let res: Response;
    try {
      res = await fetchImpl(options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body,
        signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      });
    } catch (error) {
      if (error instanceof UpstreamError) throw error; // a refused redirect: final
      const cause = error as { name?: string; cause?: { code?: string } };
      const code = cause.cause?.code ?? cause.name ?? 'network error';
      throw new UpstreamError(`The alarm webhook at ${origin} could not be reached (${code}).`, {
        service: 'webhook',
        url: origin,
        retryable: true,
      });
    }
    const answer = await res.text().catch(() => '');
    if (res.ok) return;
    const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
    const quoted = quotedAnswer(answer, redact);
    throw new UpstreamError(
      `The alarm webhook at ${origin} answered ${res.status}${quoted ? ` ("${quoted}")` : ''}: ${
        retryable ? 'it is not available now' : 'check NOTIFY_WEBHOOK_URL (and NOTIFY_WEBHOOK_FORMAT) against the channel that issued it'
      }.`,
      {
        service: 'webhook',
        status: res.status,
        url: origin,
        retryable,
        retryAfterSeconds: retryAfterSeconds(res.headers.get('retry-after')),
      },
    );
  };

  return {
    async notify(notice: AlarmNotice, notifyOptions = {}): Promise<NotifyResult> {
      const body = JSON.stringify(scrub(alarmPayload(notice, format), redact));
      try {
        await withRetry(
          () => attempt(body),
          {
            policy: options.retryPolicy ?? DEFAULT_RETRY_POLICY,
            sleep: options.sleep ?? realSleep,
            logger,
            now,
            ...(notifyOptions.deadline === undefined ? {} : { deadline: notifyOptions.deadline }),
            ...(options.random ? { random: options.random } : {}),
          },
          { service: 'webhook', what: `${notice.kind} alarm` },
        );
        logger.info('notify.sent', { kind: notice.kind, format, host: origin, window: notice.window.key });
        return { sent: true, format };
      } catch (error) {
        const message = describeError(error);
        logger.warn('notify.failed', { kind: notice.kind, format, host: origin, error: message });
        return { sent: false, format, error: message };
      }
    },
  };
}
