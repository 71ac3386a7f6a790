// The hashes of hot-path tables, written once.
//
// FNV-1a (32-bit, unseeded): ids and shard choices made from input we
// compare or control anyway (limit definitions, cache shards, metric lanes).
// HalfSipHash-1-3 (seeded): table slots chosen from keys a client sends,
// where an unseeded hash would let it aim many keys at one slot.
//
// Zero allocation: both read the input with charCodeAt / typed-array loads
// and keep their state in local int32 variables. HalfSipHash writes its
// outputs to a caller's Int32Array rather than returning them, because an
// int32 outside the small-integer range returned from a call V8 does not
// inline is boxed (a heap number per call). Its SipRound is written once,
// inline in the one loop that runs message and finalization rounds: a round
// as a function over a state array would move the state through memory
// every round instead of keeping it in registers.

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

/** halfSipHash13 input: four characters (each ≤ U+00FF) of the string per message word. */
export const SIP_LATIN1 = 0;
/** halfSipHash13 input: two UTF-16 units of the string per message word. */
export const SIP_UTF16 = 1;
/** halfSipHash13 input: four bytes of the array per message word. */
export const SIP_BYTES = 2;

/**
 * HalfSipHash-1-3 keyed by (k0, k1) of `len` units of `s` (SIP_LATIN1,
 * SIP_UTF16) or bytes of `b` from `off` (SIP_BYTES), the last word
 * zero-padded. `tweak1` is mixed into v1 and `tweak2` into v2 of the initial
 * state (callers put the table, length and encoding there: no length block).
 * Writes the first 32-bit output to out[0] (0 becomes 1: callers keep 0 for
 * "empty") and, with `twoOutputs`, the second to out[1]. Returns the OR of
 * the characters read (SIP_LATIN1: above 0xff means the string needs
 * SIP_UTF16), 0 for bytes.
 */
export function halfSipHash13(
  k0: number, k1: number, tweak1: number, tweak2: number,
  enc: number, s: string, b: Uint8Array | null, off: number, len: number,
  twoOutputs: boolean, out: Int32Array,
): number {
  let v0 = k0;
  let v1 = k1 ^ tweak1;
  let v2 = 0x6c796765 ^ k0 ^ tweak2;
  let v3 = 0x74656462 ^ k1;
  const words = enc === SIP_UTF16 ? (len + 1) >> 1 : (len + 3) >> 2;
  const rounds = words + (twoOutputs ? 6 : 3);
  let or = 0;
  for (let r = 0; r < rounds; r++) {
    let m = 0;
    if (r < words) {
      if (enc === SIP_LATIN1) {
        const i = r << 2;
        if (i + 4 <= len) {
          const c0 = s.charCodeAt(i);
          const c1 = s.charCodeAt(i + 1);
          const c2 = s.charCodeAt(i + 2);
          const c3 = s.charCodeAt(i + 3);
          or |= c0 | c1 | c2 | c3;
          m = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24);
        } else {
          for (let j = i, sh = 0; j < len; j++, sh += 8) {
            const c = s.charCodeAt(j);
            or |= c;
            m |= c << sh;
          }
        }
      } else if (enc === SIP_UTF16) {
        const i = r << 1;
        m = i + 1 < len ? s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16) : s.charCodeAt(i);
      } else {
        const i = off + (r << 2);
        const end = off + len;
        if (i + 4 <= end) m = b![i]! | (b![i + 1]! << 8) | (b![i + 2]! << 16) | (b![i + 3]! << 24);
        else for (let j = i, sh = 0; j < end; j++, sh += 8) m |= b![j]! << sh;
      }
      v3 ^= m;
    } else if (r === words) {
      v2 ^= 0xff; // finalization: three rounds
    } else if (r === words + 3) {
      const h = v1 ^ v3; // the first output; the second takes three more rounds
      out[0] = h === 0 ? 1 : h;
      v1 ^= 0xdd;
    }
    // SipRound (32-bit)
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
    v0 ^= m;
  }
  const h = v1 ^ v3;
  if (twoOutputs) out[1] = h;
  else out[0] = h === 0 ? 1 : h;
  return or;
}
