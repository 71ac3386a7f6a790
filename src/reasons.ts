// One vocabulary of why a request ended, shared by the response body, the
// access log and the metrics labels. Each code has a stable numeric id (its
// index) so the hot path records a rejection into typed arrays with no strings.
// Add codes at the end; never rename one (dashboards and alerts depend on them).

export interface ReasonDef {
  readonly code: string;
  readonly status: number;
  /** Which stage ended the request (HAProxy-style termination state). */
  readonly stage: 'parse' | 'route' | 'ratelimit' | 'authn' | 'authz' | 'proxy' | 'gateway';
}

const DEFS = [
  ['ok', 200, 'proxy'],
  ['bad_request', 400, 'parse'],
  ['bad_path', 400, 'parse'],
  ['bad_header', 400, 'parse'],
  ['header_too_large', 431, 'parse'],
  ['body_too_large', 413, 'parse'],
  ['request_timeout', 408, 'parse'],
  ['route_not_found', 404, 'route'],
  ['method_not_allowed', 405, 'route'],
  ['respond', 200, 'route'],
  ['rate_limited', 429, 'ratelimit'],
  ['no_credentials', 401, 'authn'],
  ['token_malformed', 401, 'authn'],
  ['token_too_large', 401, 'authn'],
  ['alg_not_allowed', 401, 'authn'],
  ['unknown_kid', 401, 'authn'],
  ['bad_signature', 401, 'authn'],
  ['token_expired', 401, 'authn'],
  ['token_not_yet_valid', 401, 'authn'],
  ['bad_issuer', 401, 'authn'],
  ['bad_audience', 401, 'authn'],
  ['missing_claim', 401, 'authn'],
  ['bad_iat', 401, 'authn'],
  ['bad_credentials', 401, 'authn'],
  ['unknown_key', 401, 'authn'],
  ['token_inactive', 401, 'authn'],
  ['invalid_session', 401, 'authn'],
  ['login_required', 302, 'authn'],
  ['authn_unavailable', 503, 'authn'],
  ['authn_denied', 401, 'authn'],
  ['ip_denied', 403, 'authz'],
  ['ip_not_allowed', 403, 'authz'],
  ['missing_scope', 403, 'authz'],
  ['missing_role', 403, 'authz'],
  ['claim_mismatch', 403, 'authz'],
  ['route_denied', 403, 'authz'],
  ['authz_denied', 403, 'authz'],
  ['authz_redirect', 302, 'authz'],
  ['authz_dropped', 444, 'authz'],
  ['authz_unavailable', 503, 'authz'],
  ['overloaded', 503, 'gateway'],
  ['upstream_unavailable', 502, 'proxy'],
  ['upstream_timeout', 504, 'proxy'],
  ['gateway_timeout', 504, 'proxy'],
  ['upstream_error', 502, 'proxy'],
  ['client_aborted', 499, 'proxy'],
  ['shutting_down', 503, 'gateway'],
  ['internal_error', 500, 'gateway'],
  ['length_required', 411, 'parse'],
  ['bad_method', 400, 'parse'],
  ['unsafe_header_value', 400, 'proxy'],
  ['cors_denied', 403, 'route'],
  ['cors_preflight', 204, 'route'],
  // A credential query parameter sent twice (any spelling): the gateway would check one value, the upstream might read the other.
  ['duplicate_credential', 400, 'authn'],
  ['session_revoked', 401, 'authn'],
  ['client_cert_required', 401, 'authn'],
  ['client_cert_not_allowed', 403, 'authn'],
  ['client_cert_revoked', 401, 'authn'],
  ['client_cert_expired', 401, 'authn'],
  ['upstream_tls', 502, 'proxy'],
  // A POST the gateway answered itself from its body (OIDC back-channel logout); the status says how it went.
  ['backchannel_logout', 200, 'authn'],
  // WebSockets (routes[].websocket): an upgrade to a route without it, a cross-site Origin, an upstream that refused the upgrade.
  ['websocket_not_allowed', 426, 'route'],
  ['websocket_origin_denied', 403, 'route'],
  ['websocket_upstream_failed', 502, 'proxy'],
] as const satisfies readonly (readonly [string, number, ReasonDef['stage']])[];

export type ReasonCode = (typeof DEFS)[number][0];

export const REASONS: readonly ReasonDef[] = DEFS.map(([code, status, stage]) => ({ code, status, stage }));

/** Per reason id: its HTTP status (for the hot path: no object lookup). */
export const REASON_STATUS: readonly number[] = REASONS.map((r) => r.status);

const INDEX = new Map<string, number>(REASONS.map((r, i) => [r.code, i]));

/** Numeric id of a reason code; throws at load time for a code not in the table. */
export function reasonId(code: ReasonCode): number {
  const id = INDEX.get(code);
  if (id === undefined) throw new Error(`unknown reason code ${code}`);
  return id;
}

/** Ids as constants, for the hot path. */
export const R = Object.fromEntries(REASONS.map((r, i) => [r.code, i])) as { readonly [K in ReasonCode]: number };

/** Precomputed JSON bodies for rejections: `{"error":"unauthorized","reason":"token_expired"}`. */
const ERROR_WORD: Record<number, string> = {
  400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed',
  408: 'request_timeout', 411: 'length_required', 413: 'payload_too_large', 429: 'rate_limited', 431: 'request_header_fields_too_large',
  426: 'upgrade_required', 500: 'internal_error', 502: 'bad_gateway', 503: 'service_unavailable', 504: 'gateway_timeout',
};
export const REASON_BODY: readonly string[] = REASONS.map(
  (r) => JSON.stringify({ error: ERROR_WORD[r.status] ?? 'error', reason: r.code }),
);
