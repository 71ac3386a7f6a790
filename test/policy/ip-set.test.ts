import { describe, expect, it } from 'vitest';
import { parseIpInto } from '../../src/policy/ip.js';
import { compileIpSet, parseCidr } from '../../src/policy/ip-set.js';

function issues() {
  const list: { path: string; message: string }[] = [];
  return { list, ctx: { issue: (path: string, message: string) => void list.push({ path, message }) } };
}

function setOf(cidrs: string[]) {
  const { list, ctx } = issues();
  const set = compileIpSet(cidrs, 'x', ctx);
  expect(list).toEqual([]);
  return (ip: string) => {
    const b = new Uint8Array(16);
    if (!parseIpInto(ip, b)) throw new Error(`test address ${ip} does not parse`);
    return set.has(b);
  };
}

describe('IpSet', () => {
  it('matches IPv4 blocks, for IPv4 and IPv4-mapped addresses', () => {
    const has = setOf(['10.0.0.0/8', '192.168.1.0/24']);
    expect(has('10.0.0.1')).toBe(true);
    expect(has('10.255.255.255')).toBe(true);
    expect(has('::ffff:10.1.2.3')).toBe(true);
    expect(has('11.0.0.0')).toBe(false);
    expect(has('9.255.255.255')).toBe(false);
    expect(has('192.168.1.77')).toBe(true);
    expect(has('192.168.2.1')).toBe(false);
    expect(has('::a00:1')).toBe(false); // IPv4-compatible (not mapped) is not IPv4
    expect(has('2001:db8::1')).toBe(false);
  });

  it('matches IPv6 blocks', () => {
    const has = setOf(['2001:db8::/32', 'fe80::1/128']);
    expect(has('2001:db8::1')).toBe(true);
    expect(has('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(true);
    expect(has('2001:db9::')).toBe(false);
    expect(has('fe80::1')).toBe(true);
    expect(has('fe80::2')).toBe(false);
    expect(has('10.0.0.1')).toBe(false);
  });

  it('/32 and /128 hold exactly one address', () => {
    const has = setOf(['198.51.100.7/32', '2001:db8::7/128']);
    expect(has('198.51.100.7')).toBe(true);
    expect(has('198.51.100.6')).toBe(false);
    expect(has('198.51.100.8')).toBe(false);
    expect(has('2001:db8::7')).toBe(true);
    expect(has('2001:db8::6')).toBe(false);
  });

  it('a bare address is a single host', () => {
    const has = setOf(['203.0.113.5', '::1']);
    expect(has('203.0.113.5')).toBe(true);
    expect(has('203.0.113.4')).toBe(false);
    expect(has('::1')).toBe(true);
  });

  it('0.0.0.0/0 holds every IPv4 address and no IPv6 one', () => {
    const has = setOf(['0.0.0.0/0']);
    expect(has('0.0.0.0')).toBe(true);
    expect(has('255.255.255.255')).toBe(true);
    expect(has('::ffff:8.8.8.8')).toBe(true);
    expect(has('2001:db8::1')).toBe(false);
    expect(has('::1')).toBe(false);
  });

  it('::/0 holds every address (IPv4 is ::ffff:a.b.c.d)', () => {
    const has = setOf(['::/0']);
    expect(has('2001:db8::1')).toBe(true);
    expect(has('8.8.8.8')).toBe(true);
  });

  it('::ffff:0:0/96 is all of IPv4, and ::ffff:a.b.c.d/n an IPv4 block', () => {
    const all = setOf(['::ffff:0:0/96']);
    expect(all('1.2.3.4')).toBe(true);
    expect(all('::1')).toBe(false);
    const some = setOf(['::ffff:10.0.0.0/104']);
    expect(some('10.9.9.9')).toBe(true);
    expect(some('11.0.0.1')).toBe(false);
  });

  it('an empty set holds nothing', () => {
    const { ctx } = issues();
    const set = compileIpSet([], 'x', ctx);
    expect(set.empty).toBe(true);
    expect(set.has(new Uint8Array(16))).toBe(false);
  });

  it('agrees with a brute-force check on random blocks and addresses', () => {
    let s = 12345;
    const rnd = (n: number) => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) % n);
    const toBig = (b: Uint8Array) => BigInt('0x' + Buffer.from(b).toString('hex'));
    for (let round = 0; round < 20; round++) {
      const blocks: { net: bigint; bits: number }[] = [];
      const texts: string[] = [];
      for (let k = 0; k < 8; k++) {
        const v4 = rnd(2) === 0;
        const len = v4 ? rnd(33) : rnd(129);
        const addr = v4 ? `10.${rnd(4)}.${rnd(256)}.${rnd(256)}` : `2001:db8:${rnd(4).toString(16)}::${rnd(65536).toString(16)}`;
        const b = new Uint8Array(16);
        parseIpInto(addr, b);
        const bits = v4 ? 96 + len : len;
        const mask = bits === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - bits)) - 1n);
        const net = toBig(b) & mask;
        blocks.push({ net, bits });
        const netHex = net.toString(16).padStart(32, '0');
        const netBytes = Uint8Array.from(Buffer.from(netHex, 'hex'));
        texts.push(v4 ? `${netBytes[12]}.${netBytes[13]}.${netBytes[14]}.${netBytes[15]}/${len}` : `${netHex.match(/.{4}/g)!.join(':')}/${len}`);
      }
      const { list, ctx } = issues();
      const set = compileIpSet(texts, 'x', ctx);
      expect(list).toEqual([]);
      for (let q = 0; q < 200; q++) {
        const v4 = rnd(2) === 0;
        const addr = v4 ? `10.${rnd(4)}.${rnd(256)}.${rnd(256)}` : `2001:db8:${rnd(4).toString(16)}::${rnd(65536).toString(16)}`;
        const b = new Uint8Array(16);
        parseIpInto(addr, b);
        const x = toBig(b);
        const expected = blocks.some(({ net, bits }) => bits === 0 || x >> BigInt(128 - bits) === net >> BigInt(128 - bits));
        expect(set.has(b), `${addr} in ${texts.join(' ')}`).toBe(expected);
      }
    }
  });
});

describe('CIDR errors', () => {
  it('reports a bad CIDR at its config path with an example of a good one', () => {
    const { list, ctx } = issues();
    compileIpSet(['10.0.0.0/8', '10.0.0.0/33'], 'routes[2].authorize.ip_allow', ctx);
    expect(list).toEqual([
      { path: 'routes[2].authorize.ip_allow[1]', message: '"10.0.0.0/33" is not a CIDR; write e.g. 10.0.0.0/8 or 2001:db8::/32' },
    ]);
  });

  for (const bad of ['', 'x', '10.0.0/8', '10.0.0.0/', '10.0.0.0/-1', '10.0.0.0/08', '2001:db8::/129', '10.0.0.0/8/8', 'fe80::/10%eth0', '1.2.3.4/ 8']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      expect(typeof parseCidr(bad)).toBe('string');
    });
  }

  it('says how to write a block with host bits set', () => {
    expect(parseCidr('10.0.0.1/8')).toBe('"10.0.0.1/8" has bits set after the /8 prefix; write 10.0.0.0/8 for the network or 10.0.0.1/32 for the one address');
    expect(parseCidr('2001:db8::1/32')).toBe('"2001:db8::1/32" has bits set after the /32 prefix; write 2001:db8::/32 for the network or 2001:db8::1/128 for the one address');
  });
});
