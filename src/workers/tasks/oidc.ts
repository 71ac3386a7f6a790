// Worker tasks of the OpenID Connect login: the authorization-code exchange
// with ID token validation, and the refresh-token grant. Both the HTTP call
// and the signature check are the slow parts, so both run here. Failures are
// values: `rejected` (the provider said no: invalid_grant…), `invalid` (the
// ID token failed a check), `unavailable` (no usable answer in time).
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, errors, type JWTPayload } from 'jose';
import { callout } from './http.js';
import { parseJsonObject } from '../../lib/json-object.js';

export interface TokenCall {
  [key: string]: unknown;
  tokenEndpoint: string;
  jwksUri: string;
  issuer: string;
  clientId: string;
  clientSecret?: string;
  clientAuth: 'client_secret_basic' | 'client_secret_post';
  algorithms: string[];
  leewaySec: number;
  deadline?: number;
  /** tracing: the W3C traceparent the IdP is sent (a sampled request's span), absent otherwise. */
  traceparent?: string;
}

export interface ExchangeInput extends TokenCall {
  /** When set, claims the ID token lacks (providers may keep scope claims for userinfo) are read there. */
  userinfoEndpoint?: string;
  code: string;
  redirectUri: string;
  codeVerifier: string;
  nonce: string;
}

export interface RefreshInput extends TokenCall {
  refreshToken: string;
  /** The session's subject: a refreshed ID token must name the same one. */
  sub: string;
}

export type TokenResult =
  | {
      readonly ok: true;
      readonly claims: Record<string, unknown>;
      readonly refreshToken: string | null;
      /** The ID token as received (for RP-initiated logout's id_token_hint); null when none came. */
      readonly idToken: string | null;
      /** Epoch seconds when the tokens need refreshing (ID token exp or access token expiry). */
      readonly refreshAt: number;
    }
  | { readonly ok: false; readonly kind: 'rejected' | 'invalid' | 'unavailable'; readonly detail: string };

type JwksFn = ReturnType<typeof createRemoteJWKSet>;
const jwksByUri = new Map<string, JwksFn>();

function jwks(uri: string): JwksFn {
  let j = jwksByUri.get(uri);
  if (j === undefined) {
    j = createRemoteJWKSet(new URL(uri), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
    jwksByUri.set(uri, j);
  }
  return j;
}

type Failure = TokenResult & { ok: false };
interface Fail { readonly fail: Failure }

async function tokenRequest(c: TokenCall, params: Record<string, string>): Promise<{ readonly tokens: Record<string, unknown> } | Fail> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (c.traceparent !== undefined) headers.traceparent = c.traceparent;
  const form = new URLSearchParams(params);
  form.set('client_id', c.clientId);
  if (c.clientSecret !== undefined) {
    if (c.clientAuth === 'client_secret_post') form.set('client_secret', c.clientSecret);
    else headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.clientSecret)}`).toString('base64')}`;
  }
  const a = await callout({ url: c.tokenEndpoint, method: 'POST', headers, body: form.toString(), maxBody: 256 * 1024, deadline: c.deadline });
  if (!a.ok) return { fail: { ok: false, kind: 'unavailable', detail: `token endpoint: ${a.error} (${a.detail})` } };
  const obj = parseJsonObject(a.body);
  if (a.status >= 400 && a.status < 500) {
    const err = typeof obj?.error === 'string' ? obj.error : `HTTP ${a.status}`;
    return { fail: { ok: false, kind: 'rejected', detail: err } };
  }
  if (a.status !== 200 || obj === null) return { fail: { ok: false, kind: 'unavailable', detail: `token endpoint answered HTTP ${a.status}` } };
  return { tokens: obj };
}

const DROP = new Set(['nonce', 'at_hash', 'c_hash', 's_hash', 'aud', 'azp', 'iat', 'exp', 'nbf', 'jti']);

