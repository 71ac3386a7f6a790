// Which ends of a request are refusals, per reason id (src/reasons.ts).
import { R, REASONS } from '../../reasons.js';

export const N = REASONS.length;
/** Reasons that count as an authentication failure / authorization denial. */
export const IS_AUTHN_FAILURE = Uint8Array.from(REASONS, (r) => (r.stage === 'authn' ? 1 : 0));
export const IS_AUTHZ_DENIAL = Uint8Array.from(REASONS, (r) => (r.stage === 'authz' ? 1 : 0));
const RESPOND = R.respond;

/**
 * A refusal: any reason but `ok` and `respond`, and a `respond` route's answer
 * with a 4xx/5xx status (a configured refusal, e.g. `respond: {status: 403}`).
 */
export function isRejection(reasonId: number, status = 0): boolean {
  const c = REASONS[reasonId]?.code;
  if (c === undefined || c === 'ok') return false;
  return reasonId !== RESPOND || status >= 400;
}
