// A set of CIDR blocks with an allocation-free lookup. IPv4 (and v4-mapped)
// addresses search sorted, merged ranges in a Uint32Array (binary search,
// log2 of the number of blocks); IPv6 addresses walk a binary trie in typed
// arrays (at most the longest prefix in the set).
//
// Containment is 128-bit: IPv4 is ::ffff:a.b.c.d, so an IPv6 block that
// covers ::ffff:0:0/96 (e.g. ::/0) also covers IPv4 clients; a v4 block or a
// ::ffff:a.b.c.d/n block matches both v4 and v4-mapped addresses.
import type { CompileContext } from '../config/load.js';
import { formatIp16, isV4Mapped, parseIpInto } from './ip.js';

/** Growable binary trie, frozen into typed arrays when built. Node 0 is the root; child 0 = none. */
class TrieBuilder {
  readonly zero: number[] = [0];
  readonly one: number[] = [0];
  readonly term: number[] = [0];

  /** Adds the first `bits` bits of `bytes` starting at bit `fromBit`. */
  add(bytes: Uint8Array, fromBit: number, bits: number): void {
    let node = 0;
    for (let d = 0; d < bits; d++) {
      if (this.term[node] === 1) return; // a shorter block already covers this one
      const b = fromBit + d;
      const bit = (bytes[b >> 3]! >> (7 - (b & 7))) & 1;
      const kids = bit === 0 ? this.zero : this.one;
      let next = kids[node]!;
      if (next === 0) {
        next = this.term.length;
        this.zero.push(0);
        this.one.push(0);
        this.term.push(0);
        kids[node] = next;
      }
      node = next;
    }
    this.term[node] = 1;
  }

  build(): Trie {
    return new Trie(Int32Array.from(this.zero), Int32Array.from(this.one), Uint8Array.from(this.term), this.term.length > 1 || this.term[0] === 1);
  }
}

/** IPv4 blocks as merged, sorted [start, end] pairs. */
class V4RangesBuilder {
  private readonly ranges: [number, number][] = [];

  add(ip16: Uint8Array, bits: number): void {
    const start = v4At(ip16);
    const size = 2 ** (32 - bits);
    this.ranges.push([start, start + size - 1]);
  }

  build(): V4Ranges {
    const sorted = this.ranges.sort((a, b) => a[0] - b[0]);
    const flat: number[] = [];
    for (const [s, e] of sorted) {
      const n = flat.length;
      if (n > 0 && s <= flat[n - 1]! + 1) flat[n - 1] = Math.max(flat[n - 1]!, e);
      else flat.push(s, e);
    }
    return new V4Ranges(Uint32Array.from(flat));
  }
}

function v4At(ip16: Uint8Array): number {
  return ((ip16[12]! << 24) | (ip16[13]! << 16) | (ip16[14]! << 8) | ip16[15]!) >>> 0;
}

class V4Ranges {
  readonly nonEmpty: boolean;
  constructor(private readonly r: Uint32Array) {
    this.nonEmpty = r.length > 0;
  }

  has(ip16: Uint8Array): boolean {
    const r = this.r;
    const x = v4At(ip16);
    // last range whose start <= x
    let lo = 0;
    let hi = (r.length >> 1) - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (r[mid << 1]! <= x) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && x <= r[(hi << 1) + 1]!;
  }
}

class Trie {
  constructor(
    private readonly zero: Int32Array,
    private readonly one: Int32Array,
    private readonly term: Uint8Array,
    readonly nonEmpty: boolean,
  ) {}

  /** Walks `maxBits` bits of `bytes` from bit `fromBit`; true when a stored block contains them. */
  has(bytes: Uint8Array, fromBit: number, maxBits: number): boolean {
    const zero = this.zero;
    const one = this.one;
    const term = this.term;
    let node = 0;
    for (let d = 0; d < maxBits; d++) {
      if (term[node] === 1) return true;
      const b = fromBit + d;
      node = ((bytes[b >> 3]! >> (7 - (b & 7))) & 1) === 0 ? zero[node]! : one[node]!;
      if (node === 0) return false;
    }
    return term[node] === 1;
  }
}

