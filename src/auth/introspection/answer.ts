// An RFC 7662 introspection answer read strictly: anything but a JSON object
// with a boolean `active` is garbage (the caller applies failure_mode).
import { R } from '../../reasons.js';
import { parseJsonObject } from '../../lib/json-object.js';

export type Introspected =
  | { readonly active: true; readonly consumer: string; readonly claims: Record<string, unknown>; readonly expMs: number }
  | { readonly active: false; readonly reason: number; readonly remember: boolean };

export function readIntrospection(body: string, nowMs: number): Introspected | null {
  const o = parseJsonObject(body);
  if (o === null) return null;
  if (o.active !== true) return o.active === false ? { active: false, reason: R.token_inactive, remember: true } : null;
  const exp = o.exp;
  if (exp !== undefined && typeof exp !== 'number') return null;
  const expMs = typeof exp === 'number' ? exp * 1000 : Infinity;
  if (expMs <= nowMs) return { active: false, reason: R.token_expired, remember: true };
  const nbf = o.nbf;
  if (typeof nbf === 'number' && nbf * 1000 > nowMs + 30_000) return { active: false, reason: R.token_not_yet_valid, remember: false };
  const consumer = [o.sub, o.username, o.client_id].find((x) => typeof x === 'string' && x !== '') as string | undefined;
  if (consumer === undefined) return { active: false, reason: R.missing_claim, remember: true };
  const claims: Record<string, unknown> = { ...o };
  delete claims.active;
  return { active: true, consumer, claims, expMs };
}
