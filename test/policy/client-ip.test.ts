import { describe, expect, it } from 'vitest';
import { compileClientIp } from '../../src/policy/client-ip.js';
import { formatIp16, parseIpInto } from '../../src/policy/ip.js';

function resolver(trusted: string[]) {
  const issues: string[] = [];
  const r = compileClientIp(trusted, { issue: (p, m) => void issues.push(`${p}: ${m}`) });
  expect(issues).toEqual([]);
  return (peer: string, xff: string) => {
    const peer16 = new Uint8Array(16);
    expect(parseIpInto(peer, peer16)).toBe(true);
    const out = new Uint8Array(16);
    const text = r.resolve(peer16, peer, xff, out);
    // The bytes left in out16 are always the address returned as text.
    expect(formatIp16(out)).toBe(formatIp16(parseTo16(text)));
    return text;
  };
}

function parseTo16(t: string): Uint8Array {
  const b = new Uint8Array(16);
  if (!parseIpInto(t, b)) throw new Error(`not an address: ${t}`);
  return b;
}

describe('client address', () => {
  it('is the socket peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    const client = resolver([]);
    expect(client('203.0.113.9', '1.1.1.1')).toBe('203.0.113.9');
    expect(client('10.0.0.5', '1.1.1.1, 10.0.0.1')).toBe('10.0.0.5');
  });

  it('ignores a spoofed X-Forwarded-For from an untrusted peer', () => {
    const client = resolver(['10.0.0.0/8']);
    expect(client('203.0.113.9', '198.51.100.1')).toBe('203.0.113.9');
    expect(client('2001:db8::9', '10.0.0.1')).toBe('2001:db8::9');
  });

  it('honours X-Forwarded-For from a trusted proxy: the right-most hop', () => {
    const client = resolver(['10.0.0.0/8']);
    expect(client('10.0.0.2', '198.51.100.1')).toBe('198.51.100.1');
  });

  it('skips trusted hops and returns the right-most untrusted one (several hops)', () => {
    const client = resolver(['10.0.0.0/8', '2001:db8:ffff::/48']);
    // spoofed-by-client, real client, then two trusted proxies
    expect(client('10.0.0.2', '6.6.6.6, 198.51.100.1, 10.1.1.1, 10.2.2.2')).toBe('198.51.100.1');
    expect(client('10.0.0.2', '6.6.6.6,198.51.100.1,2001:db8:ffff::1')).toBe('198.51.100.1');
    expect(client('2001:db8:ffff::2', '2001:db8::beef, 10.9.9.9')).toBe('2001:db8::beef');
  });

  it('returns the left-most hop when every hop is trusted', () => {
    const client = resolver(['10.0.0.0/8']);
    expect(client('10.0.0.2', '10.0.0.7, 10.0.0.8')).toBe('10.0.0.7');
  });

  it('stops at a malformed hop and keeps the last good address (garbage is never the client)', () => {
    const client = resolver(['10.0.0.0/8']);
    expect(client('10.0.0.2', '198.51.100.1, garbage')).toBe('10.0.0.2');
    expect(client('10.0.0.2', '198.51.100.1, garbage, 10.0.0.3')).toBe('10.0.0.3');
    expect(client('10.0.0.2', 'garbage, 10.0.0.3')).toBe('10.0.0.3');
    expect(client('10.0.0.2', '1.1.1.1,, 10.0.0.3')).toBe('10.0.0.3');
    expect(client('10.0.0.2', ', 10.0.0.3')).toBe('10.0.0.3');
    expect(client('10.0.0.2', ' ')).toBe('10.0.0.2');
    expect(client('10.0.0.2', '1.1.1.1, 010.0.0.1')).toBe('10.0.0.2');
  });

  it('uses the peer when a trusted proxy sent no X-Forwarded-For', () => {
    const client = resolver(['10.0.0.0/8']);
    expect(client('10.0.0.2', '')).toBe('10.0.0.2');
  });

  it('treats IPv4 peers seen as IPv4-mapped IPv6 like IPv4', () => {
    const client = resolver(['10.0.0.0/8']);
    expect(client('::ffff:10.0.0.2', '198.51.100.1')).toBe('198.51.100.1');
    expect(client('10.0.0.2', '::ffff:198.51.100.1')).toBe('198.51.100.1');
  });

  it('reads hops with ports and brackets, and writes them canonically', () => {
    const client = resolver(['10.0.0.0/8']);
    expect(client('10.0.0.2', '198.51.100.1:4711')).toBe('198.51.100.1');
    expect(client('10.0.0.2', '[2001:DB8:0::1]:443')).toBe('2001:db8::1');
    expect(client('10.0.0.2', '[2001:db8::1]')).toBe('2001:db8::1');
    expect(client('10.0.0.2', '\t2001:0db8::0001 ')).toBe('2001:db8::1');
    expect(client('10.0.0.2', '[1.2.3.4]')).toBe('10.0.0.2');
    expect(client('10.0.0.2', '1.2.3.4:')).toBe('10.0.0.2');
    expect(client('10.0.0.2', '1.2.3.4:123456')).toBe('10.0.0.2');
  });

  it('returns the peer text itself (no new string) for an untrusted peer', () => {
    const r = compileClientIp(['10.0.0.0/8'], { issue: () => {} });
    const peer = ['203', '0', '113', '9'].join('.');
    const b = parseTo16(peer);
    expect(Object.is(r.resolve(b, peer, '1.1.1.1', b), peer)).toBe(true);
  });

  it('reports a bad trusted_proxies entry at its path', () => {
    const issues: string[] = [];
    compileClientIp(['10.0.0.0/8', 'proxy.local'], { issue: (p, m) => void issues.push(`${p}: ${m}`) });
    expect(issues).toEqual(['server.trusted_proxies[1]: "proxy.local" is not a CIDR; write e.g. 10.0.0.0/8 or 2001:db8::/32']);
  });
});
