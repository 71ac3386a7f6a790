// Where to send the browser after login: only a same-origin relative path.
// Anything a browser could read as another origin (`//evil`, `/\evil`,
// `/\t/evil` after it strips tabs), an absolute URL, or a control character
// (header injection) becomes "/". No open redirect.

/** `path` + `?query` when it is a safe same-origin relative path, else "/". */
export function safeReturnPath(path: string, query: string): string {
  if (path.length === 0 || path.charCodeAt(0) !== 0x2f /* / */) return '/';
  const second = path.charCodeAt(1);
  if (second === 0x2f || second === 0x5c /* \ */) return '/';
  const full = query === '' ? path : `${path}?${query}`;
  let nonAscii = false;
  for (let i = 0; i < full.length; i++) {
    const c = full.charCodeAt(i);
    // Controls (browsers drop tab/CR/LF inside URLs, so "/\t/evil" is "//evil"), DEL,
    // and backslash anywhere in the path (some browsers read it as "/").
    if (c < 0x21 || c === 0x7f) return '/';
    if (c === 0x5c && i < path.length) return '/';
    if (c > 0x7e) nonAscii = true;
  }
  if (full.length > 2048) return '/';
  // Non-ASCII travels percent-encoded in a Location header.
  return nonAscii ? (/[\ud800-\udfff]/.test(full) ? '/' : encodeURI(full)) : full;
}

/** Validates a return path read back from a login cookie (it was checked when sealed; check again anyway). */
export function isSafeReturnPath(p: unknown): p is string {
  if (typeof p !== 'string') return false;
  const q = p.indexOf('?');
  return p.length > 0 && safeReturnPath(q === -1 ? p : p.slice(0, q), q === -1 ? '' : p.slice(q + 1)) === p;
}
