// The hashes of hot-path tables, in one place.
//
// FNV-1a (32-bit, unseeded): ids and shard choices made from input we
// compare or control anyway (limit definitions, cache shards, metric lanes).
// HalfSipHash-1-3 (seeded): table slots chosen from keys a client sends,
// where an unseeded hash would let it aim many keys at one slot.
//
// Zero allocation: both read the input with charCodeAt / typed-array loads
// and keep their state in local int32 variables. HalfSipHash writes its
// outputs to the caller's Int32Array rather than returning them, because an
// int32 outside the small-integer range returned from a call V8 does not
// inline is boxed (a heap number per call). The SipRound is written inline
// in a message loop and a finalization loop per input kind, not as a
// function over a state array: that would move the state through memory
// every round instead of keeping it in registers, which costs more than the
// rest of the hash. For the same reason each input kind is a function of its
// own (one loop that also switched on the kind per word was measurably
// slower), small enough for V8 to inline into the table lookup.

export const FNV_OFFSET = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;

/** One FNV-1a step: hash `h` with the value `x` (a character, byte or small integer) mixed in. */
export function fnvMix(h: number, x: number): number {
  return Math.imul(h ^ x, FNV_PRIME);
}

/** FNV-1a of s[from, to) continuing from `h` (FNV_OFFSET to start), as an int32. */
export function fnv1aString(h: number, s: string, from: number, to: number): number {
  for (let i = from; i < to; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h | 0;
}

/** FNV-1a of b[from, to) continuing from `h` (FNV_OFFSET to start), as an int32. */
export function fnv1aBytes(h: number, b: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) h = Math.imul(h ^ b[i]!, FNV_PRIME);
  return h | 0;
}

/** FNV-1a of a whole string, as an int32. */
export function fnv1a(s: string): number {
  return fnv1aString(FNV_OFFSET, s, 0, s.length);
}

/** HalfSipHash-1-3 initial-state constants ("lyge", "tedb"). */
const SIP_V2 = 0x6c796765;
const SIP_V3 = 0x74656462;

/**
 * HalfSipHash-1-3 keyed by (k0, k1) of the characters of `s`, four per
 * message word (each ≤ U+00FF; the last word zero-padded). `tweak1` is
 * mixed into v1 and `tweak2` into v2 of the initial state (callers put the
 * table id, length and encoding there: no length block). Writes the first
 * 32-bit output to out[0] (0 becomes 1: callers keep 0 for "empty") and,
 * with `twoOutputs`, the second to out[1]. Returns the OR of the characters:
 * above 0xff the string is not Latin-1 (nothing written): hash it with sipUtf16.
 */
export function sipLatin1(k0: number, k1: number, tweak1: number, tweak2: number, s: string, twoOutputs: boolean, out: Int32Array): number {
  let v0 = k0;
  let v1 = k1 ^ tweak1;
  let v2 = SIP_V2 ^ k0 ^ tweak2;
  let v3 = SIP_V3 ^ k1;
  const L = s.length;
  let or = 0;
  for (let i = 0; i < L; i += 4) {
    let m = 0;
    if (i + 4 <= L) {
      const c0 = s.charCodeAt(i);
      const c1 = s.charCodeAt(i + 1);
      const c2 = s.charCodeAt(i + 2);
      const c3 = s.charCodeAt(i + 3);
      or |= c0 | c1 | c2 | c3;
      m = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24);
    } else {
      for (let j = i, sh = 0; j < L; j++, sh += 8) {
        const c = s.charCodeAt(j);
        or |= c;
        m |= c << sh;
      }
    }
    v3 ^= m;
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
    v0 ^= m;
  }
  if (or > 0xff) return or;
  // finalization: three rounds per output word (a fixed inner count V8 unrolls)
  v2 ^= 0xff;
  for (let p = 0; p < (twoOutputs ? 2 : 1); p++) {
    for (let r = 0; r < 3; r++) {
      v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
    }
    const h = v1 ^ v3;
    out[p] = p === 0 && h === 0 ? 1 : h;
    v1 ^= 0xdd;
  }
  return or;
}

/** As sipLatin1, two UTF-16 units per message word; always both outputs. */
export function sipUtf16(k0: number, k1: number, tweak1: number, tweak2: number, s: string, out: Int32Array): void {
  let v0 = k0;
  let v1 = k1 ^ tweak1;
  let v2 = SIP_V2 ^ k0 ^ tweak2;
  let v3 = SIP_V3 ^ k1;
  const L = s.length;
  for (let i = 0; i < L; i += 2) {
    const m = i + 1 < L ? s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16) : s.charCodeAt(i);
    v3 ^= m;
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
    v0 ^= m;
  }
  // finalization: three rounds per output word (a fixed inner count V8 unrolls)
  v2 ^= 0xff;
  for (let p = 0; p < 2; p++) {
    for (let r = 0; r < 3; r++) {
      v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
    }
    const h = v1 ^ v3;
    out[p] = p === 0 && h === 0 ? 1 : h;
    v1 ^= 0xdd;
  }
}

/** As sipLatin1 over bytes b[off, off + len), four per message word; the first output only. */
export function sipBytes(k0: number, k1: number, tweak1: number, tweak2: number, b: Uint8Array, off: number, len: number, out: Int32Array): void {
  let v0 = k0;
  let v1 = k1 ^ tweak1;
  let v2 = SIP_V2 ^ k0 ^ tweak2;
  let v3 = SIP_V3 ^ k1;
  const last = off + len;
  for (let i = off; i < last; i += 4) {
    let m = 0;
    if (i + 4 <= last) m = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
    else for (let j = i, sh = 0; j < last; j++, sh += 8) m |= b[j]! << sh;
    v3 ^= m;
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
    v0 ^= m;
  }
  v2 ^= 0xff;
  for (let r = 0; r < 3; r++) {
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  }
  const h = v1 ^ v3;
  out[0] = h === 0 ? 1 : h;
}
