// OIDC Back-Channel Logout through the real gateway: the provider (real
// oidc-provider) posts its logout token to the gateway's
// backchannel_logout_path when the user signs out there, and the session
// ends on this gateway and — with revocation: cluster — on a second one
// sharing redis. What a hostile sender posts there revokes nothing and never
// reaches the upstream.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { startGateway, tempDir, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { CookieJar, loginAtProvider, signOutAtProvider, startOidcProvider, type OidcProvider } from '../helpers/oidc-provider.js';
import { freePort, request } from '../e2e/util.js';

const SECRET = 'e2e-session-secret-0123456789abcdefghijkl';
const COOKIE = '__Host-portcullis';
const PATH = '/oauth2/backchannel-logout';
const FORM = 'application/x-www-form-urlencoded';
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const BROWSER = { accept: 'text/html', 'sec-fetch-mode': 'navigate' };
const API = { accept: 'application/json' };

let op: OidcProvider;
let up: TestUpstream;
let redis: RedisServer;
let port1 = 0;
let port2 = 0;
const running: RunningGateway[] = [];

function config(port: number) {
  return {
    server: { listen: [{ host: '127.0.0.1', port }] },
    upstreams: { app: { targets: [up.url] } },
    authenticators: {
      sso: {
        type: 'oidc', issuer: op.issuer, client_id: op.clientId, client_secret: op.clientSecret, scopes: ['openid', 'email'],
        public_url: `http://localhost:${port1}`,
        session: { secret: SECRET },
        backchannel_logout_path: PATH,
        revocation: 'cluster',
      },
    },
    cluster: { redis: redis.url },
    routes: [{ name: 'app', match: { path_prefix: '/' }, authenticate: ['sso'], upstream: 'app' }],
  };
}

async function start(port: number): Promise<RunningGateway> {
  const g = await startGateway(config(port), { dir: tempDir() });
  running.push(g);
  return g;
}

async function get(g: RunningGateway, jar: CookieJar, p: string, headers: Record<string, string> = BROWSER) {
  const r = await request(g.url, p, { headers: { host: `localhost:${port1}`, cookie: jar.header(), ...headers } });
  const sc = r.headers['set-cookie'];
  if (sc) jar.store(Array.isArray(sc) ? sc : [sc]);
  return r;
}

/** Logs in through `g`; the provider's own cookies stay in the returned opJar (to sign out there). */
async function login(g: RunningGateway, user: string): Promise<{ value: string; opJar: CookieJar }> {
  const jar = new CookieJar();
  const opJar = new CookieJar();
  const startR = await get(g, jar, '/home');
  expect(startR.status).toBe(302);
  const cb = await loginAtProvider(startR.headers.location!, user, opJar);
  const done = await get(g, jar, cb.pathname + cb.search);
  expect(done.status).toBe(302);
  return { value: jar.cookies.get(COOKIE)!, opJar };
}

function jarWith(value: string): CookieJar {
  const j = new CookieJar();
  j.cookies.set(COOKIE, value);
  return j;
}

const status = async (g: RunningGateway, value: string) => (await get(g, jarWith(value), '/data', API)).status;

/** Polls (bounded) until the cookie is refused; returns the last status. */
async function refusedWithin(g: RunningGateway, value: string, tries = 100): Promise<number> {
  let s = 0;
  for (let i = 0; i < tries; i++) {
    s = await status(g, value);
    if (s === 401) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
  return s;
}

const post = (g: RunningGateway, body: string, headers: Record<string, string> = { 'content-type': FORM }) =>
  request(g.url, PATH, { method: 'POST', headers, body });

async function forge(claims: Record<string, unknown>): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: op.issuer, aud: op.clientId, iat, exp: iat + 120, events: { [EVENT]: {} }, jti: randomUUID(), ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: op.signingKey!.kid, typ: 'logout+jwt' })
    .sign(op.signingKey!.privateKey);
}

beforeAll(async () => {
  port1 = await freePort();
  port2 = await freePort();
  op = await startOidcProvider({
    redirectUris: [`http://localhost:${port1}/oauth2/callback`],
    backchannelLogoutUri: `http://127.0.0.1:${port1}${PATH}`,
  });
  up = await startUpstream();
  redis = await startRedis();
});
afterAll(async () => {
  for (const g of running) await g.stop();
  await up?.close();
  await op?.close();
  await redis?.stop();
});

describe('OIDC back-channel logout through the gateway', () => {
  it('signing out at the provider ends the session on both gateways; other sessions live on', async () => {
    const g1 = await start(port1);
    const g2 = await start(port2);
    const alice = await login(g1, 'alice');
    const bob = await login(g1, 'bob');
    expect(await status(g1, alice.value)).toBe(200);
    expect(await status(g2, alice.value)).toBe(200);
    const seen = up.requests.length;

    await signOutAtProvider(op, alice.opJar);
    expect(await refusedWithin(g1, alice.value)).toBe(401);
    expect(await refusedWithin(g2, alice.value)).toBe(401);
    expect(await status(g1, bob.value)).toBe(200);
    expect(await status(g2, bob.value)).toBe(200);
    // The logout POST itself never went upstream.
    expect(up.requests.slice(seen).some((r) => r.url.startsWith(PATH))).toBe(false);
    await g1.waitForLog(/OIDC back-channel logout"/);
  }, 60_000);

  it('forged, replayed, oversized and malformed posts are refused and revoke nothing', async () => {
    const g = running[0]!;
    const carol = await login(g, 'carol');
    const seen = up.requests.length;
    const other = await new SignJWT({ iss: op.issuer, aud: op.clientId, sub: 'carol', events: { [EVENT]: {} }, jti: randomUUID() })
      .setProtectedHeader({ alg: 'HS256', typ: 'logout+jwt' }).setIssuedAt().sign(new TextEncoder().encode('x'.repeat(32)));
    const hostile: [string, () => Promise<{ status: number }>, number][] = [
      ['not a JWT', () => post(g, 'logout_token=garbage'), 400],
      ['HS256 with a guessed key', () => post(g, `logout_token=${other}`), 400],
      ['no logout_token', () => post(g, 'something=else'), 400],
      ['JSON instead of a form', () => post(g, JSON.stringify({ logout_token: 'x' }), { 'content-type': 'application/json' }), 400],
      ['over 16 KiB', () => post(g, `logout_token=${'a'.repeat(20_000)}`), 413],
      ['GET', () => request(g.url, PATH, { headers: API }), 405],
    ];
    for (const [what, send, want] of hostile) {
      expect((await send()).status, what).toBe(want);
      expect(await status(g, carol.value), what).toBe(200);
    }
    // A well-signed token works once; the same again is a replay.
    const token = await forge({ sub: 'carol' });
    expect((await post(g, `logout_token=${token}`)).status).toBe(200);
    expect(await refusedWithin(g, carol.value)).toBe(401);
    const again = await post(g, `logout_token=${token}`);
    expect(again.status).toBe(400);
    expect(again.body).toMatch(/already used/);
    expect(up.requests.slice(seen).some((r) => r.url.startsWith(PATH))).toBe(false);
    expect(g.proc.exitCode).toBeNull();
  }, 60_000);
});
