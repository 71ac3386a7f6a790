// Credentials carried in the query string (`from: { query: NAME }`) are
// singletons: a parameter an authenticator reads may occur once. Otherwise
// the gateway verifies one value and the upstream may act on another
// (`?access_token=<valid>&access_token=<forged>`).
//
// Every spelling the gateway's extractors could read counts — uWS matches the
// raw name, a detached view (URLSearchParams) the decoded one — and so does
// every spelling an upstream could read: a name is matched as an upstream reads it (WHATWG
// application/x-www-form-urlencoded, what URLSearchParams, Express, Go and
// most frameworks do): `%XX` decoded, `+` is a space, compared as UTF-8
// bytes, case-sensitive. So `access%5Ftoken` is `access_token`;
// `ACCESS_TOKEN` is another parameter. Pairs are split on `&`, and also on
// `;` when counting: some upstreams (Python before 3.9.2, older Rack) still
// split on `;`, and `?x=1;access_token=forged&access_token=valid` would show
// them a second token ("parameter cloaking").
//
// The check scans the query text in place: no substring, no array, no
// decoded copy — a request with one occurrence allocates nothing here.

const PCT = 0x25;
const PLUS = 0x2b;

/** Hex digit value, or -1. */
function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

/** True when q[a, b), form-decoded to UTF-8 bytes, is exactly `name`. */
function keyIs(q: string, a: number, b: number, name: Uint8Array): boolean {
  const n = name.length;
  let j = 0;
  for (let i = a; i < b; i++) {
    let c = q.charCodeAt(i);
    let byte = c < 0x80;
    if (c === PLUS) {
      c = 0x20;
    } else if (c === PCT && i + 2 < b) {
      // A malformed escape stays a literal '%', as URLSearchParams keeps it.
      const h = hexVal(q.charCodeAt(i + 1));
      const l = hexVal(q.charCodeAt(i + 2));
      if (h >= 0 && l >= 0) { c = (h << 4) | l; i += 2; byte = true; }
    }
    if (byte) {
      if (j >= n || name[j] !== c) return false;
      j++;
      continue;
    }
    // A raw non-ASCII character: its UTF-8 bytes.
    let cp = c;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < b) {
      const d = q.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++; }
    }
    if (cp < 0x800) {
      if (j + 2 > n || name[j] !== (0xc0 | (cp >> 6)) || name[j + 1] !== (0x80 | (cp & 0x3f))) return false;
      j += 2;
    } else if (cp < 0x10000) {
      if (j + 3 > n || name[j] !== (0xe0 | (cp >> 12)) || name[j + 1] !== (0x80 | ((cp >> 6) & 0x3f)) || name[j + 2] !== (0x80 | (cp & 0x3f))) return false;
      j += 3;
    } else {
      if (j + 4 > n || name[j] !== (0xf0 | (cp >> 18)) || name[j + 1] !== (0x80 | ((cp >> 12) & 0x3f))
        || name[j + 2] !== (0x80 | ((cp >> 6) & 0x3f)) || name[j + 3] !== (0x80 | (cp & 0x3f))) return false;
      j += 4;
    }
  }
  return j === n;
}

const AMP = 0x26;
const SEMI = 0x3b;
const EQ = 0x3d;
/** Values longer than this are skipped with String#indexOf instead of the character loop. */
const SHORT_VALUE = 24;

/** Index of `ch` in q at or after `from`, or q.length (String#indexOf: native, no per-character loop in JS). */
function nextOf(q: string, ch: string, from: number): number {
  const i = q.indexOf(ch, from);
  return i < 0 ? q.length : i;
}

/** A query parameter name, compiled once. */
class QueryName {
  readonly bytes: Uint8Array;
  constructor(readonly name: string) {
    this.bytes = new TextEncoder().encode(name);
  }
}

/**
 * The credential parameters of one route's authenticators, each a singleton:
 * repeated() is true when any of them occurs more than once (any spelling,
 * any value, empty or none). Such a request is refused before any
 * authenticator reads it: the gateway would check one value and the upstream
 * might act on the other.
 */
export class QuerySingletons {
  private readonly names: readonly QueryName[];
  private readonly seen: Uint8Array;
  /**
   * The shortest name's length in UTF-16 units: no spelling of a name is
   * shorter (an escape is longer, a raw character is one unit per unit).
   */
  private readonly minLength: number;

  constructor(names: Iterable<string>) {
    this.names = [...new Set(names)].map((n) => new QueryName(n));
    this.seen = new Uint8Array(this.names.length);
    this.minLength = this.names.reduce((m, n) => Math.min(m, n.name.length), Infinity);
  }

  get size(): number {
    return this.names.length;
  }

  repeated(q: string): boolean {
    // Two occurrences and a separator: the common short query costs nothing more.
    if (q.length < 2 * this.minLength + 1) return false;
    const names = this.names;
    const seen = this.seen;
    seen.fill(0);
    const len = q.length;
    // Where the next '&' and ';' are, kept across pairs (they only move
    // forward): a long value (a token) is skipped by a native search, short
    // pairs by the character loop, so the whole check is linear in the query
    // whatever its shape (`a&a&a…`, no '=', one huge value).
    let amp = -1;
    let semi = -1;
    let a = 0;
    while (a <= len) {
      // The key: up to '=', '&', ';' or the end.
      let k = a;
      let c = 0;
      for (; k < len; k++) {
        c = q.charCodeAt(k);
        if (c === EQ || c === AMP || c === SEMI) break;
      }
      let e = k;
      if (k < len && c === EQ) {
        // The value: a few characters by hand, then a native search.
        const stop = k + SHORT_VALUE < len ? k + SHORT_VALUE : len;
        for (e = k + 1; e < stop; e++) {
          c = q.charCodeAt(e);
          if (c === AMP || c === SEMI) break;
        }
        if (e === stop && stop < len) {
          if (amp < e) amp = nextOf(q, '&', e);
          if (semi < e) semi = nextOf(q, ';', e);
          e = amp < semi ? amp : semi;
        }
      }
      for (let i = 0; i < names.length; i++) {
        if (keyIs(q, a, k, names[i]!.bytes)) {
          if (seen[i] !== 0) return true;
          seen[i] = 1;
          break;
        }
      }
      a = e + 1;
    }
    return false;
  }
}
