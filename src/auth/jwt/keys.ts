// Turning configured key material (JWK, JWKS, PEM, shared secret) into
// KeyEntries: one pre-imported KeyObject with one verifier per algorithm it
// may serve. A key's algorithms are fixed here, from its type (and its JWK
// `alg` when given), intersected with the authenticator's allow-list.
import { createHash, createPublicKey, createSecretKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { ALG_SPECS, makeVerifier, type SigVerifier } from './verifier.js';

export interface KeyEntry {
  /** JWK `kid`; undefined for keys without one (inline PEM, secrets), which are tried for any token. */
  readonly kid: string | undefined;
  /** Allowed algorithm → verifier. Never empty. */
  readonly verifiers: ReadonlyMap<string, SigVerifier>;
  /** For logs: `RSA 2048-bit kid=abc`. Never contains key material. */
  readonly label: string;
  /** SHA-256 of the key bytes (SPKI or secret): tells a rotated key from a kept one. */
  readonly fingerprint: string;
}

function fingerprint(key: KeyObject): string {
  const bytes = key.type === 'secret' ? key.export() : key.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(bytes).digest('base64url');
}

function label(key: KeyObject, kid: string | undefined): string {
  const d = key.asymmetricKeyDetails;
  const what = key.type === 'secret'
    ? `secret ${key.symmetricKeySize}-byte`
    : `${key.asymmetricKeyType}${d?.modulusLength ? ` ${d.modulusLength}-bit` : ''}${d?.namedCurve ? ` ${d.namedCurve}` : ''}`;
  return kid === undefined ? what : `${what} kid=${kid}`;
}

/** A KeyEntry, or why the key serves none of the allowed algorithms. */
export function entryFor(key: KeyObject, kid: string | undefined, jwkAlg: string | undefined, allowed: readonly string[]): KeyEntry | string {
  if (jwkAlg !== undefined && !allowed.includes(jwkAlg)) {
    return `key ${label(key, kid)} is for ${jwkAlg}, which is not in algorithms [${allowed.join(', ')}]`;
  }
  const verifiers = new Map<string, SigVerifier>();
  const why: string[] = [];
  for (const alg of jwkAlg !== undefined ? [jwkAlg] : allowed) {
    const v = makeVerifier(alg, key);
    if (typeof v === 'string') why.push(v);
    else verifiers.set(alg, v);
  }
  if (verifiers.size === 0) {
    return `key ${label(key, kid)} cannot verify any of [${allowed.join(', ')}]: ${[...new Set(why)].join('; ')}`;
  }
  return { kid, verifiers, label: label(key, kid), fingerprint: fingerprint(key) };
}

/** One JWK (public, or symmetric `oct`). */
export function importJwk(jwk: unknown, allowed: readonly string[]): KeyEntry | string {
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) return 'a JWK must be a JSON object';
  const j = jwk as Record<string, unknown>;
  const kid = typeof j['kid'] === 'string' ? j['kid'] : undefined;
  const alg = typeof j['alg'] === 'string' ? j['alg'] : undefined;
  const where = kid === undefined ? 'JWK' : `JWK kid=${kid}`;
  if (j['use'] !== undefined && j['use'] !== 'sig') return `${where} has use=${String(j['use'])}, not sig; skipped`;
  if (alg !== undefined && !ALG_SPECS[alg]) return `${where} has unsupported alg ${alg}; skipped`;
  let key: KeyObject;
  try {
    if (j['kty'] === 'oct') {
      if (typeof j['k'] !== 'string') return `${where}: kty oct needs k`;
      key = createSecretKey(Buffer.from(j['k'], 'base64url'));
    } else {
      key = createPublicKey({ key: j as JsonWebKey, format: 'jwk' });
    }
  } catch (e) {
    return `${where} (kty ${String(j['kty'])}) cannot be imported: ${(e as Error).message}`;
  }
  return entryFor(key, kid, alg, allowed);
}

/** A PEM public key or certificate, or a JWK given as JSON text. */
export function importPem(text: string, allowed: readonly string[]): KeyEntry | string {
  const t = text.trim();
  if (t.startsWith('{')) {
    let jwk: unknown;
    try {
      jwk = JSON.parse(t);
    } catch (e) {
      return `not a PEM key and not valid JWK JSON: ${(e as Error).message}`;
    }
    return importJwk(jwk, allowed);
  }
  if (!t.startsWith('-----BEGIN ')) return 'expected a PEM public key (-----BEGIN PUBLIC KEY-----), a certificate, or a JWK object';
  let key: KeyObject;
  try {
    key = createPublicKey(t);
  } catch (e) {
    return `cannot read the PEM key: ${(e as Error).message}`;
  }
  return entryFor(key, undefined, undefined, allowed);
}

/** A shared secret for HS*; its UTF-8 bytes are the key. */
export function importSecret(secret: string, allowed: readonly string[]): KeyEntry | string {
  return entryFor(createSecretKey(Buffer.from(secret, 'utf8')), undefined, undefined, allowed.filter((a) => a.startsWith('HS')));
}

/** A JWK Set document: usable keys, and one sentence per key skipped. */
export function importJwks(doc: unknown, allowed: readonly string[]): { entries: KeyEntry[]; skipped: string[] } | string {
  if (doc === null || typeof doc !== 'object' || !Array.isArray((doc as { keys?: unknown }).keys)) {
    return 'not a JWK Set: expected a JSON object with a "keys" array';
  }
  const entries: KeyEntry[] = [];
  const skipped: string[] = [];
  for (const jwk of (doc as { keys: unknown[] }).keys) {
    const e = importJwk(jwk, allowed);
    if (typeof e === 'string') skipped.push(e);
    else entries.push(e);
  }
  return { entries, skipped };
}
