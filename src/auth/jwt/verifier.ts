// Signature checks on the cache-miss path, with node:crypto against a
// pre-imported KeyObject. Each verifier is bound to exactly one algorithm at
// key-load time: a token's `alg` only selects among verifiers its key owns,
// so an RSA public key can never be used as an HMAC secret (alg confusion).
import { constants, createHmac, timingSafeEqual, verify, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';

export interface SigVerifier {
  readonly alg: string;
  /** `data` is the ASCII signing input (header.payload), `sig` the decoded signature. */
  verify(data: Buffer, sig: Buffer): boolean;
}

/** Algorithm → the facts needed to verify it. */
export interface AlgSpec {
  readonly family: 'rsa' | 'pss' | 'ec' | 'okp' | 'hmac';
  readonly hash: string | null;
  /** EC curve (node's name) for ES*; undefined otherwise. */
  readonly curve?: string;
  /** Fixed signature length in bytes when the algorithm defines one (ES*, HS*, EdDSA per curve). */
  readonly sigLen?: number;
}

export const ALG_SPECS: Readonly<Record<string, AlgSpec>> = {
  RS256: { family: 'rsa', hash: 'sha256' },
  RS384: { family: 'rsa', hash: 'sha384' },
  RS512: { family: 'rsa', hash: 'sha512' },
  PS256: { family: 'pss', hash: 'sha256' },
  PS384: { family: 'pss', hash: 'sha384' },
  PS512: { family: 'pss', hash: 'sha512' },
  ES256: { family: 'ec', hash: 'sha256', curve: 'prime256v1', sigLen: 64 },
  ES384: { family: 'ec', hash: 'sha384', curve: 'secp384r1', sigLen: 96 },
  ES512: { family: 'ec', hash: 'sha512', curve: 'secp521r1', sigLen: 132 },
  EdDSA: { family: 'okp', hash: null },
  HS256: { family: 'hmac', hash: 'sha256', sigLen: 32 },
  HS384: { family: 'hmac', hash: 'sha384', sigLen: 48 },
  HS512: { family: 'hmac', hash: 'sha512', sigLen: 64 },
};

class AsymmetricVerifier implements SigVerifier {
  constructor(
    readonly alg: string,
    private readonly hash: string | null,
    private readonly key: KeyObject | VerifyKeyObjectInput,
    private readonly sigLen: number,
  ) {}
  verify(data: Buffer, sig: Buffer): boolean {
    if (sig.length !== this.sigLen) return false;
    // crypto.verify does not throw for well-formed inputs of the right length;
    // the guard is defence in depth, not control flow.
    try {
      return verify(this.hash, data, this.key, sig);
    } catch {
      return false;
    }
  }
}

class HmacVerifier implements SigVerifier {
  constructor(readonly alg: string, private readonly hash: string, private readonly secret: KeyObject, private readonly sigLen: number) {}
  verify(data: Buffer, sig: Buffer): boolean {
    if (sig.length !== this.sigLen) return false;
    return timingSafeEqual(createHmac(this.hash, this.secret).update(data).digest(), sig);
  }
}

/**
 * A verifier for `alg` with `key`, or a sentence saying why this key cannot
 * serve that algorithm (wrong key type, curve, size).
 */
export function makeVerifier(alg: string, key: KeyObject): SigVerifier | string {
  const spec = ALG_SPECS[alg];
  if (!spec) return `unknown algorithm ${alg}`;
  if (spec.family === 'hmac') {
    if (key.type !== 'secret') return `${alg} needs a shared secret, not a ${key.asymmetricKeyType ?? key.type} key`;
    const len = key.symmetricKeySize ?? 0;
    if (len < spec.sigLen!) return `${alg} needs a secret of at least ${spec.sigLen} bytes (RFC 7518 §3.2); this one has ${len}`;
    return new HmacVerifier(alg, spec.hash!, key, spec.sigLen!);
  }
  if (key.type !== 'public') return `${alg} needs a public key, not a ${key.type} key`;
  const t = key.asymmetricKeyType;
  const d = key.asymmetricKeyDetails ?? {};
  switch (spec.family) {
    case 'rsa':
    case 'pss': {
      if (t !== 'rsa' && !(t === 'rsa-pss' && spec.family === 'pss')) return `${alg} needs an RSA key, not ${t}`;
      const bits = d.modulusLength ?? 0;
      if (bits < 2048) return `RSA keys must have at least 2048 bits; this one has ${bits}`;
      const sigLen = Math.ceil(bits / 8);
      if (spec.family === 'rsa') return new AsymmetricVerifier(alg, spec.hash, key, sigLen);
      return new AsymmetricVerifier(alg, spec.hash, {
        key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      }, sigLen);
    }
    case 'ec':
      if (t !== 'ec') return `${alg} needs an EC key, not ${t}`;
      if (d.namedCurve !== spec.curve) return `${alg} needs curve ${spec.curve}; this key is on ${d.namedCurve}`;
      // JWS carries r||s (IEEE P1363), not DER.
      return new AsymmetricVerifier(alg, spec.hash, { key, dsaEncoding: 'ieee-p1363' }, spec.sigLen!);
    case 'okp':
      if (t === 'ed25519') return new AsymmetricVerifier(alg, null, key, 64);
      if (t === 'ed448') return new AsymmetricVerifier(alg, null, key, 114);
      return `${alg} needs an Ed25519 or Ed448 key, not ${t}`;
  }
  return `unsupported algorithm ${alg}`;
}
