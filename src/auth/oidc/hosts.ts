// allowed_hosts: the Host header values a redirect_uri may be built from when
// there is no public_url. Compiled once into a Set and a suffix list; asked
// only when a login or logout builds a URL (never on the session hit path).
import type { CompileContext } from '../../config/load.js';

const ENTRY_RE = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$|^\[[0-9a-f:.]+\](:\d{1,5})?$/;

/**
 * `host` matches an entry `host` on any port, `host:port` on that port only,
 * and `*.example.com` any name ending in `.example.com` (not example.com
 * itself). An empty list allows nothing.
 */
export function compileHostAllowList(entries: readonly string[], at: string, ctx: CompileContext): (host: string) => boolean {
  const exact = new Set<string>();
  const suffixes: { suffix: string; port: string }[] = [];
  entries.forEach((raw, i) => {
    const e = raw.toLowerCase();
    if (!ENTRY_RE.test(e)) {
      ctx.issue(`${at}[${i}]`, `"${raw}" is not a host name, host:port or *.suffix pattern (e.g. app.example.com, localhost:8080, *.example.com)`);
      return;
    }
    if (e.startsWith('*.')) {
      const colon = e.lastIndexOf(':');
      suffixes.push(colon > 0 ? { suffix: e.slice(1, colon), port: e.slice(colon) } : { suffix: e.slice(1), port: '' });
    } else exact.add(e);
  });
  return (host: string): boolean => {
    const h = host.toLowerCase();
    if (exact.has(h)) return true;
    // Without a port in the entry, any port of that host.
    const colon = h.lastIndexOf(':');
    const name = colon > 0 && h.indexOf(']') < colon ? h.slice(0, colon) : h;
    const port = name.length < h.length ? h.slice(name.length) : '';
    if (port !== '' && exact.has(name)) return true;
    for (const s of suffixes) {
      if (name.length > s.suffix.length && name.endsWith(s.suffix) && (s.port === '' || s.port === port)) return true;
    }
    return false;
  };
}
