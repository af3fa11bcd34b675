/**
 * `LASTPASS_KNOWN_API_CALLERS`: the other integrations that legitimately use the account's one API secret
 * (a SIEM connector, say), as a comma-separated list of `label` or `label@CIDR` entries:
 * `Microsoft Sentinel CCP@198.51.100.0/24,splunk.collector`. `-` stands for "no label" (a connector that
 * sends no `apiuser`). A label listed more than once with networks may call from any of them. Labels are
 * matched like `apiuser` labels: trimmed, inner spaces collapsed, any case. Pure parsing; the integrator
 * wires it into the configuration.
 */
import { parseIpAddress, parseIpNetwork, networkContains, type IpNetwork } from './ip-network.js';

export const KNOWN_CALLERS_VARIABLE = 'LASTPASS_KNOWN_API_CALLERS';

export interface KnownApiCaller {
  /** The label as written ('' for `-`, calls without a label). */
  label: string;
  /** The matching key (see callerKey). */
  key: string;
  /** Networks it may call from; empty: any address. */
  networks: IpNetwork[];
}

/** An `apiuser` label as compared: trimmed, inner whitespace collapsed, lower case. */
export function callerKey(label: string): string {
  return label.trim().replace(/\s+/g, ' ').toLowerCase();
}

/** The tail after the last "@" is an address when it is made of address characters and has a dot, colon or slash. */
const ADDRESS_LIKE = /^[\s0-9a-f.:/[\]%]+$/i;

function unquote(text: string): string {
  const t = text.trim();
  return t.length >= 2 && (t[0] === '"' || t[0] === "'") && t.at(-1) === t[0] ? t.slice(1, -1).trim() : t;
}

export function parseKnownApiCallers(text: string | undefined): { value: KnownApiCaller[]; problems: string[] } {
  const problems: string[] = [];
  const byKey = new Map<string, KnownApiCaller & { anyAddress: boolean }>();
  const entries = (text ?? '').split(',').map((e) => e.trim());
  for (const entry of entries) {
    if (entry === '') continue;
    let labelText = entry;
    let network: IpNetwork | null = null;
    const at = entry.lastIndexOf('@');
    const tail = at >= 0 ? entry.slice(at + 1).trim() : '';
    if (at >= 0 && ADDRESS_LIKE.test(tail) && /[.:/]/.test(tail)) {
      labelText = entry.slice(0, at);
      network = parseIpNetwork(tail);
      if (!network) {
        problems.push(
          `${KNOWN_CALLERS_VARIABLE}: "${entry}" has an invalid network "${tail}": write label@CIDR with an IPv4 or IPv6 network ` +
            '(e.g. "Microsoft Sentinel CCP@198.51.100.0/24", "splunk.collector@2001:db8::/32"), or the label alone to accept it from any address.',
        );
        continue;
      }
    }
    const raw = unquote(labelText);
    if (raw === '') {
      problems.push(
        `${KNOWN_CALLERS_VARIABLE}: "${entry}" has no label: write the caller's apiuser label before the "@", or "-" for a caller that sends no label.`,
      );
      continue;
    }
    const label = raw === '-' ? '' : raw;
    const key = callerKey(label);
    let caller = byKey.get(key);
    if (!caller) byKey.set(key, (caller = { label, key, networks: [], anyAddress: false }));
    if (network === null) caller.anyAddress = true;
    else if (!caller.networks.some((n) => n.text === network.text)) caller.networks.push(network);
  }
  const value: KnownApiCaller[] = [];
  for (const { anyAddress, ...caller } of byKey.values()) {
    if (anyAddress && caller.networks.length > 0) {
      const shown = caller.label || '-';
      problems.push(
        `${KNOWN_CALLERS_VARIABLE}: "${shown}" is listed both alone (any address) and with networks (${caller.networks.map((n) => n.text).join(', ')}): ` +
          `keep only the networks to restrict it, or only "${shown}" to accept it from anywhere.`,
      );
      continue;
    }
    value.push(caller);
  }
  return { value, problems };
}

export type KnownCallerMatch = { caller: KnownApiCaller; inside: boolean } | null;

/**
 * The lookup for one run: a call's label and IP → the known caller it names (and whether the IP is inside
 * its networks), or null for a label nobody listed.
 */
export function createKnownCallerLookup(callers: readonly KnownApiCaller[]): (label: string, ip: string) => KnownCallerMatch {
  const byKey = new Map(callers.map((c) => [c.key, c]));
  return (label, ip) => {
    const caller = byKey.get(callerKey(label));
    if (!caller) return null;
    if (caller.networks.length === 0) return { caller, inside: true };
    const address = parseIpAddress(ip);
    return { caller, inside: address !== null && caller.networks.some((n) => networkContains(n, address)) };
  };
}
