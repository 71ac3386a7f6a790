// identity_assertion.keys_file: a private JWKS. The first key signs; every
// key's public half is published (the JWKS upstreams verify with), so a new
// key can be published before it signs and an old one kept until its
// assertions have expired. Every key must fit the configured algorithm.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface SigningKeys {
  readonly kid: string;
  readonly key: KeyObject;
  /** The public JWKS, as served at /.well-known/portcullis/jwks.json. */
  readonly jwksJson: string;
}

const FITS: Record<'ES256' | 'EdDSA', { kty: string; crv: string; how: string }> = {
  ES256: { kty: 'EC', crv: 'P-256', how: 'an EC P-256 key ({"kty":"EC","crv":"P-256",…,"d":…})' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519', how: 'an Ed25519 key ({"kty":"OKP","crv":"Ed25519",…,"d":…})' },
};

/** Loads and checks the keys; every problem goes to `report` (message without the field path). */
export function loadSigningKeys(file: string, algorithm: 'ES256' | 'EdDSA', report: (msg: string) => void): SigningKeys | null {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    report(err.code ? `cannot read ${file}: ${err.code}` : `${file} is not valid JSON: ${err.message}`);
    return null;
  }
  const keys = (doc as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    report(`${file}: expected a JWKS {"keys": [ … ]} with at least one private key`);
    return null;
  }
  const fit = FITS[algorithm];
  const published: Record<string, unknown>[] = [];
  const kids = new Set<string>();
  let first: { kid: string; key: KeyObject } | null = null;
  keys.forEach((k: unknown, i) => {
    const jwk = k as Record<string, unknown>;
    const kid = jwk?.kid;
    if (typeof kid !== 'string' || kid === '') { report(`${file} keys[${i}]: every key needs a kid (upstreams pick the key by it)`); return; }
    if (kids.has(kid)) { report(`${file} keys[${i}]: kid "${kid}" is used twice`); return; }
    kids.add(kid);
    if (jwk.kty !== fit.kty || jwk.crv !== fit.crv) { report(`${file} keys[${i}] (${kid}): algorithm ${algorithm} needs ${fit.how}`); return; }
    if (typeof jwk.d !== 'string') { report(`${file} keys[${i}] (${kid}): not a private key (no "d"); the gateway signs with it`); return; }
    let priv: KeyObject;
    try {
      priv = createPrivateKey({ key: jwk as never, format: 'jwk' });
    } catch (e) {
      report(`${file} keys[${i}] (${kid}): not a usable key: ${(e as Error).message}`);
      return;
    }
    const pub = createPublicKey(priv).export({ format: 'jwk' }) as Record<string, unknown>;
    published.push({ ...pub, kid, alg: algorithm, use: 'sig' });
    if (first === null) first = { kid, key: priv };
  });
  if (first === null) return null;
  const f = first as { kid: string; key: KeyObject };
  return { kid: f.kid, key: f.key, jwksJson: JSON.stringify({ keys: published }) };
}