export class IpSet {
  /** The blocks as written (normalised), for logs and /config. */
  readonly cidrs: readonly string[];
  constructor(
    private readonly v4: V4Ranges,
    private readonly v6: Trie,
    cidrs: readonly string[],
  ) {
    this.cidrs = cidrs;
  }

  get empty(): boolean {
    return !this.v4.nonEmpty && !this.v6.nonEmpty;
  }

  /** True when the 16-byte address is inside one of the blocks. No allocation. */
  has(ip16: Uint8Array): boolean {
    return isV4Mapped(ip16) ? this.v4.has(ip16) : this.v6.has(ip16, 0, 128);
  }
}

export interface Cidr {
  readonly ip16: Uint8Array;
  /** Prefix length over the 128-bit form (an IPv4 /n is 96 + n). */
  readonly bits: number;
}

/**
 * Parses `a.b.c.d/n`, `x::y/n`, or a bare address (one host). Returns a
 * message explaining the problem instead when the text is not a CIDR block.
 */
export function parseCidr(text: string): Cidr | string {
  const t = text.trim();
  const hint = 'write e.g. 10.0.0.0/8 or 2001:db8::/32';
  const slash = t.indexOf('/');
  const addrEnd = slash < 0 ? t.length : slash;
  const ip16 = new Uint8Array(16);
  if (!parseIpInto(t, ip16, 0, addrEnd)) return `"${text}" is not a CIDR; ${hint}`;
  const v4 = t.indexOf(':') < 0;
  const max = v4 ? 32 : 128;
  let len = max;
  if (slash >= 0) {
    const ls = t.slice(slash + 1);
    if (!/^(0|[1-9]\d{0,2})$/.test(ls) || Number(ls) > max) return `"${text}" is not a CIDR; ${hint}`;
    len = Number(ls);
  }
  const bits = v4 ? 96 + len : len;
  // Host bits set (10.0.0.1/8) usually means a typo; say which of two readings to write.
  for (let b = bits; b < 128; b++) {
    if ((ip16[b >> 3]! >> (7 - (b & 7))) & 1) {
      const net = new Uint8Array(ip16);
      for (let c = bits; c < 128; c++) net[c >> 3]! &= ~(1 << (7 - (c & 7)));
      const netText = v4 ? `${net[12]}.${net[13]}.${net[14]}.${net[15]}` : formatIp16(net);
      return `"${text}" has bits set after the /${len} prefix; write ${netText}/${len} for the network or ${t.slice(0, addrEnd)}/${max} for the one address`;
    }
  }
  return { ip16, bits };
}


/**
 * Compiles CIDR strings into an IpSet. Bad entries are reported as
 * `${at}[i]: …` through ctx.issue and left out.
 */
export function compileIpSet(cidrs: readonly string[], at: string, ctx: Pick<CompileContext, 'issue'>): IpSet {
  const v4 = new V4RangesBuilder();
  const v6 = new TrieBuilder();
  const kept: string[] = [];
  cidrs.forEach((text, i) => {
    const c = parseCidr(text);
    if (typeof c === 'string') {
      ctx.issue(`${at}[${i}]`, c);
      return;
    }
    kept.push(text.trim());
    if (c.bits >= 96 && isV4Mapped(c.ip16)) {
      v4.add(c.ip16, c.bits - 96);
    } else {
      v6.add(c.ip16, 0, c.bits);
      // An IPv6 block that contains all of ::ffff:0:0/96 also contains every IPv4 address.
      if (c.bits <= 96 && coversMapped(c)) v4.add(c.ip16, 0);
    }
  });
  return new IpSet(v4.build(), v6.build(), kept);
}

/** Does the block contain ::ffff:0:0/96? (its first `bits` bits agree with that prefix) */
function coversMapped(c: Cidr): boolean {
  for (let b = 0; b < c.bits; b++) {
    const want = b >= 80 && b < 96 ? 1 : 0;
    if (((c.ip16[b >> 3]! >> (7 - (b & 7))) & 1) !== want) return false;
  }
  return true;
}
