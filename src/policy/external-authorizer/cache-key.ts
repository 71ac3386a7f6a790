// The decision-cache key of an external authorizer, compiled from
// `cache.key` once. The route index always leads the key and each
// authorizer has its own cache, so a cached allow is never reused on another
// route or by another authorizer (heimdall#3454), whatever `key` says.
//
// Parts are joined with NUL. Identity parts are fixed-length digests; any
// other part that itself contains NUL makes the request uncacheable (it goes
// to the service) instead of risking two different requests sharing a key.
import { sha256url } from '../../workers/digest.js';
import type { Identity, RequestView } from '../../contracts.js';
import { claimValue } from '../../auth/identity.js';

const enum Part {
  Identity,
  Consumer,
  Method,
  Path,
  Ip,
  Host,
  Header,
  Claim,
}

export const KEY_PART_HELP = 'identity, consumer, method, route, path, ip, host, header:NAME or claim:NAME';

export interface CompiledKey {
  /** Whether the key names the identity (then a cached decision never outlives it). */
  readonly usesIdentity: boolean;
  /** The key for this request, or null when it cannot be cached. */
  build(view: RequestView): string | null;
}

interface PartDef {
  readonly kind: Part;
  readonly name: string;
}

const identityDigests = new WeakMap<Identity, string>();
const consumerDigests = new WeakMap<Identity, string>();

/** Who the identity is and everything the service was told about it: its claims. */
function identityDigest(id: Identity): string {
  let d = identityDigests.get(id);
  if (d === undefined) {
    d = sha256url(JSON.stringify([id.authenticator, id.consumer, id.claims]));
    identityDigests.set(id, d);
  }
  return d;
}

/** Who the identity is, whatever token it came with (coarser: use when the service decides by consumer alone). */
function consumerDigest(id: Identity): string {
  let d = consumerDigests.get(id);
  if (d === undefined) {
    d = sha256url(JSON.stringify([id.authenticator, id.consumer]));
    consumerDigests.set(id, d);
  }
  return d;
}

function claimText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return `s${v}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `n${String(v)}`;
  return `j${JSON.stringify(v)}`;
}

/** Parses `cache.key`; reports unknown parts through `issue` and returns null then. */
export function compileKey(parts: readonly string[], issue: (index: number, msg: string) => void): CompiledKey | null {
  const defs: PartDef[] = [];
  let ok = true;
  parts.forEach((p, i) => {
    if (p === 'identity') defs.push({ kind: Part.Identity, name: '' });
    else if (p === 'consumer') defs.push({ kind: Part.Consumer, name: '' });
    else if (p === 'method') defs.push({ kind: Part.Method, name: '' });
    else if (p === 'route') { /* always part of the key */ }
    else if (p === 'path') defs.push({ kind: Part.Path, name: '' });
    else if (p === 'ip') defs.push({ kind: Part.Ip, name: '' });
    else if (p === 'host') defs.push({ kind: Part.Host, name: '' });
    else if (p.startsWith('header:') && p.length > 7) defs.push({ kind: Part.Header, name: p.slice(7).toLowerCase() });
    else if (p.startsWith('claim:') && p.length > 6) defs.push({ kind: Part.Claim, name: p.slice(6) });
    else {
      ok = false;
      issue(i, `unknown cache key part "${p}"; use ${KEY_PART_HELP}`);
    }
  });
  if (!ok) return null;
  const kinds = Uint8Array.from(defs.map((d) => d.kind));
  const names = defs.map((d) => d.name);
  const routePrefix: string[] = [];
  const usesIdentity = defs.some((d) => d.kind === Part.Identity || d.kind === Part.Consumer || d.kind === Part.Claim);
  return {
    usesIdentity,
    build(view: RequestView): string | null {
      const ri = view.routeIndex;
      let key = routePrefix[ri];
      if (key === undefined) key = routePrefix[ri] = `${ri}\u0000`;
      const id = view.identity;
      for (let i = 0; i < kinds.length; i++) {
        let v: string;
        switch (kinds[i]) {
          case Part.Identity: v = id === null ? '-' : identityDigest(id); break;
          case Part.Consumer: v = id === null ? '-' : consumerDigest(id); break;
          case Part.Method: v = view.method; break;
          case Part.Path: v = view.path; break;
          case Part.Ip: v = view.clientIp; break;
          case Part.Host: v = view.host; break;
          case Part.Header: v = view.header(names[i]!); break;
          default: v = id === null ? '' : claimText(claimValue(id.claims as Record<string, unknown>, names[i]!)); break;
        }
        if (v.indexOf('\u0000') !== -1) return null;
        key += v;
        key += '\u0000';
      }
      return key;
    },
  };
}
