// identity_assertion config → an AssertionSigner (keys loaded and checked at load).
import type { CompileContext } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { loadSigningKeys } from './keys.js';
import { AssertionSigner } from './signer.js';

export { AssertionSigner } from './signer.js';

export const JWKS_PATH = '/.well-known/portcullis/jwks.json';

export function compileAssertion(c: Config, upstreamNames: readonly string[], ctx: CompileContext): AssertionSigner | null {
  const a = c.identity_assertion;
  c.routes.forEach((r, i) => {
    if (r.identity_assertion && a === undefined) {
      ctx.issue(`routes[${i}].identity_assertion`, 'needs identity_assertion at the top level (issuer, keys_file): add it, or remove this flag');
    }
  });
  if (a === undefined) return null;
  const keys = loadSigningKeys(ctx.resolvePath(a.keys_file), a.algorithm, (msg) => ctx.issue('identity_assertion.keys_file', msg));
  if (keys === null) return null;
  const forwarded = new Map<string, readonly string[]>();
  for (const [name, cfg] of Object.entries(c.authenticators)) {
    const fc = (cfg as { forward_claims?: Record<string, string> }).forward_claims;
    if (fc) forwarded.set(name, Object.keys(fc));
  }
  return new AssertionSigner(a.header.toLowerCase(), a.issuer, a.algorithm, keys, a.ttl, upstreamNames, forwarded, a.expose_jwks);
}
