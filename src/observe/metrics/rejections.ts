// Which ends of a request are refusals, per reason id (src/reasons.ts).
import { R, REASONS } from '../../reasons.js';

export const N = REASONS.length;
/** Reasons that count as an authentication failure / authorization denial. */
export const IS_AUTHN_FAILURE = Uint8Array.from(REASONS, (r) => (r.stage === 'authn' ? 1 : 0));
export const IS_AUTHZ_DENIAL = Uint8Array.from(REASONS, (r) => (r.stage === 'authz' ? 1 : 0));
export const RESPOND = R.respond;
/** Answered as configured, never a refusal: proxied, a CORS preflight. A respond route depends on its status. */
const ANSWERED = new Set(['ok', 'respond', 'cors_preflight']);
/** Reasons that are always a refusal. */
export const IS_REFUSAL = Uint8Array.from(REASONS, (r) => (ANSWERED.has(r.code) ? 0 : 1));

/**
 * A refusal: a reason that is always one, or a `respond` route's answer with a
 * 4xx/5xx status (a configured refusal, e.g. `respond: {status: 403}`).
 */
export function isRejection(reasonId: number, status = 0): boolean {
  if (reasonId < 0 || reasonId >= N) return false;
  return IS_REFUSAL[reasonId] === 1 || (reasonId === RESPOND && status >= 400);
}
