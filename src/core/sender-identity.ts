/**
 * Is REPORT_FROM a sender SendGrid will send from? Either a verified single sender (GET /v3/verified_senders:
 * `{ results: [{ from_email, verified }] }`) or an address on an authenticated domain (GET
 * /v3/whitelabel/domains: `[{ domain, subdomain, valid }]`). Pure: the two answers come in as values; `check`
 * (commands/check-sendgrid.ts) asks SendGrid. A list the key may not read (403) is "could not check", never
 * a verdict on the sender.
 */

export interface VerifiedSender {
  email: string;
  verified: boolean;
}

export interface AuthenticatedDomain {
  domain: string;
  valid: boolean;
}

/** What one of the two lists came back as. */
export type ListReadout<T> =
  | { kind: 'read'; entries: T[] }
  /** The key lacks the scope to read the list (HTTP 403). */
  | { kind: 'forbidden' }
  | { kind: 'error'; message: string };

export interface SenderVerdict {
  /** ok: SendGrid sends from it · missing: neither (both lists read) · unchecked: a list could not be read. */
  status: 'ok' | 'missing' | 'unchecked';
  detail: string;
}

/** The read access each list needs (SendGrid Settings > API Keys > Restricted Access). */
export const SENDER_LIST_ACCESS = {
  senders: 'read access to Sender Authentication (Settings > API Keys > Restricted Access > Sender Authentication)',
  domains: 'the whitelabel.read scope (Settings > API Keys > Restricted Access > Sender Authentication: Read Access)',
} as const;

/** GET /v3/verified_senders → its senders, or null when the body is not that shape. */
export function parseVerifiedSenders(body: unknown): VerifiedSender[] | null {
  const results = body && typeof body === 'object' ? (body as { results?: unknown }).results : undefined;
  if (!Array.isArray(results)) return null;
  return results.flatMap((r): VerifiedSender[] => {
    const email = r && typeof r === 'object' ? (r as { from_email?: unknown }).from_email : undefined;
    return typeof email === 'string'
      ? [{ email: email.trim().toLowerCase(), verified: (r as { verified?: unknown }).verified === true }]
      : [];
  });
}

/** GET /v3/whitelabel/domains → its domains, or null when the body is not that shape. */
export function parseAuthenticatedDomains(body: unknown): AuthenticatedDomain[] | null {
  if (!Array.isArray(body)) return null;
  return body.flatMap((d): AuthenticatedDomain[] => {
    const domain = d && typeof d === 'object' ? (d as { domain?: unknown }).domain : undefined;
    return typeof domain === 'string' ? [{ domain: domain.trim().toLowerCase(), valid: (d as { valid?: unknown }).valid === true }] : [];
  });
}

/** An address's domain is covered by an authenticated domain when it is that domain or a subdomain of it. */
function covers(authenticated: string, domain: string): boolean {
  return domain === authenticated || domain.endsWith(`.${authenticated}`);
}

/** The verdict on `address` (REPORT_FROM's address part) from the two lists. */
export function judgeSender(
  address: string,
  senders: ListReadout<VerifiedSender>,
  domains: ListReadout<AuthenticatedDomain>,
): SenderVerdict {
  const email = address.trim().toLowerCase();
  const domain = email.slice(email.lastIndexOf('@') + 1);
  const sender = senders.kind === 'read' ? senders.entries.find((s) => s.email === email) : undefined;
  const matching = domains.kind === 'read' ? domains.entries.filter((d) => covers(d.domain, domain)) : [];
  const validDomain = matching.find((d) => d.valid);
  if (sender?.verified) {
    return { status: 'ok', detail: `REPORT_FROM ${email} is a verified single sender in SendGrid` };
  }
  if (validDomain) {
    return { status: 'ok', detail: `REPORT_FROM ${email} is on the authenticated domain ${validDomain.domain} in SendGrid` };
  }

  const senderPart =
    senders.kind === 'read'
      ? sender
        ? `it is a single sender still awaiting verification (open the link SendGrid emailed to ${email}, or resend it from Settings > Sender Authentication)`
        : 'it is not a verified single sender'
      : senders.kind === 'forbidden'
        ? `whether it is a verified single sender could not be checked: SENDGRID_API_KEY may not list verified senders (HTTP 403; it needs ${SENDER_LIST_ACCESS.senders})`
        : `whether it is a verified single sender could not be checked: ${senders.message}`;
  const pending = matching[0];
  const domainPart =
    domains.kind === 'read'
      ? pending
        ? `its domain ${pending.domain} is added but not validated (SendGrid does not see its DNS records yet: Settings > Sender Authentication > Verify)`
        : `${domain} is not an authenticated domain${
            domains.entries.length ? ` (authenticated: ${domains.entries.map((d) => d.domain).join(', ')})` : ' (the account has none)'
          }`
      : domains.kind === 'forbidden'
        ? `whether ${domain} is an authenticated domain could not be checked: SENDGRID_API_KEY may not list authenticated domains (HTTP 403; it needs ${SENDER_LIST_ACCESS.domains})`
        : `whether ${domain} is an authenticated domain could not be checked: ${domains.message}`;

  if (senders.kind === 'read' && domains.kind === 'read') {
    return {
      status: 'missing',
      detail: `SendGrid will not send from REPORT_FROM ${email}: ${senderPart}, and ${domainPart}. Fix one of the two: verify ${email} as a single sender (Settings > Sender Authentication > Verify a Single Sender) or authenticate ${domain} (Settings > Sender Authentication > Authenticate Your Domain); or set REPORT_FROM to an address that is.`,
    };
  }
  return { status: 'unchecked', detail: `could not check REPORT_FROM ${email} fully: ${senderPart}; ${domainPart}.` };
}
