/**
 * The one fetch every outbound request goes through (LastPass, the heartbeat, the alarm webhook; SendGrid's
 * axios client is configured to the same rule in sendgrid-mailer.ts). Redirects are refused: a 3xx is never
 * followed, so a request body carrying a secret (LastPass's `provhash`) never reaches a host other than the
 * configured one, and a moved endpoint is a clear, non-retryable error naming the status and the target host
 * only (a Location's path or query could carry a token). The error is built in one place, `redirectError`.
 */
import { type Service, UpstreamError } from '../../errors.js';
import type { FetchLike } from '../../ports.js';

/** How each service is named in the message, and the variable that sets its endpoint. */
const ENDPOINTS: Record<Service, { name: string; variable: string }> = {
  lastpass: { name: 'LastPass', variable: 'LASTPASS_API_URL' },
  sendgrid: { name: 'SendGrid', variable: 'SENDGRID_API_URL' },
  heartbeat: { name: 'The heartbeat endpoint', variable: 'HEARTBEAT_URL' },
  webhook: { name: 'The alarm webhook', variable: 'NOTIFY_WEBHOOK_URL' },
};

/** The scheme and host of a URL (never its path or query), or "(invalid URL)". */
export function originOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(invalid URL)';
  }
}

/** The host a Location header points to, resolved against the request's URL; null when there is none. */
function targetHost(location: string | null, requestUrl: string): string | null {
  if (location === null || location.trim() === '') return null;
  try {
    return new URL(location.trim(), requestUrl).host || null;
  } catch {
    return null;
  }
}

/**
 * The error for an answer of `status` (3xx) with `location` to a request to `requestUrl`: names the status
 * and the target host, says which variable to set, is never retried.
 */
export function redirectError(service: Service, status: number, location: string | null, requestUrl: string): UpstreamError {
  const { name, variable } = ENDPOINTS[service];
  const host = targetHost(location, requestUrl);
  const shown = status > 0 ? String(status) : 'with a redirect';
  return new UpstreamError(
    `${name} answered ${shown} ${host ? `→ ${host}` : 'without a usable Location'}: set ${variable} to the final endpoint (redirects are never followed, so nothing was sent to another address).`,
    { service, status: status > 0 ? status : null, url: originOf(requestUrl), retryable: false },
  );
}

export function isRedirectStatus(status: number): boolean {
  return status >= 300 && status < 400;
}

/**
 * A fetch that refuses redirects: `redirect: 'manual'` on every request, and any 3xx answer (or an opaque
 * redirect) becomes `redirectError` after its body is discarded.
 */
export function createOutboundFetch(options: { service: Service; fetch?: FetchLike }): FetchLike {
  const inner: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  return async (input, init) => {
    const response = await inner(input, { ...init, redirect: 'manual' });
    if (response.type === 'opaqueredirect' || isRedirectStatus(response.status)) {
      await response.body?.cancel().catch(() => {});
      throw redirectError(options.service, response.status, response.headers.get('location'), String(input));
    }
    return response;
  };
}
