import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { compactDecrypt } from 'jose';
import { validateConfig, makeCompileContext } from '../../src/config/load.js';
import { AUTH_ABSENT, AUTH_OK, AUTH_REJECT, AUTH_RESPOND, type AuthResult } from '../../src/contracts.js';
import { R } from '../../src/reasons.js';
import { compileOidc, type OidcAuthenticator } from '../../src/auth/oidc/index.js';
import { deriveKey, open, seal } from '../../src/auth/oidc/jwe.js';
import { createWorkerPool, type WorkerPool } from '../../src/workers/pool.js';
import { CookieJar, loginAtProvider, startOidcProvider, type OidcProvider } from '../helpers/oidc-provider.js';
import { makeView } from '../helpers/request-view-builder.js';
import { BROWSER, browserView, expectRespond, fullLogin, headerOf, loginUpToCallback, setCookiesOf } from './flow.js';

const SECRET = 'test-session-secret-0123456789abcdefghij';
const COOKIE = '__Host-portcullis';
let op: OidcProvider;
let pool: WorkerPool;
const built: OidcAuthenticator[] = [];

function build(over: Record<string, unknown> = {}, issuer = op.issuer): OidcAuthenticator {
  const plan = validateConfig({
    upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
    authenticators: {
      sso: {
        type: 'oidc',
        issuer,
        client_id: op.clientId,
        client_secret: op.clientSecret,
        scopes: ['openid', 'email', 'profile'],
        public_url: 'https://app.test',
        post_logout_redirect: '/bye',
        session: { secret: SECRET },
        forward_claims: { email: 'x-user-email' },
        timeout: '5s',
        ...over,
      },
    },
    routes: [{ name: 'app', match: { path_prefix: '/' }, authenticate: ['sso'], upstream: 'u' }],
  });
  const issues: { path: string; message: string }[] = [];
  const a = compileOidc('sso', plan.config.authenticators.sso as never, 'authenticators.sso', makeCompileContext(plan, issues), pool);
  expect(issues).toEqual([]);
  built.push(a);
  return a;
}

const sessionKey = () => deriveKey(SECRET, 'session', 'sso');
const newSid = () => randomBytes(16).toString('base64url');

beforeAll(async () => {
  op = await startOidcProvider({ redirectUris: ['https://app.test/oauth2/callback'], postLogoutRedirectUris: ['https://app.test/bye'] });
  pool = createWorkerPool({ threads: 1, maxQueue: 64 });
  await pool.start();
});
afterAll(async () => {
  for (const a of built) a.close();
  await pool.close();
  await op.close();
});

