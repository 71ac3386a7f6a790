// OpenID Connect browser login (`type: oidc`) as an Authenticator.
//
// Hot path: a session cookie already seen is a cache hit (by cookie value);
// one seen for the first time is opened synchronously (AES-GCM, no pool).
// Slow path (Promise): the redirect to the provider, the callback (code
// exchange and ID token validation on the worker pool), logout, and the
// refresh of a session whose tokens are due (answered with a 307 to the same
// URL that carries the new cookie).
//
// The routes that use this authenticator must cover callback_path and
// logout_path: the authenticator answers those paths itself.
//
// Sessions are revocable: each has an id (`sid`) in its sealed payload, and
// logout records it in the process's revocation table (revocation.ts), which
// every hit consults, persisted to session.revocation_file and, with
// `revocation: cluster`, shared through Redis (revocation-cluster.ts).
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import { AUTH_ABSENT, AUTH_OK, AUTH_REJECT, AUTH_RESPOND, type AuthResult, type Authenticator, type DirectResponse, type Identity, type RequestTrace, type RequestView } from '../../contracts.js';
import type { CompileContext } from '../../config/load.js';
import type { OidcConfig } from '../../config/schema.js';
import { R } from '../../reasons.js';
import { log } from '../../observe/log.js';
import { makeIdentity, claimValue } from '../identity.js';
import { challenges, REJECTED } from '../slow-results.js';
import { ExpiringCache, TailKeyedCache } from '../../workers/expiring-cache.js';
import { cookieEnd, cookieRange } from '../cookie-header.js';
import { PoolOverloadedError, type WorkerPool } from '../../workers/pool.js';
import type { ExchangeInput, RefreshInput, TokenResult } from '../../workers/tasks/oidc.js';
import { deriveKey, open, seal } from './jwe.js';
import { CHUNK, chunkNames, clearCookie, sessionCookies, setCookie } from './cookies.js';
import { Discovery, type ProviderMetadata } from './discovery.js';
import { page, redirect } from './pages.js';
import { isSafeReturnPath, safeReturnPath } from './return-url.js';
import type { RevocationCheck } from './revocation.js';
import { compileSessionRevocation } from './session-revocation.js';
import { BACKCHANNEL_MAX_BODY, backchannelAnswer, compileBackchannel } from './backchannel.js';
import { compileHostAllowList } from './hosts.js';
import { ownCookieNames, type OwnCookieNames } from '../../lib/own-cookies.js';

const SESSION_CACHE_ENTRIES = 50_000;
const LOGIN_TTL_SEC = 600;
/** With failure_mode: allow, how long a session due for refresh is trusted while the provider is away. */
const GRACE_MS = 60_000;
const STATE_RE = /^[A-Za-z0-9_-]{32}$/;
const SID_RE = /^[A-Za-z0-9_-]{22}$/;
const COOKIE_NAME_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HOST_RE = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/**
 * What the session cookie holds (sealed). v2 added `sid`: a v1 cookie (made
 * before sessions were revocable) is refused, and its browser signs in again,
 * since nothing could ever revoke it.
 */
interface Session {
  v: 2;
  /** Session id (16 random bytes, base64url): what logout revokes. Kept across refreshes. */
  sid: string;
  /** The provider's session id (`sid` claim) and subject, for back-channel logout. */
  psid?: string;
  psub?: string;
  /** Consumer. */
  sub: string;
  /** ID token claims without protocol noise. */
  c: Record<string, unknown>;
  /** Login time, session end (login + ttl), refresh due (0: no refresh token), epoch seconds. */
  iat: number;
  exp: number;
  ref: number;
  rt?: string;
  /** The latest ID token, sent as id_token_hint at logout; absent when over ID_TOKEN_HINT_MAX. */
  idt?: string;
}

/** Largest ID token kept in the session for id_token_hint (it costs cookie bytes on every request). */
const ID_TOKEN_HINT_MAX = 2048;
const hintOf = (t: string | null): string | undefined => (t !== null && t.length <= ID_TOKEN_HINT_MAX ? t : undefined);

