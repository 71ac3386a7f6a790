// OIDC Back-Channel Logout 1.0: the real oidc-provider posts a logout token
// when the user signs out there; the gateway verifies it and revokes the
// sessions it names. Hostile tokens (well signed with the provider's own key,
// or not) revoke nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { SignJWT, generateKeyPair } from 'jose';
import { makeCompileContext, validateConfig } from '../../src/config/load.js';
import { AUTH_OK, AUTH_REJECT, type RequestView } from '../../src/contracts.js';
import { R } from '../../src/reasons.js';
import { compileOidc, type OidcAuthenticator } from '../../src/auth/oidc/index.js';
import { deriveKey, open } from '../../src/auth/oidc/jwe.js';
import { findCookie } from '../../src/auth/cookie-header.js';
import { createWorkerPool, type WorkerPool } from '../../src/workers/pool.js';
import { CookieJar, loginAtProvider, signOutAtProvider as signOutAt, startOidcProvider, type OidcProvider } from '../helpers/oidc-provider.js';
import { makeView } from '../helpers/request-view-builder.js';
import { browserView, expectRespond, headerOf } from './flow.js';

const SECRET = 'test-session-secret-0123456789abcdefghij';
const COOKIE = '__Host-portcullis';
const FORM = 'application/x-www-form-urlencoded';
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
let op: OidcProvider;
let pool: WorkerPool;
let capture: http.Server;
const posted: string[] = [];
const built: OidcAuthenticator[] = [];

function build(): OidcAuthenticator {
  const plan = validateConfig({
    upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
    authenticators: {
      sso: {
        type: 'oidc', issuer: op.issuer, client_id: op.clientId, client_secret: op.clientSecret, scopes: ['openid'],
        public_url: 'https://app.test', session: { secret: SECRET }, timeout: '5s', backchannel_logout_path: '/oauth2/backchannel-logout',
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

function api(value: string): RequestView {
  const cookie = `${COOKIE}=${value}`;
  const v = makeView({ path: '/api', headers: { accept: 'application/json', cookie } });
  (v as { cookie: (n: string) => string | undefined }).cookie = (n) => findCookie(cookie, n);
  return v;
}

/** Logs in; the provider's own session cookies stay in `opJar` (for signing out there). */
async function login(a: OidcAuthenticator, user: string, opJar = new CookieJar()): Promise<{ value: string; opJar: CookieJar }> {
  const jar = new CookieJar();
  const start = await expectRespond(a, browserView(jar, '/'), jar);
  const cb = await loginAtProvider(headerOf(start.response, 'location')!, user, opJar);
  await expectRespond(a, browserView(jar, cb.pathname + cb.search), jar);
  return { value: jar.cookies.get(COOKIE)!, opJar };
}

/** Signs out at the provider, which then posts the logout token (captured here). */
async function signOutAtProvider(opJar: CookieJar): Promise<string> {
  const before = posted.length;
  await signOutAt(op, opJar);
  for (let i = 0; i < 100 && posted.length === before; i++) await new Promise((res) => setTimeout(res, 20));
  expect(posted.length).toBeGreaterThan(before);
  return posted.at(-1)!;
}

async function forge(claims: Record<string, unknown>, opts: { key?: 'provider' | 'other'; typ?: string; iat?: number } = {}): Promise<string> {
  const key = opts.key === 'other' ? (await generateKeyPair('RS256')).privateKey : op.signingKey!.privateKey;
  const iat = opts.iat ?? Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: op.issuer, aud: op.clientId, iat, exp: iat + 120, events: { [EVENT]: {} }, jti: randomUUID(), ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: op.signingKey!.kid, typ: opts.typ ?? 'logout+jwt' })
    .sign(key);
}

const post = (a: OidcAuthenticator, token: string, type = FORM) => a.backchannelLogout(new URLSearchParams({ logout_token: token }).toString(), type);

beforeAll(async () => {
  capture = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => { posted.push(body); res.writeHead(200); res.end(); });
  });
  await new Promise<void>((r) => capture.listen(0, '127.0.0.1', r));
  op = await startOidcProvider({
    redirectUris: ['https://app.test/oauth2/callback'],
    backchannelLogoutUri: `http://127.0.0.1:${(capture.address() as AddressInfo).port}/oauth2/backchannel-logout`,
  });
  pool = createWorkerPool({ threads: 1, maxQueue: 64 });
  await pool.start();
});
afterAll(async () => {
  for (const a of built) a.close();
  await pool.close();
  await op.close();
  capture.close();
});