async function validateIdToken(c: TokenCall, idToken: string): Promise<{ readonly payload: JWTPayload } | Fail> {
  try {
    const { payload } = await jwtVerify(idToken, jwks(c.jwksUri), {
      issuer: c.issuer,
      audience: c.clientId,
      algorithms: c.algorithms,
      clockTolerance: c.leewaySec,
      requiredClaims: ['sub', 'exp', 'iat'],
    });
    // OIDC Core 3.1.3.7: with several audiences, azp must name us.
    if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== c.clientId) {
      return { fail: { ok: false, kind: 'invalid', detail: 'ID token azp does not name this client' } };
    }
    return { payload };
  } catch (e) {
    if (e instanceof errors.JWKSTimeout || (e instanceof Error && /fetch failed|ECONNREFUSED/.test(e.message))) {
      return { fail: { ok: false, kind: 'unavailable', detail: `JWKS: ${e.message}` } };
    }
    const code = e instanceof errors.JOSEError ? e.code : 'ERR_UNKNOWN';
    return { fail: { ok: false, kind: 'invalid', detail: `ID token: ${code} ${(e as Error).message}` } };
  }
}

function result(payload: JWTPayload, tokens: Record<string, unknown>, fallbackRefresh: string | null): TokenResult {
  const claims: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(payload)) if (!DROP.has(k)) claims[k] = v;
  const nowSec = Math.floor(Date.now() / 1000);
  let refreshAt = typeof payload.exp === 'number' ? payload.exp : nowSec + 3600;
  if (typeof tokens.expires_in === 'number' && tokens.expires_in > 0) refreshAt = Math.min(refreshAt, nowSec + tokens.expires_in);
  const rt = typeof tokens.refresh_token === 'string' && tokens.refresh_token !== '' ? tokens.refresh_token : fallbackRefresh;
  const idToken = typeof tokens.id_token === 'string' ? tokens.id_token : null;
  return { ok: true, claims, refreshToken: rt, idToken, refreshAt };
}

/** Claims from the userinfo endpoint; null when unavailable or not about the same subject (OIDC Core 5.3.2). */
async function userinfo(c: TokenCall, url: string, accessToken: string, sub: string): Promise<Record<string, unknown> | null> {
  const headers: Record<string, string> = { authorization: `Bearer ${accessToken}`, accept: 'application/json' };
  if (c.traceparent !== undefined) headers.traceparent = c.traceparent;
  const a = await callout({ url, method: 'GET', headers, maxBody: 64 * 1024, deadline: c.deadline });
  if (!a.ok || a.status !== 200 || !/json/i.test(a.headers['content-type'] ?? '')) return null;
  const v = parseJsonObject(a.body);
  if (v === null || v.sub !== sub) return null;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) if (!DROP.has(k) && k !== 'iss') out[k] = val;
  return out;
}

export async function exchange(input: ExchangeInput): Promise<TokenResult> {
  if ((input.deadline ?? Infinity) <= Date.now()) return { ok: false, kind: 'unavailable', detail: 'deadline passed before the task started' };
  const t = await tokenRequest(input, { grant_type: 'authorization_code', code: input.code, redirect_uri: input.redirectUri, code_verifier: input.codeVerifier });
  if ('fail' in t) return t.fail;
  const tokens = t.tokens;
  if (typeof tokens.id_token !== 'string') return { ok: false, kind: 'invalid', detail: 'the token response has no id_token (is "openid" in scopes?)' };
  const v = await validateIdToken(input, tokens.id_token);
  if ('fail' in v) return v.fail;
  const payload = v.payload;
  if (payload.nonce !== input.nonce) return { ok: false, kind: 'invalid', detail: 'ID token nonce does not match the one this login sent' };
  const r = result(payload, tokens, null);
  if (r.ok && input.userinfoEndpoint !== undefined && typeof tokens.access_token === 'string') {
    const extra = await userinfo(input, input.userinfoEndpoint, tokens.access_token, payload.sub!);
    // The ID token's own claims win over userinfo's.
    if (extra !== null) return { ...r, claims: { ...extra, ...r.claims } };
  }
  return r;
}