/** What the short-lived login-state cookie holds (sealed). */
interface LoginState {
  s: string; // state
  n: string; // nonce
  v: string; // PKCE code verifier
  r: string; // return path
  u: string; // redirect_uri sent
  t: number; // expiry, epoch seconds
}

export interface OidcStats {
  hits: number;
  /** Sessions refused because they were revoked (logout). */
  revoked: number;
  /** Logouts recorded in the revocation table. */
  revocations: number;
  opened: number;
  logins: number;
  callbacks: number;
  refreshes: number;
  failures: number;
}

export interface OidcAuthenticator extends Authenticator {
  /** Resolves after the first discovery attempt (success or not: logins answer 503 until it succeeds). */
  ready(): Promise<void>;
  close(): void;
  readonly stats: OidcStats;
  /** Whether the request carries a session cookie (lets the chain name the deciding authenticator). */
  hasCredential(view: RequestView): boolean;
  /** The gateway's own cookies (session, its chunks, login state): never sent upstream. */
  readonly cookieNames: OwnCookieNames;
  /** backchannel_logout_path, or null. */
  readonly backchannelPath: string | null;
  /**
   * OIDC Back-Channel Logout 1.0: the body of a POST to backchannelPath
   * (application/x-www-form-urlencoded, `logout_token=…`) → the answer for the
   * provider (200, or 400 with an error). Revokes the sessions it names.
   */
  backchannelLogout(body: string, contentType: string): Promise<DirectResponse>;
}

/** A cached session: the identity, and what the revocation check needs (made once, read on every hit). */
interface SessionEntry extends RevocationCheck {
  readonly id: Identity;
}

function b64(n: number): string {
  return randomBytes(n).toString('base64url');
}

function trimSlash(s: string): string {
  return s.endsWith('/') ? s.slice(0, -1) : s;
}

function asSession(o: Record<string, unknown> | null): Session | null {
  if (o === null || o.v !== 2 || typeof o.sid !== 'string' || !SID_RE.test(o.sid) || typeof o.sub !== 'string' || typeof o.iat !== 'number' || typeof o.exp !== 'number' || typeof o.ref !== 'number') return null;
  if (o.c === null || typeof o.c !== 'object' || Array.isArray(o.c)) return null;
  if (o.rt !== undefined && typeof o.rt !== 'string') return null;
  if ((o.psid !== undefined && typeof o.psid !== 'string') || (o.psub !== undefined && typeof o.psub !== 'string')) return null;
  if (o.idt !== undefined && typeof o.idt !== 'string') return null;
  return o as unknown as Session;
}