describe('OIDC back-channel logout', () => {
  it('signing out at the provider ends the gateway session it posts a logout token for, and only that one', async () => {
    const a = build();
    const other = build();
    const alice = await login(a, 'alice');
    const bob = await login(a, 'bob');
    const s = open(deriveKey(SECRET, 'session', 'sso'), alice.value)!;
    expect(typeof s.psid).toBe('string'); // the provider's sid, kept to match logout tokens
    expect(s.psub).toBe('alice');
    for (const x of [a, other]) expect(x.authenticate(api(alice.value))).toBe(AUTH_OK);

    const body = await signOutAtProvider(alice.opJar);
    const r = await a.backchannelLogout(body, FORM);
    expect(r.status).toBe(200);
    expect(headerOf(r, 'cache-control')).toBe('no-store');
    for (const x of [a, other, build()]) {
      const v = api(alice.value);
      expect(x.authenticate(v)).toBe(AUTH_REJECT);
      expect(v.reason).toBe(R.session_revoked);
    }
    expect(a.authenticate(api(bob.value))).toBe(AUTH_OK);
    // The same token again is a replay.
    const again = await a.backchannelLogout(body, FORM);
    expect(again.status).toBe(400);
    expect(again.body).toMatch(/already used/);
  });

  it('a token naming only sub ends every session of that subject', async () => {
    const a = build();
    const c1 = await login(a, 'carol');
    const c2 = await login(a, 'carol');
    const dave = await login(a, 'dave');
    expect((await post(a, await forge({ sub: 'carol' }))).status).toBe(200);
    expect(a.authenticate(api(c1.value))).toBe(AUTH_REJECT);
    expect(a.authenticate(api(c2.value))).toBe(AUTH_REJECT);
    expect(a.authenticate(api(dave.value))).toBe(AUTH_OK);
    // A later login of that subject is a new session.
    await new Promise((r) => setTimeout(r, 1100));
    const c3 = await login(a, 'carol');
    expect(a.authenticate(api(c3.value))).toBe(AUTH_OK);
  });

  it('refuses forged, tampered and replayed tokens, and they revoke nothing', async () => {
    const a = build();
    const erin = await login(a, 'erin');
    const s = open(deriveKey(SECRET, 'session', 'sso'), erin.value)!;
    const sid = s.psid as string;
    const now = Math.floor(Date.now() / 1000);
    const good = await forge({ sid });
    const [h, p, sig] = good.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    const hostile: [string, string][] = [
      ['signed by another key', await forge({ sid }, { key: 'other' })],
      ['payload changed after signing', `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: 'erin' })).toString('base64url')}.${sig}`],
      ['alg none', `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'logout+jwt' })).toString('base64url')}.${p}.`],
      ['with a nonce (an ID token)', await forge({ sid, nonce: 'n' })],
      ['without the events claim', await forge({ sid, events: undefined })],
      ['with another event', await forge({ sid, events: { 'http://schemas.openid.net/event/other': {} } })],
      ['event not an object', await forge({ sid, events: { [EVENT]: 'yes' } })],
      ['neither sid nor sub', await forge({})],
      ['without jti', await forge({ sid, jti: undefined })],
      ['another audience', await forge({ sid, aud: 'someone-else' })],
      ['another issuer', await forge({ sid, iss: 'https://evil.example' })],
      ['typed as an access token', await forge({ sid }, { typ: 'at+jwt' })],
      ['issued long ago', await forge({ sid }, { iat: now - 3600 })],
      ['not a JWT', 'garbage'],
    ];
    for (const [what, token] of hostile) {
      const r = await post(a, token);
      expect(r.status, what).toBe(400);
      expect(a.authenticate(api(erin.value)), what).toBe(AUTH_OK);
    }
    expect((await a.backchannelLogout('', FORM)).status).toBe(400);
    expect((await post(a, good, 'application/json')).status).toBe(400);
    expect(a.authenticate(api(erin.value))).toBe(AUTH_OK);
    // The well-formed one works once, then is a replay even after it took effect.
    expect((await post(a, good)).status).toBe(200);
    expect(a.authenticate(api(erin.value))).toBe(AUTH_REJECT);
    expect((await post(a, good)).status).toBe(400);
  });

  it('anything but the pipeline\'s POST at the path is refused and revokes nothing', async () => {
    const a = build();
    const r = await expectRespond(a, makeView({ method: 'POST', path: '/oauth2/backchannel-logout', headers: { 'content-type': FORM } }));
    expect(r.response.status).toBe(500);
    const g = await expectRespond(a, makeView({ method: 'GET', path: '/oauth2/backchannel-logout' }));
    expect(g.response.status).toBe(405);
    expect(a.bodyEndpoint?.path).toBe('/oauth2/backchannel-logout');
  });
});
