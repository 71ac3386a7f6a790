import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { formatIp16, ip16FromBytes, isV4Mapped, parseIpInto } from '../../src/policy/ip.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const parse = (t: string): string | null => {
  const out = new Uint8Array(16);
  return parseIpInto(t, out) ? hex(out) : null;
};

/** WHATWG URL host serialisation: RFC 5952 canonical text, from Node itself. */
const urlCanonical = (bytes: Uint8Array): string => {
  const groups: string[] = [];
  for (let g = 0; g < 8; g++) groups.push(((bytes[2 * g]! << 8) | bytes[2 * g + 1]!).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
};

/** A deterministic PRNG, so a failure can be replayed. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0) & 0xff);
}

describe('parseIpInto', () => {
  it('stores IPv4 as ::ffff:a.b.c.d', () => {
    expect(parse('1.2.3.4')).toBe('00000000000000000000ffff01020304');
    expect(parse('0.0.0.0')).toBe('00000000000000000000ffff00000000');
    expect(parse('255.255.255.255')).toBe('00000000000000000000ffffffffffff');
  });

  it('reads IPv4-mapped IPv6 as the same bytes as IPv4', () => {
    expect(parse('::ffff:1.2.3.4')).toBe(parse('1.2.3.4'));
    expect(parse('::FFFF:102:304')).toBe(parse('1.2.3.4'));
    expect(parse('0:0:0:0:0:ffff:1.2.3.4')).toBe(parse('1.2.3.4'));
  });

  it('reads the IPv6 text forms', () => {
    expect(parse('::')).toBe('0'.repeat(32));
    expect(parse('::1')).toBe('0'.repeat(30) + '01');
    expect(parse('1::')).toBe('0001' + '0'.repeat(28));
    expect(parse('2001:db8::1')).toBe('20010db8' + '0'.repeat(22) + '01');
    expect(parse('2001:DB8:0:0:0:0:0:1')).toBe(parse('2001:db8::1'));
    expect(parse('1:2:3:4:5:6:7::')).toBe('0001000200030004000500060007' + '0000');
    expect(parse('::2:3:4:5:6:7:8')).toBe('0000000200030004000500060007' + '0008');
    expect(parse('fe80::1:2')).toBe('fe80' + '0'.repeat(20) + '00010002');
    expect(parse('::1.2.3.4')).toBe('0'.repeat(24) + '01020304');
  });

  const INVALID = [
    '', ' ', '1', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.-1', '01.2.3.4', '1.2.3.04', '1..2.3', '1.2.3.4 ',
    ' 1.2.3.4', '1.2.3.4:80', 'a.b.c.d', '1.2.3.1000', ':', ':::', '1:::2', '::1::', '1::2::3', ':1::', '1::2:',
    '12345::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8::', 'fe80::1%eth0', '[::1]', 'g::1',
    '::ffff:1.2.3', '::ffff:1.2.3.4.5', '1.2.3.4::', '::1.2.3.4:5', '1:2:3:4:5:6:7:1.2.3.4', 'localhost',
  ];
  for (const t of INVALID) {
    it(`refuses ${JSON.stringify(t)}`, () => {
      expect(parse(t)).toBeNull();
      // Node agrees it is not a (zone-less, strict) address, unless it is one Node reads loosely.
      if (!t.includes('%')) expect(isIP(t)).toBe(0);
    });
  }

  it('agrees with node:net on random addresses in every text form', () => {
    const rnd = prng(7);
    const out = new Uint8Array(16);
    for (let n = 0; n < 2000; n++) {
      const b = new Uint8Array(16);
      for (let k = 0; k < 16; k++) b[k] = rnd() < 96 ? 0 : rnd(); // plenty of zero runs
      const canonical = urlCanonical(b);
      expect(isIP(canonical)).toBe(6);
      expect(parseIpInto(canonical, out)).toBe(true);
      expect(hex(out)).toBe(hex(b));
      const full = Array.from({ length: 8 }, (_, g) => ((b[2 * g]! << 8) | b[2 * g + 1]!).toString(16).padStart(4, '0')).join(':');
      expect(parseIpInto(full.toUpperCase(), out)).toBe(true);
      expect(hex(out)).toBe(hex(b));
    }
  });

  it('reads a substring without touching the rest', () => {
    const out = new Uint8Array(16);
    const s = 'x, 10.1.2.3 ,y';
    expect(parseIpInto(s, out, 3, 11)).toBe(true);
    expect(formatIp16(out)).toBe('10.1.2.3');
  });
});

describe('formatIp16', () => {
  it('writes IPv4 and IPv4-mapped as a dotted quad', () => {
    const out = new Uint8Array(16);
    parseIpInto('::ffff:10.0.0.1', out);
    expect(isV4Mapped(out)).toBe(true);
    expect(formatIp16(out)).toBe('10.0.0.1');
  });

  it('writes RFC 5952 canonical IPv6, as the WHATWG URL serialiser does', () => {
    const rnd = prng(11);
    for (let n = 0; n < 2000; n++) {
      const b = new Uint8Array(16);
      for (let k = 0; k < 16; k++) b[k] = rnd() < 128 ? 0 : rnd();
      if (isV4Mapped(b)) continue;
      expect(formatIp16(b)).toBe(urlCanonical(b));
    }
    const out = new Uint8Array(16);
    for (const [t, c] of [['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], ['0:0:0:0:0:0:0:0', '::'], ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7']]) {
      expect(parseIpInto(t!, out)).toBe(true);
      expect(formatIp16(out)).toBe(c);
    }
  });
});

describe('ip16FromBytes', () => {
  it('maps a 4-byte peer address and copies a 16-byte one', () => {
    const out = new Uint8Array(16);
    expect(ip16FromBytes(Uint8Array.of(127, 0, 0, 1), out)).toBe(true);
    expect(formatIp16(out)).toBe('127.0.0.1');
    const v6 = new Uint8Array(16);
    v6[15] = 1;
    expect(ip16FromBytes(v6, out)).toBe(true);
    expect(formatIp16(out)).toBe('::1');
    expect(ip16FromBytes(new Uint8Array(5), out)).toBe(false);
  });

  it('reads the uncompressed IPv6 text uWS writes', () => {
    const out = new Uint8Array(16);
    expect(parseIpInto('0000:0000:0000:0000:0000:ffff:7f00:0001', out)).toBe(true);
    expect(formatIp16(out)).toBe('127.0.0.1');
  });
});
