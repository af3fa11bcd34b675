/**
 * "Is this a LastPass sign-in?" is a rule on Action and Data, not on Action alone. The generic `Log in`
 * (and `Login`) is written both for signing in to LastPass (Data: the client, "LastPass via Chrome
 * v4.134.0", "LastPass via Website", or lastpass.com) and for logging in to a site from the vault (Data:
 * the vault item, "VID: 4963227935627314198", or the site, "salesforce.com", "1.1.1.1:1234/example"):
 * Datadog's pipeline parses the VID form as a vault item, Elastic's samples carry both. Only the first kind
 * is a sign-in; the detections must not see the others. Data that is neither (empty, an unknown client
 * string) stays a sign-in: missing one would hide a success after a failure burst.
 */

/** The actions whose sign-in status depends on Data (normalised names). */
export const DATA_RULED_SIGN_INS: ReadonlySet<string> = new Set(['log in', 'login']);

export type LoginTarget = 'lastpass' | 'vault-item' | 'site';

const VAULT_ITEM = /^(?:vid\s*:|secure\s+note\b)/i;
const LASTPASS_CLIENT = /^lastpass\b/i;
const LASTPASS_HOST = /^(?:https?:\/\/)?(?:[\w-]+\.)*lastpass\.(?:com|eu)(?:[:/]|$)/i;
const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;
const HOST_LIKE = /^(?:[\w-]+\.)+[\w-]+(?::\d+)?(?:\/\S*)?$/;

/** What a `Log in` row with this Data logged in to. */
export function loginTarget(data: string): LoginTarget {
  const d = data.trim();
  if (d === '' || LASTPASS_CLIENT.test(d) || LASTPASS_HOST.test(d)) return 'lastpass';
  if (VAULT_ITEM.test(d)) return 'vault-item';
  if (URL_LIKE.test(d) || HOST_LIKE.test(d)) return 'site';
  return 'lastpass';
}
