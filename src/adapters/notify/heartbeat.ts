/**
 * Dead-man's-switch pings (Healthchecks.io convention, which Cronitor and others accept too): a POST to
 * HEARTBEAT_URL/start when a run begins (the monitor then measures its duration and notices one that
 * never ends), to HEARTBEAT_URL after every successful run, to HEARTBEAT_URL/fail after a failed one. If the
 * worker (or the system cron running `run`) dies, the pings stop and the monitoring service alerts.
 * Failures to ping are logged, never fatal. The body (the run's outcome, which may quote an upstream's
 * error) and every error text are redacted of every configured secret and capped (src/adapters/http/redact.ts).
 */
import type { Logger } from '../../logger.js';
import type { FetchLike } from '../../ports.js';
import { createOutboundFetch } from '../http/outbound-fetch.js';
import { capabilityUrlParts, createSecretRedactor, upstreamText } from '../http/redact.js';

export interface Heartbeat {
  ping(outcome: 'start' | 'success' | 'fail', message: string): Promise<void>;
}

export function createHeartbeat(options: {
  url: string;
  logger: Logger;
  fetch?: FetchLike;
  timeoutMs?: number;
  /** Every secret of the configuration (the URL's own secret parts always are). */
  secrets?: readonly string[];
}): Heartbeat {
  const redact = createSecretRedactor([...capabilityUrlParts(options.url), ...(options.secrets ?? [])]);
  // Redirects are refused (the URL's path is the check's secret): a moved endpoint is logged, never followed.
  const fetchImpl = createOutboundFetch({ service: 'heartbeat', ...(options.fetch ? { fetch: options.fetch } : {}) });
  return {
    async ping(outcome, message) {
      // `/start` and `/fail` go on the path, before any query (`…/<slug>?create=1` → `…/<slug>/fail?create=1`).
      const target = new URL(options.url);
      if (outcome !== 'success') target.pathname = `${target.pathname.replace(/\/+$/, '')}/${outcome}`;
      const url = target.toString();
      // The URL's path is the check's secret (anyone holding it can fake pings): logs name the host only.
      const { host } = target;
      try {
        const res = await fetchImpl(url, {
          method: 'POST',
          headers: { 'content-type': 'text/plain; charset=utf-8' },
          body: upstreamText(message, redact),
          signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
        });
        await res.text();
        if (!res.ok) options.logger.warn('heartbeat.rejected', { outcome, status: res.status, host });
        else options.logger.debug('heartbeat.sent', { outcome });
      } catch (error) {
        options.logger.warn('heartbeat.unreachable', {
          outcome,
          host,
          error: upstreamText(error instanceof Error ? error.message : String(error), redact, 400),
        });
      }
    },
  };
}
