/** Redaction of what we send out and what upstreams send back: no secret leaves through a URL or a log line. */

/** The host and path of a URL, never its query (which could carry a token through a proxy). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
