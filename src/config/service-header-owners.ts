// One owner per upstream header: a name declared in a called service's
// `allowed_upstream_headers` must not also be set, on a route where that
// service runs, by a `forward_claims` mapping, another service's declaration
// or the route's `request_headers.add` — the upstream would receive it twice,
// and which copy it believes is its own choice.
import type { Config } from './schema.js';

type Add = (path: string, message: string) => void;

interface Owner {
  /** Config path of the field that sets the header. */
  readonly field: string;
  readonly name: string;
}

/**
 * Names other sources set upstream on route `r`, lower-case → owner. For the
 * authorizer: every authenticator of the chain (whichever accepts, its
 * headers go too) and the route's additions; for an authenticator only the
 * additions (the chain's other authenticators never accept the same request;
 * its own forward_claims are checked once, per authenticator).
 */
function otherOwners(c: Config, r: Config['routes'][number], ri: number, forAuthorizer: boolean): Map<string, Owner> {
  const out = new Map<string, Owner>();
  if (forAuthorizer) {
    for (const n of r.authenticate ?? []) {
      const a = c.authenticators[n];
      if (!a) continue;
      const fc = (a as { forward_claims?: Record<string, string> }).forward_claims ?? {};
      for (const [claim, h] of Object.entries(fc)) out.set(h.toLowerCase(), { field: `authenticators.${n}.forward_claims.${claim}`, name: h });
      if (a.type === 'external') {
        a.allowed_upstream_headers?.forEach((h, j) => out.set(h.toLowerCase(), { field: `authenticators.${n}.allowed_upstream_headers[${j}]`, name: h }));
      }
    }
  }
  for (const h of Object.keys(r.request_headers?.add ?? {})) out.set(h.toLowerCase(), { field: `routes[${ri}].request_headers.add.${h}`, name: h });
  return out;
}

export function checkServiceHeaderOwners(c: Config, add: Add): void {
  const reported = new Set<string>();
  const report = (path: string, message: string) => {
    if (reported.has(path)) return;
    reported.add(path);
    add(path, message);
  };
  // An external authenticator's declaration against its own forward_claims (every route using it).
  for (const [n, a] of Object.entries(c.authenticators)) {
    if (a.type !== 'external') continue;
    const fc = new Map(Object.entries(a.forward_claims).map(([claim, h]) => [h.toLowerCase(), claim]));
    a.allowed_upstream_headers?.forEach((h, i) => {
      const claim = fc.get(h.toLowerCase());
      if (claim !== undefined) {
        report(`authenticators.${n}.allowed_upstream_headers[${i}]`,
          `"${h}" is also the forward_claims header of claim "${claim}" (authenticators.${n}.forward_claims.${claim}): the upstream would receive it twice; keep it in one of the two`);
      }
    });
  }
  c.routes.forEach((r, ri) => {
    const uses: [string, readonly string[], boolean][] = [];
    for (const n of r.authenticate ?? []) {
      const a = c.authenticators[n];
      if (a?.type === 'external' && a.allowed_upstream_headers) uses.push([`authenticators.${n}`, a.allowed_upstream_headers, false]);
    }
    const z = r.authorize?.external;
    const zc = z !== undefined ? c.authorizers[z] : undefined;
    if (zc?.allowed_upstream_headers) uses.push([`authorizers.${z!}`, zc.allowed_upstream_headers, true]);
    for (const [at, names, forAuthorizer] of uses) {
      const others = otherOwners(c, r, ri, forAuthorizer);
      names.forEach((h, i) => {
        const o = others.get(h.toLowerCase());
        if (o === undefined) return;
        report(`${at}.allowed_upstream_headers[${i}]`,
          `"${h}" is also set by ${o.field} on route "${r.name}" (routes[${ri}]), which uses both: the upstream would receive it twice; `
          + `have one of them set it (rename the claim header, or remove the name here)`);
      });
    }
  });
}
