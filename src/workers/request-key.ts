// A cache key over a request's inputs, compiled once from the parts
// key-rule.ts settles on (by default: everything the service is sent). Used
// by the external authorizer's decision cache (seeded with the route index:
// each authorizer has its own cache and a cached allow is never reused on
// another route, heimdall#3454, whatever `key` says) and the external
// authenticator's answer cache (not seeded: it is not sent the route, and
// who the caller is does not change with it).
//
// No key string is built per request: the parts are read into a reused array
// and hashed (FNV-1a) in place; an entry stores its parts and a hit compares
// them one by one (parts-cache.ts), so a hash collision costs a miss, never a
// wrong answer. Identity parts are fixed-length digests memoised per Identity object.
import { sha256url } from './digest.js';
import type { Identity, RequestView } from '../contracts.js';
import { claimValue } from '../lib/claims.js';
import { fnv1aString, fnvMix, FNV_OFFSET } from '../lib/hash.js';


const enum Part {
  Identity,
  Consumer,
  Method,
  Path,
  Query,
  Ip,
  Host,
  Header,
  Claim,
}

export const KEY_PART_HELP = 'identity, consumer, method, route, path, query, ip, host, header:NAME or claim:NAME';

export interface CompiledKey {
  /** Whether the key names the identity (then a cached decision never outlives it). */
  readonly usesIdentity: boolean;
  /** Number of parts (besides the route). */
  readonly size: number;
  /** Reads this request's parts into `out` (length `size`) and returns their hash (with the route index when `seedRoute`). */
  fill(view: RequestView, out: string[]): number;
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

/**
 * Parses `cache.key`; reports unknown parts through `issue` and returns null
 * then. `seedRoute`: the route index goes into the hash (the caller's cache
 * must then also compare it, as DecisionCache does).
 */
export function compileKey(parts: readonly string[], issue: (index: number, msg: string) => void, seedRoute = true): CompiledKey | null {
  const defs: PartDef[] = [];
  let ok = true;
  parts.forEach((p, i) => {
    if (p === 'identity') defs.push({ kind: Part.Identity, name: '' });
    else if (p === 'consumer') defs.push({ kind: Part.Consumer, name: '' });
    else if (p === 'method') defs.push({ kind: Part.Method, name: '' });
    else if (p === 'route') { /* always part of the key */ }
    else if (p === 'path') defs.push({ kind: Part.Path, name: '' });
    else if (p === 'query') defs.push({ kind: Part.Query, name: '' });
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
  const usesIdentity = defs.some((d) => d.kind === Part.Identity || d.kind === Part.Consumer || d.kind === Part.Claim);
  return {
    usesIdentity,
    size: kinds.length,
    fill(view: RequestView, out: string[]): number {
      const id = view.identity;
      let h = fnvMix(FNV_OFFSET, seedRoute ? view.routeIndex : 0);
      for (let i = 0; i < kinds.length; i++) {
        let v: string;
        switch (kinds[i]) {
          case Part.Identity: v = id === null ? '-' : identityDigest(id); break;
          case Part.Consumer: v = id === null ? '-' : consumerDigest(id); break;
          case Part.Method: v = view.method; break;
          case Part.Path: v = view.path; break;
          case Part.Query: v = view.query; break;
          case Part.Ip: v = view.clientIp; break;
          case Part.Host: v = view.host; break;
          case Part.Header: v = view.header(names[i]!); break;
          default: v = id === null ? '' : claimText(claimValue(id.claims as Record<string, unknown>, names[i]!)); break;
        }
        out[i] = v;
        h = fnv1aString(fnvMix(h, v.length), v, 0, v.length);
      }
      // 30 bits: a small integer V8 keeps unboxed (no heap number per lookup).
      return h & 0x3fffffff;
    },
  };
}