describe('OIDC login', () => {
  it('logs a browser in: redirect with PKCE, provider login, callback, session cookie, then cache hits', async () => {
    const a = build();
    await a.ready();
    const jar = new CookieJar();
    const start = await expectRespond(a, browserView(jar, '/orders/7?x=1'), jar);
    expect(start.result.reason).toBe(R.login_required);
    const loc = new URL(headerOf(start.response, 'location')!);
    expect(loc.origin).toBe(op.issuer);
    expect(loc.searchParams.get('code_challenge_method')).toBe('S256');
    expect(loc.searchParams.get('redirect_uri')).toBe('https://app.test/oauth2/callback');
    expect(loc.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(loc.searchParams.get('nonce')).toBeTruthy();
    const loginCookie = setCookiesOf(start.response)[0]!;
    expect(loginCookie).toMatch(/^__Host-portcullis-login-[A-Za-z0-9_-]{16}=.+; Path=\/; Secure; HttpOnly; SameSite=Lax; Max-Age=600$/);

    const cb = await loginAtProvider(loc.href, 'alice');
    expect(cb.origin + cb.pathname).toBe('https://app.test/oauth2/callback');
    const done = await expectRespond(a, browserView(jar, cb.pathname + cb.search), jar);
    expect(done.response.status).toBe(302);
    expect(headerOf(done.response, 'location')).toBe('/orders/7?x=1');
    const cookies = setCookiesOf(done.response);
    const session = cookies.find((c) => c.startsWith(`${COOKIE}=`))!;
    expect(session).toMatch(/; Path=\/; Secure; HttpOnly; SameSite=Lax; Max-Age=28800$/);
    expect(cookies.some((c) => c.startsWith('__Host-portcullis-login-') && c.endsWith('Max-Age=0'))).toBe(true);

    // The session cookie is a standard JWE: jose opens it with the derived key.
    const value = jar.cookies.get(COOKIE)!;
    const { plaintext, protectedHeader } = await compactDecrypt(value, sessionKey());
    expect(protectedHeader).toEqual({ alg: 'dir', enc: 'A256GCM' });
    expect(JSON.parse(new TextDecoder().decode(plaintext))).toMatchObject({ sub: 'alice', c: { email: 'alice@example.test' } });

    const v = browserView(jar, '/orders/7');
    expect(a.authenticate(v)).toBe(AUTH_OK);
    expect(v.identity).toMatchObject({ authenticator: 'sso', consumer: 'alice', claims: { sub: 'alice', email: 'alice@example.test', iss: op.issuer } });
    expect(v.identity!.forwardHeaders).toEqual(['x-user-email', 'alice@example.test']);
    expect(a.stats.hits).toBe(1);

    // Another thread (another instance, same secret) opens the cookie synchronously, without the pool.
    const other = build();
    const v2 = browserView(jar, '/orders/8');
    expect(other.authenticate(v2)).toBe(AUTH_OK);
    expect(v2.identity!.consumer).toBe('alice');
  });

  it('answers API clients without a session with no credential (401), never a redirect', () => {
    const a = build();
    for (const headers of [{ accept: 'application/json' }, { 'x-requested-with': 'XMLHttpRequest' }, { authorization: 'Bearer abc' }, { 'sec-fetch-mode': 'cors', accept: '*/*' }]) {
      expect(a.authenticate(makeView({ path: '/api/x', headers }))).toBe(AUTH_ABSENT);
    }
    const post = makeView({ method: 'POST', path: '/form', headers: { accept: 'text/html' } });
    expect(a.authenticate(post)).toBe(AUTH_ABSENT);
  });

  it('refuses a callback whose state does not match the login cookie', async () => {
    const a = build();
    const jar = new CookieJar();
    const cb = await loginUpToCallback(a, jar, '/');
    // Another browser's login (its own state cookie) receives this callback.
    const jar2 = new CookieJar();
    await loginUpToCallback(a, jar2, '/');
    const forged = new URL(cb);
    const bad = await expectRespond(a, browserView(jar2, forged.pathname + forged.search));
    expect(bad.response.status).toBe(400);
    expect(bad.response.body).toMatch(/does not belong to a sign-in started in this browser/);
    expect(setCookiesOf(bad.response).some((c) => c.startsWith(`${COOKIE}=`))).toBe(false);
    // A state parameter changed in the URL.
    forged.searchParams.set('state', 'A'.repeat(32));
    const bad2 = await expectRespond(a, browserView(jar, forged.pathname + forged.search));
    expect(bad2.response.status).toBe(400);
  });

  it('refuses a replayed callback: in the same process, and at the provider from another one', async () => {
    const a = build();
    const jar = new CookieJar();
    const cb = await loginUpToCallback(a, jar, '/');
    const replayJar = new CookieJar();
    for (const [k, v] of jar.cookies) replayJar.cookies.set(k, v); // the attacker kept the login cookie
    const ok = await expectRespond(a, browserView(jar, cb.pathname + cb.search));
    expect(ok.response.status).toBe(302);
    const again = await expectRespond(a, browserView(replayJar, cb.pathname + cb.search));
    expect(again.response.status).toBe(400);
    expect(again.response.body).toMatch(/already used/);
    const elsewhere = await expectRespond(build(), browserView(replayJar, cb.pathname + cb.search));
    expect(elsewhere.response.status).toBe(400);
    expect(elsewhere.response.body).toMatch(/invalid_grant/);
    expect(setCookiesOf(elsewhere.response).some((c) => c.startsWith(`${COOKIE}=`))).toBe(false);
  });

  it('refuses an ID token whose nonce differs from the one bound to the login', async () => {
    const a = build();
    await a.ready();
    // A login cookie expecting one nonce, and a provider login made with another (code injection).
    const state = 'N'.repeat(32);
    const verifier = 'v'.repeat(43);
    const loginCookie = seal(deriveKey(SECRET, 'login', 'sso'), {
      s: state, n: 'the-nonce-this-browser-sent', v: verifier, r: '/', u: 'https://app.test/oauth2/callback', t: Math.floor(Date.now() / 1000) + 600,
    });
    const auth = new URL(`${op.issuer}/auth`);
    for (const [k, v] of Object.entries({
      response_type: 'code', client_id: op.clientId, redirect_uri: 'https://app.test/oauth2/callback', scope: 'openid email',
      state, nonce: 'an-attackers-nonce', code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    })) auth.searchParams.set(k, v);
    const cb = await loginAtProvider(auth.href, 'mallory');
    const jar = new CookieJar();
    jar.cookies.set(`__Host-portcullis-login-${state.slice(0, 16)}`, loginCookie);
    const r = await expectRespond(a, browserView(jar, cb.pathname + cb.search));
    expect(r.response.status).toBe(400);
    expect(r.response.body).toMatch(/nonce/);
    expect(setCookiesOf(r.response).some((c) => c.startsWith(`${COOKIE}=`))).toBe(false);
  });

  it('treats an expired session as none: browsers are sent to log in, API clients get 401 invalid_session', async () => {
    const a = build();
    await a.ready();
    const now = Math.floor(Date.now() / 1000);
    const expired = seal(sessionKey(), { v: 2, sid: newSid(), sub: 'alice', c: { sub: 'alice' }, iat: now - 30_000, exp: now - 10, ref: 0 });
    const live = seal(sessionKey(), { v: 2, sid: newSid(), sub: 'alice', c: { sub: 'alice' }, iat: now, exp: now + 600, ref: 0 });
    expect(a.authenticate(makeView({ path: '/', cookies: { [COOKIE]: live } }))).toBe(AUTH_OK);
    const api = makeView({ path: '/api', headers: { accept: 'application/json' }, cookies: { [COOKIE]: expired } });
    expect(a.authenticate(api)).toBe(AUTH_REJECT);
    expect(api.reason).toBe(R.invalid_session);
    expect(api.identity).toBeNull();
    const jar = new CookieJar();
    jar.cookies.set(COOKIE, expired);
    const r = await expectRespond(a, browserView(jar, '/page'));
    expect(r.response.status).toBe(302);
    expect(headerOf(r.response, 'location')!.startsWith(`${op.issuer}/auth?`)).toBe(true);
    expect(setCookiesOf(r.response)).toContain(`${COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0`);
  });

  it('refuses a tampered session cookie', async () => {
    const a = build();
    const jar = new CookieJar();
    await fullLogin(a, jar, '/');
    const value = jar.cookies.get(COOKIE)!;
    const i = Math.floor(value.length / 2);
    const tampered = value.slice(0, i) + (value[i] === 'A' ? 'B' : 'A') + value.slice(i + 1);
    expect(open(sessionKey(), tampered)).toBeNull();
    const api = makeView({ path: '/api', headers: { accept: 'application/json' }, cookies: { [COOKIE]: tampered } });
    expect(a.authenticate(api)).toBe(AUTH_REJECT);
    expect(api.reason).toBe(R.invalid_session);
    // A session sealed with another secret is refused the same way.
    const foreign = seal(deriveKey('another-secret-0123456789abcdefghijklmn', 'session', 'sso'), { v: 2, sid: newSid(), sub: 'root', c: {}, iat: 0, exp: 4e9, ref: 0 });
    const v = makeView({ path: '/api', headers: { accept: 'application/json' }, cookies: { [COOKIE]: foreign } });
    expect(a.authenticate(v)).toBe(AUTH_REJECT);
    // And a login-state cookie is not a session.
    const loginish = seal(deriveKey(SECRET, 'login', 'sso'), { v: 2, sid: newSid(), sub: 'root', c: {}, iat: 0, exp: 4e9, ref: 0 });
    expect(a.authenticate(makeView({ path: '/api', headers: { accept: 'application/json' }, cookies: { [COOKIE]: loginish } }))).toBe(AUTH_REJECT);
  });

  it('sends the browser back only to same-origin relative paths', async () => {
    const a = build();
    await a.ready();
    const attempts = ['//evil.example/x', '/\\evil.example', '/\t/evil.example', 'https://evil.example/', '/a\r\nSet-Cookie: x=1'];
    for (const path of attempts) {
      const jar = new CookieJar();
      const start = await expectRespond(a, makeView({ path, headers: { ...BROWSER } }), jar);
      const cb = await loginAtProvider(headerOf(start.response, 'location')!, 'alice');
      const done = await expectRespond(a, browserView(jar, cb.pathname + cb.search));
      expect(headerOf(done.response, 'location'), path).toBe('/');
    }
  });

  it('logs out: clears the session cookie and ends the provider session', async () => {
    const a = build();
    const jar = new CookieJar();
    await fullLogin(a, jar, '/');
    const r = await expectRespond(a, browserView(jar, '/oauth2/logout'), jar);
    expect(r.response.status).toBe(302);
    const loc = new URL(headerOf(r.response, 'location')!);
    expect(loc.origin).toBe(op.issuer);
    expect(loc.searchParams.get('post_logout_redirect_uri')).toBe('https://app.test/bye');
    // RP-Initiated Logout: the session's ID token names the session to end, and the provider accepts it.
    const hint = loc.searchParams.get('id_token_hint')!;
    const claims = JSON.parse(Buffer.from(hint.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(claims.sub).toBe('alice');
    expect(claims.aud).toBe(op.clientId);
    const page = await fetch(loc, { redirect: 'manual' });
    const html = await page.text();
    expect(page.status, html.slice(0, 300)).toBe(200);
    expect(html).toContain('/session/end/confirm');
    const bad = new URL(loc);
    bad.searchParams.set('id_token_hint', `${hint.slice(0, -4)}AAAA`);
    expect((await fetch(bad, { redirect: 'manual' })).status).toBe(400);
    expect(setCookiesOf(r.response)).toContain(`${COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0`);
    expect(jar.cookies.has(COOKIE)).toBe(false);
  });

  it('refreshes a session whose tokens are due with the refresh token, answering 307 to the same URL', async () => {
    const a = build();
    const jar = new CookieJar();
    await fullLogin(a, jar, '/');
    const key = sessionKey();
    const s = open(key, jar.cookies.get(COOKIE)!)!;
    expect(typeof s.rt).toBe('string');
    const due = seal(key, { ...s, ref: Math.floor(Date.now() / 1000) - 1 });
    jar.cookies.set(COOKIE, due);
    const r = await expectRespond(a, browserView(jar, '/orders?page=2'), jar);
    expect(r.response.status).toBe(307);
    expect(headerOf(r.response, 'location')).toBe('/orders?page=2');
    const next = open(key, jar.cookies.get(COOKIE)!)!;
    expect(next.ref as number).toBeGreaterThan(Date.now() / 1000);
    expect(next.sub).toBe('alice');
    const v = browserView(jar, '/orders?page=2');
    expect(a.authenticate(v)).toBe(AUTH_OK);
    // Once the provider revokes the refresh token, a session due for refresh must log in again.
    const revoked = await fetch(`${op.issuer}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${op.clientId}:${op.clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({ token: s.rt as string, token_type_hint: 'refresh_token' }).toString(),
    });
    expect(revoked.status).toBe(200);
    jar.cookies.set(COOKIE, due);
    const stale = build();
    const again = await expectRespond(stale, browserView(jar, '/x'));
    expect(again.response.status).toBe(302);
    expect(headerOf(again.response, 'location')!.startsWith(`${op.issuer}/auth?`)).toBe(true);
  });
});

describe('OIDC provider down', () => {
  it('shows a clear 503 page when the provider cannot be reached to start a login', async () => {
    await op.stop();
    try {
      const a = build();
      await a.ready();
      const r = await expectRespond(a, makeView({ path: '/', headers: BROWSER }));
      expect(r.response.status).toBe(503);
      expect(r.result.reason).toBe(R.authn_unavailable);
      expect(r.response.body).toMatch(/identity provider could not be reached/);
      expect(headerOf(r.response, 'retry-after')).toBe('5');
    } finally {
      await op.start();
    }
  });

  it('shows a 503 page and sets no session when the provider goes away before the code exchange', async () => {
    const a = build();
    const jar = new CookieJar();
    const cb = await loginUpToCallback(a, jar, '/');
    await op.stop();
    try {
      const r = await expectRespond(a, browserView(jar, cb.pathname + cb.search));
      expect(r.response.status).toBe(503);
      expect(r.result.outcome).toBe(AUTH_RESPOND);
      expect(setCookiesOf(r.response).some((c) => c.startsWith(`${COOKIE}=`))).toBe(false);
    } finally {
      await op.start();
    }
  });
});

describe('OIDC config checks', () => {
  it('requires a session secret and refuses a short one, naming the field', () => {
    const plan = validateConfig({
      upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
      authenticators: { sso: { type: 'oidc', issuer: 'http://127.0.0.1:1', client_id: 'c', session: { secret: 'short' }, public_url: 'http://app.example.com' } },
      routes: [{ name: 'app', match: { path_prefix: '/' }, authenticate: ['sso'], upstream: 'u' }],
    });
    const issues: { path: string; message: string }[] = [];
    const a = compileOidc('sso', plan.config.authenticators.sso as never, 'authenticators.sso', makeCompileContext(plan, issues), pool);
    a.close();
    expect(issues.map((i) => i.path).sort()).toEqual(['authenticators.sso.public_url', 'authenticators.sso.session.secret']);
  });
});

// Keeps the type import used.
export type { AuthResult };
