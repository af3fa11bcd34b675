/** LASTPASS_KNOWN_API_CALLERS: parsing (IPv4, IPv6, "-", problems that name the variable and the fix) and matching. */
import { describe, expect, it } from 'vitest';
import { networkContains, parseIpAddress, parseIpNetwork } from '../src/core/ip-network.js';
import { createKnownCallerLookup, parseKnownApiCallers } from '../src/core/known-callers.js';

const parse = (text: string | undefined) => parseKnownApiCallers(text);
const summary = (text: string) => parse(text).value.map((c) => [c.label, c.key, c.networks.map((n) => n.text)]);

describe('IP networks', () => {
  it.each([
    ['198.51.100.0/24', '198.51.100.77', true],
    ['198.51.100.0/24', '198.51.101.1', false],
    ['198.51.100.7', '198.51.100.7', true],
    ['198.51.100.7', '198.51.100.8', false],
    ['10.0.0.0/8', '10.200.3.4', true],
    ['0.0.0.0/0', '203.0.113.9', true],
    ['198.51.100.128/25', '198.51.100.127', false],
    ['198.51.100.128/25', '198.51.100.200', true],
    ['2001:db8::/32', '2001:db8:85a3::8a2e:370:7334', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['2001:db8:abcd:12::/63', '2001:db8:abcd:13:ffff::1', true],
    ['2001:db8:abcd:12::/64', '2001:db8:abcd:13::1', false],
    ['198.51.100.0/24', '::ffff:198.51.100.9', true],
    ['198.51.100.0/24', '2001:db8::1', false],
    ['2001:db8::/32', '198.51.100.9', false],
    ['fe80::/10', 'fe80::1%eth0', true],
  ])('%s contains %s: %s', (net, ip, inside) => {
    expect(networkContains(parseIpNetwork(net)!, parseIpAddress(ip)!)).toBe(inside);
  });

  it('refuses what is not an address or a network', () => {
    for (const bad of [
      '198.51.100',
      '198.51.100.256',
      '198.51.100.01',
      '198.51.100.0/33',
      '2001:db8::/129',
      '1::2::3',
      'gggg::1',
      'sentinel',
      '',
    ]) {
      expect(parseIpNetwork(bad), bad).toBeNull();
    }
  });

  it('states networks canonically, host bits cleared', () => {
    expect(parseIpNetwork('198.51.100.77/24')!.text).toBe('198.51.100.0/24');
    expect(parseIpNetwork('2001:0db8:0000:0000:0000:0000:0000:0001/32')!.text).toBe('2001:db8::/32');
    expect(parseIpNetwork('2001:db8::1')!.text).toBe('2001:db8::1/128');
  });
});

describe('LASTPASS_KNOWN_API_CALLERS', () => {
  it('unset or empty means no known callers, without problems', () => {
    expect(parse(undefined)).toEqual({ value: [], problems: [] });
    expect(parse('  ')).toEqual({ value: [], problems: [] });
  });

  it('reads labels, label@CIDR (IPv4 and IPv6), "-" for no label, and merges the networks of one label', () => {
    expect(
      summary('Microsoft Sentinel CCP@198.51.100.0/24, splunk.collector ,-@2001:db8::/32,microsoft  sentinel ccp@203.0.113.8,,'),
    ).toEqual([
      ['Microsoft Sentinel CCP', 'microsoft sentinel ccp', ['198.51.100.0/24', '203.0.113.8/32']],
      ['splunk.collector', 'splunk.collector', []],
      ['', '', ['2001:db8::/32']],
    ]);
  });

  it('keeps a label that contains "@" when what follows is not an address', () => {
    expect(summary('svc@corp,backup@example.org@192.0.2.0/28')).toEqual([
      ['svc@corp', 'svc@corp', []],
      ['backup@example.org', 'backup@example.org', ['192.0.2.0/28']],
    ]);
  });

  it('strips quotes around a label', () => {
    expect(summary('"Microsoft Sentinel CCP"@198.51.100.0/24')).toEqual([
      ['Microsoft Sentinel CCP', 'microsoft sentinel ccp', ['198.51.100.0/24']],
    ]);
  });

  it('reports every bad entry at once, naming the variable and the fix', () => {
    const { problems } = parse('Sentinel@198.51.100.0/33,@10.0.0.0/8,splunk.collector,splunk.collector@192.0.2.1,ok');
    expect(problems).toHaveLength(3);
    expect(problems[0]).toBe(
      'LASTPASS_KNOWN_API_CALLERS: "Sentinel@198.51.100.0/33" has an invalid network "198.51.100.0/33": write label@CIDR with an IPv4 or IPv6 network (e.g. "Microsoft Sentinel CCP@198.51.100.0/24", "splunk.collector@2001:db8::/32"), or the label alone to accept it from any address.',
    );
    expect(problems[1]).toContain('"@10.0.0.0/8" has no label');
    expect(problems[1]).toContain('"-" for a caller that sends no label');
    expect(problems[2]).toContain('"splunk.collector" is listed both alone (any address) and with networks (192.0.2.1/32)');
  });

  it('matches a label in any case and spacing, inside or outside its networks', () => {
    const lookup = createKnownCallerLookup(parse('Microsoft Sentinel CCP@198.51.100.0/24,-@2001:db8::/32,splunk.collector').value);
    expect(lookup(' microsoft sentinel  CCP ', '198.51.100.7')).toMatchObject({
      caller: { label: 'Microsoft Sentinel CCP' },
      inside: true,
    });
    expect(lookup('Microsoft Sentinel CCP', '203.0.113.7')).toMatchObject({ inside: false });
    expect(lookup('Microsoft Sentinel CCP', '')).toMatchObject({ inside: false });
    expect(lookup('', '2001:db8::5')).toMatchObject({ caller: { label: '' }, inside: true });
    expect(lookup('', '198.51.100.7')).toMatchObject({ inside: false });
    expect(lookup('splunk.collector', 'anything')).toMatchObject({ inside: true });
    expect(lookup('backup-script', '198.51.100.7')).toBeNull();
  });
});
