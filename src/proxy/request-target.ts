// The request target written upstream. uWS hands the gateway the path and
// query decoded from UTF-8, but the upstream client writes one byte per
// character: "Ċ" (U+010A) would go out as a bare LF — request splitting —
// and "é" as one byte instead of the client's two. Anything outside visible
// ASCII is therefore percent-encoded (as UTF-8), the form RFC 3986 requires
// anyway; existing %XX escapes are left as they are.

const HEX = '0123456789ABCDEF';

/** `target` unchanged when it is all visible ASCII (the usual case: one scan, no allocation). */
export function upstreamTarget(target: string): string {
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return encodeFrom(target, i);
  }
  return target;
}

function encodeFrom(s: string, from: number): string {
  let out = s.slice(0, from);
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x21 && c <= 0x7e) {
      out += s[i];
    } else if (c < 0x80) {
      out += `%${HEX[c >> 4]}${HEX[c & 15]}`;
    } else {
      // A surrogate pair is one code point; a lone surrogate becomes U+FFFD.
      const hi = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      const cp = hi >= 0xdc00 && hi <= 0xdfff ? s.slice(i, ++i + 1) : c >= 0xd800 && c <= 0xdfff ? '\ufffd' : s[i]!;
      for (const b of Buffer.from(cp, 'utf8')) out += `%${HEX[b >> 4]}${HEX[b & 15]}`;
    }
  }
  return out;
}

/** The path sent upstream: the route's prefix stripped, the target's base path before it, the query after it. */
export function upstreamPath(path: string, stripPrefix: string, basePath: string, query: string): string {
  let p = path;
  if (stripPrefix !== '') {
    p = p.length === stripPrefix.length ? '/' : p.slice(stripPrefix.length);
    if (p.charCodeAt(0) !== 47) p = '/' + p;
  }
  if (basePath !== '') p = basePath + p;
  return query !== '' ? `${p}?${query}` : p;
}
