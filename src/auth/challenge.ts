// WWW-Authenticate values are fixed per authenticator and reason: built once
// at compile time so a 401 concatenates nothing.

/** A quoted-string (RFC 9110 §5.6.4): backslash-escapes `"` and `\`. */
export function quoted(s: string): string {
  return `"${s.replace(/["\\]/g, '\\$&')}"`;
}
