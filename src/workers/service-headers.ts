// Headers a called service (external authn/authz) may add to the upstream
// request: only the names its config declares in `allowed_upstream_headers`
// (Envoy's rule), with valid names and values, never framing, hop-by-hop or
// the gateway's own headers. The routes using the service strip every
// declared name from the client's request (src/server/build.ts), so a value
// the upstream sees under such a name can only come from the service.
import { isReservedUpstreamHeader } from '../config/reserved-headers.js';
import { log } from '../observe/log.js';

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
/** Distinct undeclared names logged per service, then silence: a service cannot flood the log. */
const MAX_LOGGED = 64;

/** The names one service may set, and a once-per-name log of the ones it set without being allowed to. */
export class DeclaredHeaders {
  private readonly allowed: ReadonlySet<string>;
  private readonly logged = new Set<string>();

  /** `field` is the config path of the list (authorizers.NAME.allowed_upstream_headers), named in the log. */
  constructor(names: readonly string[] | undefined, private readonly field: string, private readonly fields: Record<string, unknown>) {
    this.allowed = new Set((names ?? []).map((n) => n.toLowerCase()));
  }

  allows(name: string): boolean {
    if (this.allowed.has(name)) return true;
    if (this.logged.size < MAX_LOGGED && !this.logged.has(name)) {
      this.logged.add(name);
      // The name only: a value may be a credential.
      log.warn('a called service set an upstream header its config does not allow; the header was not forwarded', {
        ...this.fields,
        header: name,
        fix: `add "${name}" to ${this.field} if the upstream should receive it (clients can then no longer send it on those routes)`,
        ...(this.logged.size === MAX_LOGGED ? { note: `no further undeclared names from this service are logged` } : {}),
      });
    }
    return false;
  }
}

/**
 * `{name: value}` from a service's JSON answer → flat [name, value…] (lower-case
 * names) of the declared names, the others skipped. null when the object is
 * malformed (a non-string value, an invalid name, a value with CR/LF/NUL): garbage.
 */
export function serviceHeaders(v: unknown, declared: DeclaredHeaders): string[] | null {
  if (v === undefined) return [];
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const out: string[] = [];
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    const name = k.toLowerCase();
    if (typeof val !== 'string' || !TOKEN_RE.test(name)) return null;
    if (isReservedUpstreamHeader(name) || !declared.allows(name)) continue;
    // Text as it is: the upstream head gate (src/proxy/upstream-head.ts) sends it
    // as UTF-8 bytes, or refuses the request (unsafe_header_value) on controls.
    out.push(name, val);
  }
  return out;
}

/** Headers never copied from the client request to a called service. */
export const NOT_SENT: ReadonlySet<string> = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect']);