function asLogin(o: Record<string, unknown> | null): LoginState | null {
  if (o === null) return null;
  for (const k of ['s', 'n', 'v', 'u'] as const) if (typeof o[k] !== 'string') return null;
  if (typeof o.t !== 'number' || !isSafeReturnPath(o.r)) return null;
  return o as unknown as LoginState;
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function compileOidc(name: string, cfg: OidcConfig, at: string, ctx: CompileContext, pool: WorkerPool): OidcAuthenticator {
  void pool.start();
  const clientSecret = ctx.secret(cfg, 'client_secret', at, false);
  let sessionSecret = ctx.secret(cfg.session, 'secret', `${at}.session`, true);
  if (sessionSecret !== undefined && sessionSecret.length < 32) {
    ctx.issue(`${at}.session.secret`, 'the session secret must be at least 32 characters; create one with: head -c 32 /dev/urandom | base64 > secrets/session');
  }
  // The config is already refused when the secret is missing; keep building so every problem is listed.
  sessionSecret ??= b64(32);
  const cookieName = cfg.session.cookie;
  if (!COOKIE_NAME_RE.test(cookieName)) ctx.issue(`${at}.session.cookie`, `"${cookieName}" is not a valid cookie name (letters, digits and !#$%&'*+-.^_\`|~ only)`);
  if (!cfg.scopes.includes('openid')) ctx.issue(`${at}.scopes`, 'scopes must include "openid" (the login needs an ID token)');
  if (cfg.callback_path === cfg.logout_path) ctx.issue(`${at}.logout_path`, 'logout_path must differ from callback_path');
  const backchannelPath = cfg.backchannel_logout_path ?? null;
  if (backchannelPath !== null && (backchannelPath === cfg.callback_path || backchannelPath === cfg.logout_path)) {
    ctx.issue(`${at}.backchannel_logout_path`, 'backchannel_logout_path must differ from callback_path and logout_path');
  }
  if (cfg.public_url !== undefined && /^http:/i.test(cfg.public_url) && !/^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(\/|$)/i.test(cfg.public_url)) {
    ctx.issue(`${at}.public_url`, 'session cookies are Secure (browsers drop them over plain http except on localhost): serve the gateway over https and give an https:// public_url');
  }
  if (!cfg.post_logout_redirect.startsWith('/') && !/^https?:\/\//.test(cfg.post_logout_redirect)) {
    ctx.issue(`${at}.post_logout_redirect`, 'give a path on this site (/bye) or an absolute http(s) URL');
  }
  // Without public_url the redirect_uri is built from the Host header: a forged Host would send the login code elsewhere.
  if (cfg.public_url === undefined && (cfg.allowed_hosts === undefined || cfg.allowed_hosts.length === 0)) {
    ctx.issue(`${at}.public_url`, 'set public_url (e.g. https://app.example.com) so redirect_uri never follows the client\'s Host header, or list the hosts this gateway answers for in allowed_hosts: [app.example.com]');
  }
  if (cfg.public_url !== undefined && cfg.allowed_hosts !== undefined) {
    ctx.issue(`${at}.allowed_hosts`, 'give public_url or allowed_hosts, not both: with public_url the redirect_uri is always built from it');
  }
  const allowedHost = compileHostAllowList(cfg.allowed_hosts ?? [], `${at}.allowed_hosts`, ctx);

  const sessionKey = deriveKey(sessionSecret, 'session', name);
  const loginKey = deriveKey(sessionSecret, 'login', name);
  const chunks = chunkNames(cookieName);
  const loginPrefix = `${cookieName}-login-`;
  const cookieNames = ownCookieNames([cookieName, ...chunks], [{ prefix: loginPrefix, rest: 16 }]);
  const ttlSec = Math.max(1, Math.floor(cfg.session.ttl / 1000));
  const callbackPath = cfg.callback_path;
  const logoutPath = cfg.logout_path;
  const fixedOrigin = cfg.public_url !== undefined ? trimSlash(new URL(cfg.public_url).origin + new URL(cfg.public_url).pathname) : null;
  const cache = new TailKeyedCache<SessionEntry>(SESSION_CACHE_ENTRIES);
  /** States already redeemed in this process: a replayed callback is refused before reaching the provider. */
  const usedStates = new ExpiringCache<object>(100_000);
  const refreshing = new Map<string, Promise<TokenResult>>();
  const discovery = new Discovery(cfg.issuer, pool, cfg.timeout, name);
  const { challenge, byReason } = challenges('Session', name);
  const stats: OidcStats = { hits: 0, revoked: 0, revocations: 0, opened: 0, logins: 0, callbacks: 0, refreshes: 0, failures: 0 };
  const leewaySec = 30;
  // `check` compiles with an inert pool: nothing is read, written or connected then.
  const revocation = compileSessionRevocation(name, cfg, at, ctx, pool.inert, stats);
  const backchannel = compileBackchannel(name, cfg, discovery, pool, revocation, leewaySec);

  const UNAVAILABLE = page(503, 'Sign-in is unavailable', 'The identity provider could not be reached. Please try again in a moment.', ['retry-after', '5']);
  const respond = (response: DirectResponse, reason: number): AuthResult => ({ outcome: AUTH_RESPOND, identity: null, reason, response });

  function identityOf(s: Session, untilMs?: number): Identity {
    const until = untilMs ?? Math.min(s.exp, s.ref === 0 ? Infinity : s.ref) * 1000;
    return makeIdentity(name, s.sub, { ...s.c }, cfg.forward_claims, until);
  }

  function entryOf(s: Session, untilMs?: number): SessionEntry {
    const c = revocation.checkFor(s);
    return { id: identityOf(s, untilMs), keys: c.keys, n: c.n, iat: c.iat, seen: -1 };
  }

  function isRevoked(e: SessionEntry): boolean {
    return revocation.isRevoked(e);
  }

  /**
   * The pipeline answers a POST to backchannelPath through bodyEndpoint (it
   * reads the body); authenticate() never sees one. Anything else there is 405.
   */
  function backchannelOtherMethod(view: RequestView): Promise<AuthResult> {
    const r = view.method === 'POST'
      ? backchannelAnswer(500, 'server_error', 'the logout token was not read')
      : backchannelAnswer(405, 'invalid_request', 'POST a logout_token');
    return Promise.resolve(respond(r, view.method === 'POST' ? R.internal_error : R.method_not_allowed));
  }

  /** Whole session cookie value (chunks joined). Chunks exist only after a full first chunk. */
  function readSession(view: RequestView, first: string): string {
    if (first.length < CHUNK) return first;
    let v = first;
    for (let i = 0; i < chunks.length; i++) {
      const c = view.cookie(chunks[i]!);
      if (c === undefined || c === '') break;
      v += c;
    }
    return v;
  }

  function presentChunks(view: RequestView): number {
    let n = view.cookie(cookieName) !== undefined ? 1 : 0;
    for (let i = 0; i < chunks.length; i++) if (view.cookie(chunks[i]!) !== undefined) n = i + 2;
    return n;
  }

  function isApiClient(view: RequestView): boolean {
    const accept = view.header('accept');
    if (accept.indexOf('application/json') !== -1 && accept.indexOf('text/html') === -1) return true;
    if (view.header('x-requested-with') !== '') return true;
    const auth = view.header('authorization');
    if (auth.length > 7 && (auth.charCodeAt(0) | 0x20) === 0x62 && auth.slice(0, 7).toLowerCase() === 'bearer ') return true;
    // Sub-resources (images, scripts, fetch) are not sent through a login: only top-level navigations are.
    const mode = view.header('sec-fetch-mode');
    return mode !== '' && mode !== 'navigate';
  }

  /** Scheme://host[:port] of this request as the browser sees it; null when the Host header is unusable. */
  function originOf(view: RequestView): string | null {
    if (fixedOrigin !== null) return fixedOrigin;
    const host = view.header('host').toLowerCase();
    if (!HOST_RE.test(host) || !allowedHost(host)) return null;
    // X-Forwarded-Proto only from a trusted proxy; else the listener's own scheme (https when unknown).
    const xfp = view.peerTrusted === true ? view.header('x-forwarded-proto').split(',')[0]!.trim().toLowerCase() : '';
    const scheme = xfp === 'http' || xfp === 'https' ? xfp : view.proto ?? 'https';
    return `${scheme}://${host}`;
  }

  function loginRedirect(meta: ProviderMetadata, returnTo: string, redirectUri: string, extraCookies: readonly string[]): AuthResult {
    stats.logins++;
    const state = b64(24);
    const nonce = b64(24);
    const verifier = b64(32);
    const challengeS256 = createHash('sha256').update(verifier).digest('base64url');
    const ls: LoginState = { s: state, n: nonce, v: verifier, r: returnTo, u: redirectUri, t: Math.floor(Date.now() / 1000) + LOGIN_TTL_SEC };
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: cfg.client_id,
      redirect_uri: redirectUri,
      scope: cfg.scopes.join(' '),
      state,
      nonce,
      code_challenge: challengeS256,
      code_challenge_method: 'S256',
    });
    const ep = meta.authorizationEndpoint;
    const location = `${ep}${ep.includes('?') ? '&' : '?'}${q.toString()}`;
    return respond(redirect(302, location, [setCookie(loginPrefix + state.slice(0, 16), seal(loginKey, ls), LOGIN_TTL_SEC), ...extraCookies]), R.login_required);
  }

  function startLogin(view: RequestView, clear: readonly string[]): Promise<AuthResult> {
    const returnTo = safeReturnPath(view.path, view.query);
    const origin = originOf(view);
    if (origin === null) return Promise.resolve(respond(page(400, 'Bad request', 'The Host header of this request is not usable.'), R.bad_header));
    const redirectUri = origin + callbackPath;
    const meta = discovery.current;
    if (meta !== null) return Promise.resolve(loginRedirect(meta, returnTo, redirectUri, clear));
    return discovery.get().then((m) => {
      if (m !== null) return loginRedirect(m, returnTo, redirectUri, clear);
      stats.failures++;
      return respond(UNAVAILABLE, R.authn_unavailable);
    });
  }

  function tokenCall(meta: ProviderMetadata) {
    return {
      tokenEndpoint: meta.tokenEndpoint,
      jwksUri: meta.jwksUri,
      issuer: meta.issuer,
      clientId: cfg.client_id,
      ...(clientSecret !== undefined ? { clientSecret } : {}),
      clientAuth: cfg.client_auth,
      algorithms: meta.algorithms,
      leewaySec,
    };
  }

  function runToken(task: 'oidc#exchange' | 'oidc#refresh', input: ExchangeInput | RefreshInput, trace: RequestTrace | null): Promise<TokenResult> {
    // tracing: the token call is a child span of the request; the IdP is sent its traceparent.
    const span = trace !== null ? trace.call(task === 'oidc#exchange' ? 'oidc code exchange' : 'oidc token refresh', input.tokenEndpoint) : null;
    if (span !== null) input.traceparent = span.traceparent;
    const p = pool.run<TokenResult>(task, input, cfg.timeout).catch((e: unknown): TokenResult => ({
      ok: false,
      kind: 'unavailable',
      detail: e instanceof PoolOverloadedError ? 'worker pool overloaded' : e instanceof Error ? e.message : String(e),
    }));
    if (span === null) return p;
    return p.then((r) => { span.end(0, !r.ok && r.kind === 'unavailable'); return r; });
  }

  /** Seals a session into Set-Cookie values; when too large for the cookies, keeps only the claims forwarded upstream. */
  function sessionSetCookies(s: Session, present: number): { sealed: string; cookies: string[] } | null {
    let sealed = seal(sessionKey, s);
    let cookies = sessionCookies(cookieName, chunks, sealed, ttlSec, present);
    if (cookies === null) {
      const slim: Record<string, unknown> = { sub: s.c.sub };
      for (const claim of Object.keys(cfg.forward_claims)) {
        const v = claimValue(s.c, claim);
        if (v !== undefined) slim[claim] = v;
      }
      s.c = slim;
      sealed = seal(sessionKey, s);
      cookies = sessionCookies(cookieName, chunks, sealed, ttlSec, present);
      if (cookies === null) return null;
      log.warn('OIDC session too large for cookies: kept only forwarded claims', { authenticator: name });
    }
    return { sealed, cookies };
  }

  function fail(status: number, title: string, message: string, kind: string, detail: string, clearLogin: string | null): AuthResult {
    stats.failures++;
    log.warn('OIDC sign-in failed', { authenticator: name, kind, detail });
    const p = page(status, title, message, clearLogin !== null ? ['set-cookie', clearCookie(clearLogin)] : []);
    return respond(p, status === 503 ? R.authn_unavailable : R.invalid_session);
  }

  function callback(view: RequestView): Promise<AuthResult> {
    stats.callbacks++;
    const trace = view.trace ?? null; // read now: a live view is reused after the first await
    const state = view.queryParam('state') ?? '';
    const code = view.queryParam('code') ?? '';
    const error = view.queryParam('error');
    const iss = view.queryParam('iss');
    const stateOk = STATE_RE.test(state);
    const loginCookieName = stateOk ? loginPrefix + state.slice(0, 16) : null;
    const sealedLogin = loginCookieName !== null ? view.cookie(loginCookieName) : undefined;
    const present = presentChunks(view);
    if (error !== undefined) {
      const code = /^[\x20-\x7e]{1,64}$/.test(error) ? error : 'unknown_error';
      return Promise.resolve(fail(code === 'access_denied' ? 403 : 400, 'Sign-in was not completed', `The identity provider answered "${code}".`, 'provider_error', code, loginCookieName));
    }
    if (!stateOk || code === '' || code.length > 2048) {
      return Promise.resolve(fail(400, 'Sign-in failed', 'The sign-in response lacks a valid code or state.', 'bad_callback', 'missing or malformed code/state', loginCookieName));
    }
    const ls = sealedLogin !== undefined ? asLogin(open(loginKey, sealedLogin)) : null;
    const nowSec = Math.floor(Date.now() / 1000);
    if (ls === null || !sameString(ls.s, state) || ls.t < nowSec) {
      return Promise.resolve(fail(400, 'Sign-in failed', 'This sign-in response does not belong to a sign-in started in this browser, or it has expired.', 'state_mismatch', ls === null ? 'no usable login cookie' : ls.t < nowSec ? 'login state expired' : 'state differs', loginCookieName));
    }
    if (usedStates.get(state, Date.now()) !== undefined) {
      return Promise.resolve(fail(400, 'Sign-in failed', 'This sign-in response was already used.', 'replayed_callback', 'state already redeemed', loginCookieName));
    }
    usedStates.set(state, {}, (ls.t + 60) * 1000);
    return discovery.get().then(async (meta) => {
      if (meta === null) return fail(503, 'Sign-in is unavailable', 'The identity provider could not be reached. Please try again in a moment.', 'unavailable', 'no discovery document', null);
      // RFC 9207: a provider that names itself must be the one we sent the browser to (mix-up defence).
      if (iss !== undefined && trimSlash(iss) !== trimSlash(meta.issuer)) {
        return fail(400, 'Sign-in failed', 'The sign-in response comes from another identity provider.', 'issuer_mismatch', 'iss parameter differs', loginCookieName);
      }
      const r = await runToken('oidc#exchange', {
        ...tokenCall(meta),
        ...(meta.userinfoEndpoint !== null ? { userinfoEndpoint: meta.userinfoEndpoint } : {}),
        code,
        redirectUri: ls.u,
        codeVerifier: ls.v,
        nonce: ls.n,
      }, trace);
      if (!r.ok) {
        if (r.kind === 'unavailable') return fail(503, 'Sign-in is unavailable', 'The identity provider could not be reached. Please try again in a moment.', r.kind, r.detail, null);
        if (r.kind === 'rejected') return fail(400, 'Sign-in failed', `The identity provider refused the sign-in code (${r.detail}): it was already used or has expired.`, r.kind, r.detail, loginCookieName);
        return fail(400, 'Sign-in failed', `The identity provider's answer did not pass validation: ${r.detail}.`, r.kind, r.detail, loginCookieName);
      }
      const consumer = claimValue(r.claims, cfg.consumer_claim);
      if (typeof consumer !== 'string' || consumer === '') {
        return fail(400, 'Sign-in failed', `The ID token has no "${cfg.consumer_claim}" claim to name the user.`, 'missing_claim', cfg.consumer_claim, loginCookieName);
      }
      const now = Math.floor(Date.now() / 1000);
      const exp = now + ttlSec;
      const s: Session = { v: 2, sid: b64(16), sub: consumer, c: r.claims, iat: now, exp, ref: r.refreshToken !== null ? Math.min(r.refreshAt, exp) : 0 };
      if (typeof r.claims.sid === 'string') s.psid = r.claims.sid;
      if (typeof r.claims.sub === 'string') s.psub = r.claims.sub;
      if (r.refreshToken !== null) s.rt = r.refreshToken;
      const idt = hintOf(r.idToken);
      if (idt !== undefined) s.idt = idt;
      const sc = sessionSetCookies(s, present);
      if (sc === null) return fail(500, 'Sign-in failed', 'The session is too large to store in cookies.', 'too_large', 'session too large', loginCookieName);
      const e = entryOf(s);
      // The redirected request is then a cache hit.
      cache.set(sc.sealed, e, e.id.expiresAt);
      log.info('OIDC sign-in', { authenticator: name, consumer });
      return respond(redirect(302, ls.r, [...sc.cookies, clearCookie(loginPrefix + state.slice(0, 16))]), R.login_required);
    });
  }

  function logout(view: RequestView): Promise<AuthResult> {
    const first = view.cookie(cookieName);
    let hint: string | undefined;
    if (first !== undefined && first !== '') {
      const value = readSession(view, first);
      cache.delete(value);
      // Clearing the browser's cookie is not enough: a copy of it must stop working too.
      const s = asSession(open(sessionKey, value));
      if (s !== null && Date.now() / 1000 < s.exp) {
        revocation.revokeSession(s);
        hint = s.idt;
      }
    }
    const present = presentChunks(view);
    const cookies = [clearCookie(cookieName)];
    for (let i = 1; i < present; i++) cookies.push(clearCookie(chunks[i - 1]!));
    const origin = originOf(view);
    const target = cfg.post_logout_redirect;
    let location = target.startsWith('/') ? safeReturnPath(target, '') : target;
    const meta = discovery.current;
    if (meta !== null && meta.endSessionEndpoint !== null) {
      const absolute = target.startsWith('/') ? (origin !== null ? origin + location : null) : target;
      // RP-Initiated Logout 1.0: id_token_hint names the session to end (some providers require it).
      const q = new URLSearchParams(hint !== undefined ? { id_token_hint: hint, client_id: cfg.client_id } : { client_id: cfg.client_id });
      if (absolute !== null) q.set('post_logout_redirect_uri', absolute);
      const ep = meta.endSessionEndpoint;
      location = `${ep}${ep.includes('?') ? '&' : '?'}${q.toString()}`;
    }
    return Promise.resolve(respond(redirect(302, location, cookies), R.ok));
  }

  function refreshSession(view: RequestView, s: Session, value: string): Promise<AuthResult> {
    const trace = view.trace ?? null; // read now: a live view is reused after the first await
    const api = isApiClient(view);
    const browserNav = !api && (view.method === 'GET' || view.method === 'HEAD');
    const returnTo = safeReturnPath(view.path, view.query);
    const present = presentChunks(view);
    const clear = [clearCookie(cookieName)];
    for (let i = 1; i < present; i++) clear.push(clearCookie(chunks[i - 1]!));
    const loginInputs = browserNav ? { origin: originOf(view) } : null;
    let p = refreshing.get(value);
    if (p === undefined) {
      stats.refreshes++;
      p = discovery.get().then((meta): Promise<TokenResult> | TokenResult =>
        meta === null
          ? { ok: false, kind: 'unavailable', detail: 'no discovery document' }
          : runToken('oidc#refresh', { ...tokenCall(meta), refreshToken: s.rt!, sub: s.sub }, trace));
      refreshing.set(value, p);
      const done = p;
      void done.finally(() => refreshing.delete(value));
    }
    return p.then((r): AuthResult | Promise<AuthResult> => {
      if (r.ok) {
        const now = Math.floor(Date.now() / 1000);
        // Same session (sid, start, end): a logout of it also ends the refreshed cookie.
        const next: Session = { v: 2, sid: s.sid, sub: s.sub, c: Object.keys(r.claims).length > 0 ? r.claims : s.c, iat: s.iat, exp: s.exp, ref: Math.min(r.refreshAt, s.exp) };
        if (s.psid !== undefined) next.psid = s.psid;
        if (s.psub !== undefined) next.psub = s.psub;
        if (r.refreshToken !== null) next.rt = r.refreshToken;
        const idt = r.idToken !== null ? hintOf(r.idToken) : s.idt;
        if (idt !== undefined) next.idt = idt;
        if (next.ref <= now) next.ref = Math.min(now + 60, s.exp);
        const sc = sessionSetCookies(next, present);
        if (sc === null) return REJECTED[R.invalid_session]!;
        const e = entryOf(next);
        cache.set(sc.sealed, e, e.id.expiresAt);
        // Same URL again, now with the new cookie; 307 keeps the method and body.
        return respond(redirect(307, returnTo, sc.cookies), R.ok);
      }
      stats.failures++;
      log.warn('OIDC session refresh failed', { authenticator: name, kind: r.kind, detail: r.detail });
      if (r.kind === 'unavailable') {
        if (cfg.failure_mode === 'allow') {
          const e = entryOf(s, Date.now() + GRACE_MS);
          if (isRevoked(e)) return REJECTED[R.session_revoked]!;
          cache.set(value, e, e.id.expiresAt);
          return { outcome: AUTH_OK, identity: e.id, reason: R.ok };
        }
        return browserNav ? respond(UNAVAILABLE, R.authn_unavailable) : REJECTED[R.authn_unavailable]!;
      }
      // The provider ended the session (refresh token revoked or expired): sign in again.
      if (loginInputs === null || loginInputs.origin === null) return REJECTED[R.invalid_session]!;
      const redirectUri = loginInputs.origin + callbackPath;
      return discovery.get().then((m) => (m !== null ? loginRedirect(m, returnTo, redirectUri, clear) : respond(UNAVAILABLE, R.authn_unavailable)));
    });
  }

  return {
    name,
    challenge,
    stats,
    authenticate(view: RequestView): number | Promise<AuthResult> {
      const path = view.path;
      if (path === callbackPath) return callback(view);
      if (path === logoutPath) return logout(view);
      if (path === backchannelPath) return backchannelOtherMethod(view);
      // Hot path: an unchunked session cookie seen before, probed in place (no substring).
      const ch = view.header('cookie');
      const at = ch === '' ? -1 : cookieRange(ch, cookieName);
      const end = cookieEnd[0]!; // read at once: every cookie lookup rewrites it
      if (at >= 0 && end > at && end - at < CHUNK) {
        const hit = cache.getIn(ch, at, end);
        // Every hit asks the revocation table: a logout on any thread (or gateway) ends it at once.
        if (hit !== undefined && !isRevoked(hit)) {
          stats.hits++;
          view.identity = hit.id;
          return AUTH_OK;
        }
      }
      const first = view.cookie(cookieName);
      let invalid = false;
      let revoked = false;
      if (first !== undefined && first !== '') {
        const value = readSession(view, first);
        const now = Date.now();
        const hit = cache.get(value, now);
        if (hit !== undefined) {
          if (!isRevoked(hit)) {
            stats.hits++;
            view.identity = hit.id;
            return AUTH_OK;
          }
          revoked = true;
        } else {
          const s = asSession(open(sessionKey, value));
          if (s !== null) {
            const nowSec = now / 1000;
            if (nowSec < s.exp) {
              const e = entryOf(s);
              if (isRevoked(e)) {
                revoked = true;
                // Cached anyway: a replayed revoked cookie is then refused without another decryption.
                cache.set(value, e, e.id.expiresAt);
              } else if (s.ref === 0 || nowSec < s.ref) {
                stats.opened++;
                cache.set(value, e, e.id.expiresAt);
                view.identity = e.id;
                return AUTH_OK;
              } else if (s.rt !== undefined) return refreshSession(view, s, value);
            }
          }
        }
        invalid = true;
      }
      if (revoked) stats.revoked++;
      if (isApiClient(view) || (view.method !== 'GET' && view.method !== 'HEAD')) {
        if (!invalid) return AUTH_ABSENT;
        view.reason = revoked ? R.session_revoked : R.invalid_session;
        return AUTH_REJECT;
      }
      return startLogin(view, invalid ? [clearCookie(cookieName)] : []);
    },
    challengeFor(reason: number): string {
      return byReason[reason] ?? challenge;
    },
    hasCredential(view: RequestView): boolean {
      const c = view.cookie(cookieName);
      return c !== undefined && c !== '';
    },
    cookieNames,
    backchannelPath,
    backchannelLogout: (body, contentType) => backchannel.logout(body, contentType),
    ...(backchannelPath !== null
      ? {
          bodyEndpoint: {
            path: backchannelPath, maxBytes: BACKCHANNEL_MAX_BODY, reason: R.backchannel_logout,
            handle: (body: Buffer, contentType: string) => backchannel.logout(body.toString('utf8'), contentType),
          },
        }
      : {}),
    ready(): Promise<void> {
      return Promise.all([discovery.first, revocation.ready]).then(() => undefined);
    },
    close(): void {
      discovery.close();
      cache.clear();
      revocation.close();
    },
  };
}
