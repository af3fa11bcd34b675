/**
 * IP addresses and CIDR networks, IPv4 and IPv6, for the allow-lists of known API callers. Pure parsing:
 * an address is its bytes (4 or 16); an IPv4-mapped IPv6 address (`::ffff:198.51.100.7`) is the IPv4
 * address it maps, so it matches IPv4 networks.
 */

export interface IpAddress {
  version: 4 | 6;
  bytes: Uint8Array;
}

export interface IpNetwork extends IpAddress {
  /** Leading bits that must match. */
  prefix: number;
  /** Canonical text, "198.51.100.0/24", "2001:db8::/32" (host bits cleared). */
  text: string;
}

function parseIpv4Bytes(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^\d{1,3}$/.test(part) || (part.length > 1 && part.startsWith('0'))) return null;
    const n = Number(part);
    if (n > 255) return null;
    bytes[i] = n;
  }
  return bytes;
}

function parseIpv6Bytes(text: string): Uint8Array | null {
  let body = text;
  // An embedded IPv4 tail ("::ffff:198.51.100.7") is two groups.
  let tail: Uint8Array | null = null;
  const lastColon = body.lastIndexOf(':');
  if (body.includes('.', lastColon)) {
    tail = parseIpv4Bytes(body.slice(lastColon + 1));
    if (!tail) return null;
    body = `${body.slice(0, lastColon + 1)}0:0`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return null;
  const groupsOf = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groupsOf(halves[0]!);
  const rest = halves.length === 2 ? groupsOf(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...new Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i]!;
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
    const n = Number.parseInt(g, 16);
    bytes[2 * i] = n >> 8;
    bytes[2 * i + 1] = n & 0xff;
  }
  if (tail) bytes.set(tail, 12);
  return bytes;
}

const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** "198.51.100.7", "2001:db8::7", "fe80::1%eth0", "[2001:db8::7]" → the address; anything else → null. */
export function parseIpAddress(text: string): IpAddress | null {
  let s = text.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (s.includes(':')) {
    const bytes = parseIpv6Bytes(s);
    if (!bytes) return null;
    if (V4_MAPPED_PREFIX.every((b, i) => bytes[i] === b)) return { version: 4, bytes: bytes.slice(12) };
    return { version: 6, bytes };
  }
  const bytes = parseIpv4Bytes(s);
  return bytes ? { version: 4, bytes } : null;
}

function formatNetwork(version: 4 | 6, bytes: Uint8Array, prefix: number): string {
  if (version === 4) return `${[...bytes].join('.')}/${prefix}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // The longest run of zero groups (two or more) becomes "::".
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  const text = best.len >= 2 ? `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}` : hex.join(':');
  return `${text}/${prefix}`;
}

/** "198.51.100.0/24", "2001:db8::/32", or a bare address (a network of one) → the network; else null. */
export function parseIpNetwork(text: string): IpNetwork | null {
  const s = text.trim();
  const slash = s.indexOf('/');
  const address = parseIpAddress(slash >= 0 ? s.slice(0, slash) : s);
  if (!address) return null;
  const max = address.version === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return null;
    prefix = Number(p);
    if (prefix > max) return null;
  }
  const bytes = address.bytes.slice();
  for (let bit = prefix; bit < max; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return { version: address.version, bytes, prefix, text: formatNetwork(address.version, bytes, prefix) };
}

export function networkContains(network: IpNetwork, address: IpAddress): boolean {
  if (network.version !== address.version) return false;
  const whole = network.prefix >> 3;
  for (let i = 0; i < whole; i++) if (network.bytes[i] !== address.bytes[i]) return false;
  const rest = network.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (network.bytes[whole]! & mask) === (address.bytes[whole]! & mask);
}
