// Worker tasks of the OpenID Connect login: the authorization-code exchange
// with ID token validation, and the refresh-token grant. Both the HTTP call
// and the signature check are the slow parts, so both run here. Failures are
// values: `rejected` (the provider said no: invalid_grant…), `invalid` (the
// ID token failed a check), `unavailable` (no usable answer in time).
import { createRemoteJWKSet, jwtVerify, errors, type JWTPayload } from 'jose';
import { callout } from './http.js';
import { parseJsonObject } from '../../auth/json-object.js';

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
  return { ok: true, claims, refreshToken: rt, refreshAt };
}

/** Claims from the userinfo endpoint; null when unavailable or not about the same subject (OIDC Core 5.3.2). */
async function userinfo(c: TokenCall, url: string, accessToken: string, sub: string): Promise<Record<string, unknown> | null> {
  const a = await callout({ url, method: 'GET', headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' }, maxBody: 64 * 1024, deadline: c.deadline });
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
    return { ok: true, claims: {}, refreshToken: rt, refreshAt: nowSec + expiresIn };
  }
  const v = await validateIdToken(input, tokens.id_token);
  if ('fail' in v) return v.fail;
  const payload = v.payload;
  if (payload.sub !== input.sub) return { ok: false, kind: 'invalid', detail: 'refreshed ID token names another subject' };
  return result(payload, tokens, input.refreshToken);
}