export async function refresh(input: RefreshInput): Promise<TokenResult> {
  if ((input.deadline ?? Infinity) <= Date.now()) return { ok: false, kind: 'unavailable', detail: 'deadline passed before the task started' };
  const t = await tokenRequest(input, { grant_type: 'refresh_token', refresh_token: input.refreshToken });
  if ('fail' in t) return t.fail;
  const tokens = t.tokens;
  if (typeof tokens.id_token !== 'string') {
    // Providers need not send a new ID token on refresh: the grant itself is the proof the session lives.
    const nowSec = Math.floor(Date.now() / 1000);
    const expiresIn = typeof tokens.expires_in === 'number' && tokens.expires_in > 0 ? tokens.expires_in : 3600;
    const rt = typeof tokens.refresh_token === 'string' && tokens.refresh_token !== '' ? tokens.refresh_token : input.refreshToken;
    return { ok: true, claims: {}, refreshToken: rt, idToken: null, refreshAt: nowSec + expiresIn };
  }
  const v = await validateIdToken(input, tokens.id_token);
  if ('fail' in v) return v.fail;
  const payload = v.payload;
  if (payload.sub !== input.sub) return { ok: false, kind: 'invalid', detail: 'refreshed ID token names another subject' };
  return result(payload, tokens, input.refreshToken);
}

export interface LogoutTokenInput {
  [key: string]: unknown;
  token: string;
  jwksUri: string;
  issuer: string;
  clientId: string;
  algorithms: string[];
  leewaySec: number;
}

export type LogoutTokenResult =
  | { readonly ok: true; readonly sid: string | null; readonly sub: string | null; readonly jti: string; readonly exp: number }
  | { readonly ok: false; readonly kind: 'invalid' | 'unavailable'; readonly detail: string };

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** A logout token older than this is refused (it would need remembering its jti for longer). */
const LOGOUT_TOKEN_MAX_AGE_SEC = 600;

/**
 * Validates an OIDC Back-Channel Logout 1.0 logout token (§2.6): signed by the
 * issuer's keys, our audience, recent, the back-channel logout event, a sid
 * and/or sub, a jti, and no nonce (so an ID token can never pass for one).
 */
export async function logoutToken(input: LogoutTokenInput): Promise<LogoutTokenResult> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(input.token, jwks(input.jwksUri), {
      issuer: input.issuer,
      audience: input.clientId,
      algorithms: input.algorithms,
      clockTolerance: input.leewaySec,
      maxTokenAge: LOGOUT_TOKEN_MAX_AGE_SEC,
      requiredClaims: ['iat', 'jti'],
    }));
    // Explicitly typed as another kind of JWT (at+jwt, …): refused. Untyped or plain JWT: older providers; the events and nonce checks below still tell it apart.
    const typ = decodeProtectedHeader(input.token).typ?.toLowerCase();
    if (typ !== undefined && typ !== 'jwt' && typ !== 'logout+jwt' && typ !== 'application/logout+jwt') {
      return { ok: false, kind: 'invalid', detail: `logout token typ is ${typ}, not logout+jwt` };
    }
  } catch (e) {
    if (e instanceof errors.JWKSTimeout || (e instanceof Error && /fetch failed|ECONNREFUSED/.test(e.message))) {
      return { ok: false, kind: 'unavailable', detail: `JWKS: ${e.message}` };
    }
    const code = e instanceof errors.JOSEError ? e.code : 'ERR_UNKNOWN';
    return { ok: false, kind: 'invalid', detail: `logout token: ${code} ${(e as Error).message}` };
  }
  const events = payload.events;
  if (events === null || typeof events !== 'object' || Array.isArray(events) || !Object.hasOwn(events, BACKCHANNEL_EVENT)) {
    return { ok: false, kind: 'invalid', detail: 'logout token lacks the back-channel logout event' };
  }
  const ev = (events as Record<string, unknown>)[BACKCHANNEL_EVENT];
  if (ev === null || typeof ev !== 'object' || Array.isArray(ev)) return { ok: false, kind: 'invalid', detail: 'the back-channel logout event is not a JSON object' };
  if (payload.nonce !== undefined) return { ok: false, kind: 'invalid', detail: 'logout token carries a nonce (an ID token is not a logout token)' };
  const sid = typeof payload.sid === 'string' && payload.sid !== '' ? payload.sid : null;
  const sub = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : null;
  if (sid === null && sub === null) return { ok: false, kind: 'invalid', detail: 'logout token names neither sid nor sub' };
  if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256) return { ok: false, kind: 'invalid', detail: 'logout token jti is not a usable string' };
  const exp = typeof payload.exp === 'number' ? payload.exp : (payload.iat as number) + LOGOUT_TOKEN_MAX_AGE_SEC;
  return { ok: true, sid, sub, jti: payload.jti, exp };
}
