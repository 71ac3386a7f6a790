// The one gate every upstream request head passes, whichever client writes it
// and wherever its values came from (the client, a token's claims, the
// consumer, an external authenticator's or authorizer's answer, route config).
// Both upstream clients write a head one byte per character (latin1), so the
// head handed to them must already be bytes:
//   - the method is an RFC 9110 token;
//   - every name is a lower-case token;
//   - every value is free of CR, LF, NUL, other controls (HTAB allowed) and DEL;
//     a value with characters above U+007F is text and is rewritten in place
//     as its UTF-8 bytes (one char per byte) — never truncated to latin1, where
//     U+010A would become a bare LF;
//   - the target is visible ASCII (upstreamTarget() makes it so).
// Anything else refuses the request (unsafe_header_value): the gateway never
// repairs a value by dropping or rewriting characters.
import { R } from '../reasons.js';
import { isToken } from '../lib/http-syntax.js';

/** A value that is not all HTAB and visible ASCII/space: checked char by char. */
const ODD_VALUE = /[^\t\x20-\x7e]/;
const LOWER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/**
 * Checks method, target and headers, and converts non-ASCII header values to
 * their UTF-8 byte strings in place. Returns 0, or the reason id to refuse with.
 * This is the only scan of header values on the way upstream (the client's
 * headers are not scanned before it). Allocates only for a value with non-ASCII text.
 */
export function prepareUpstreamHead(method: string, target: string, headers: string[]): number {
  if (!isToken(method)) return R.bad_method;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return R.unsafe_header_value;
  }
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (!LOWER_TOKEN.test(headers[i]!)) return R.unsafe_header_value;
    const v = headers[i + 1]!;
    if (!ODD_VALUE.test(v)) continue;
    for (let j = 0; j < v.length; j++) {
      const c = v.charCodeAt(j);
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) return R.unsafe_header_value;
    }
    headers[i + 1] = Buffer.from(v, 'utf8').toString('latin1');
  }
  return 0;
}
