// Registered-claim checks (RFC 7519 §4.1) compiled from config once. Run only
// after the signature is verified, so a forged token learns nothing about
// which issuer or audience would have been accepted.
import { R } from '../../reasons.js';
import { claimValue } from '../identity.js';

export interface ClaimRules {
  readonly issuers: ReadonlySet<string> | null;
  readonly audiences: ReadonlySet<string> | null;
  readonly leewaySec: number;
  readonly required: readonly string[];
  readonly consumerClaim: string;
}

export function compileClaimRules(
  issuer: string | readonly string[] | undefined,
  audience: string | readonly string[] | undefined,
  leewayMs: number,
  required: readonly string[],
  consumerClaim: string,
): ClaimRules {
  const set = (v: string | readonly string[] | undefined) => (v === undefined ? null : new Set(typeof v === 'string' ? [v] : v));
  return { issuers: set(issuer), audiences: set(audience), leewaySec: leewayMs / 1000, required, consumerClaim };
}

/** 0 when every rule holds, else the reason id. `nowSec` is epoch seconds (fractional). */
export function checkClaims(p: Record<string, unknown>, rules: ClaimRules, nowSec: number): number {
  const leeway = rules.leewaySec;
  const exp = p['exp'];
  if (exp !== undefined) {
    if (typeof exp !== 'number' || !Number.isFinite(exp)) return R.token_malformed;
    if (exp + leeway <= nowSec) return R.token_expired;
  }
  const nbf = p['nbf'];
  if (nbf !== undefined) {
    if (typeof nbf !== 'number' || !Number.isFinite(nbf)) return R.token_malformed;
    if (nbf > nowSec + leeway) return R.token_not_yet_valid;
  }
  const iat = p['iat'];
  if (iat !== undefined) {
    if (typeof iat !== 'number' || !Number.isFinite(iat)) return R.token_malformed;
    if (iat > nowSec + leeway) return R.bad_iat;
  }
  if (rules.issuers !== null) {
    const iss = p['iss'];
    if (typeof iss !== 'string' || !rules.issuers.has(iss)) return R.bad_issuer;
  }
  if (rules.audiences !== null && !audienceMatches(p['aud'], rules.audiences)) return R.bad_audience;
  for (const name of rules.required) {
    const v = claimValue(p, name);
    if (v === undefined || v === null) return R.missing_claim;
  }
  return 0;
}

function audienceMatches(aud: unknown, accepted: ReadonlySet<string>): boolean {
  if (typeof aud === 'string') return accepted.has(aud);
  if (!Array.isArray(aud)) return false;
  for (const a of aud) if (typeof a === 'string' && accepted.has(a)) return true;
  return false;
}

/** The consumer name from `consumer_claim` (string or number), or undefined. */
export function consumerOf(p: Record<string, unknown>, rules: ClaimRules): string | undefined {
  const v = claimValue(p, rules.consumerClaim);
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}
