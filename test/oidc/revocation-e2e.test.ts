// Logout ends the session through the real gateway (`node dist/cli.js
// start`): a copy of the cookie replayed after logout is refused by every
// event-loop thread (server.threads: 2), after a restart with the same
// session secret, and — with revocation: cluster — by a second gateway
// sharing redis, also when redis was away during the logout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startGateway, tempDir, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { CookieJar, loginAtProvider, startOidcProvider, type OidcProvider } from '../helpers/oidc-provider.js';
import { freePort, request } from '../e2e/util.js';

const SECRET = 'e2e-session-secret-0123456789abcdefghijkl';
const COOKIE = '__Host-portcullis';
const BROWSER = { accept: 'text/html', 'sec-fetch-mode': 'navigate' };
const API = { accept: 'application/json' };

let op: OidcProvider;
let up: TestUpstream;
let redis: RedisServer;
let port1 = 0;
let port2 = 0;
const running: RunningGateway[] = [];

function config(port: number, extra: { threads?: number; revocation?: 'local' | 'cluster' } = {}) {
  return {
    server: { listen: [{ host: '127.0.0.1', port }], threads: extra.threads ?? 1 },
    upstreams: { app: { targets: [up.url] } },
    authenticators: {
      sso: {
        type: 'oidc', issuer: op.issuer, client_id: op.clientId, client_secret: op.clientSecret, scopes: ['openid', 'email'],
        // Both gateways serve one site: the provider sends browsers back to the first.
        public_url: `http://localhost:${port1}`,
        session: { secret: SECRET },
        ...(extra.revocation ? { revocation: extra.revocation } : {}),
      },
    },
    ...(extra.revocation === 'cluster' ? { cluster: { redis: redis.url } } : {}),
    routes: [{ name: 'app', match: { path_prefix: '/' }, authenticate: ['sso'], upstream: 'app' }],
  };
}

async function start(cfg: object, dir?: string): Promise<RunningGateway> {
  const g = await startGateway(cfg, dir ? { dir } : {});
  running.push(g);
  return g;
}

/** A request to gateway `g` with the jar's cookies, as the browser at localhost:port1 sends it. */
async function get(g: RunningGateway, jar: CookieJar, p: string, headers: Record<string, string> = BROWSER) {
  const r = await request(g.url, p, { headers: { host: `localhost:${port1}`, cookie: jar.header(), ...headers } });
  const sc = r.headers['set-cookie'];
  if (sc) jar.store(Array.isArray(sc) ? sc : [sc]);
  return r;
}

/** Logs in through `g`; returns the session cookie value. */
async function login(g: RunningGateway, user: string): Promise<string> {
  const jar = new CookieJar();
  const startR = await get(g, jar, '/home');
  expect(startR.status).toBe(302);
  const cb = await loginAtProvider(startR.headers.location!, user);
  const done = await get(g, jar, cb.pathname + cb.search);
  expect(done.status).toBe(302);
  return jar.cookies.get(COOKIE)!;
}

function jarWith(value: string): CookieJar {
  const j = new CookieJar();
  j.cookies.set(COOKIE, value);
  return j;
}

async function logout(g: RunningGateway, value: string): Promise<void> {
  const r = await get(g, jarWith(value), '/oauth2/logout');
  expect(r.status).toBe(302);
}

/** `n` requests on fresh connections (spread over the threads by SO_REUSEPORT): their statuses. */
async function replay(g: RunningGateway, value: string, n: number, headers = API): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await get(g, jarWith(value), `/data/${i}`, headers)).status);
  return out;
}

/** Polls (bounded) until a request with the cookie is refused; returns the last status. */
async function refusedWithin(g: RunningGateway, value: string, tries = 100): Promise<number> {
  let status = 0;
  for (let i = 0; i < tries; i++) {
    status = (await get(g, jarWith(value), '/poll', API)).status;
    if (status === 401) return status;
    await new Promise((r) => setTimeout(r, 50));
  }
  return status;
}

beforeAll(async () => {
  port1 = await freePort();
  port2 = await freePort();
  op = await startOidcProvider({ redirectUris: [`http://localhost:${port1}/oauth2/callback`], postLogoutRedirectUris: [`http://localhost:${port1}/`] });
  up = await startUpstream();
  redis = await startRedis();
});
afterAll(async () => {
  for (const g of running) await g.stop();
  await up?.close();
  await op?.close();
  await redis?.stop();
});

describe('the gateway\'s own session cookie', () => {
  it('never reaches the upstream; the other cookies do, byte for byte', async () => {
    const g = await start(config(port1));
    const alice = await login(g, 'alice');
    const jar = jarWith(alice);
    jar.cookies.set('theme', 'dark');
    jar.cookies.set('cart', 'a%3Db; x');
    const seen = up.requests.length;
    const r = await get(g, jar, '/page', API);
    expect(r.status).toBe(200);
    const cookie = String(up.requests.slice(seen).at(-1)!.headers.cookie ?? '');
    expect(cookie).not.toContain(COOKIE);
    expect(cookie).not.toContain(alice);
    expect(cookie).toContain('theme=dark');
    expect(cookie).toContain('cart=a%3Db; x');
    await g.stop();
    running.splice(running.indexOf(g), 1);
  });
});

describe('OIDC logout through the gateway', () => {
  it('with two threads: refused on every thread after logout, and still after a restart (same secret, same state)', async () => {
    const dir = tempDir();
    let g = await start(config(port1, { threads: 2 }), dir);
    const alice = await login(g, 'alice');
    const bob = await login(g, 'bob');
    // Both threads have served (and cached) alice's session.
    expect(await replay(g, alice, 24)).toEqual(Array(24).fill(200));
    const seen = up.requests.length;
    await logout(g, alice);
    expect(await replay(g, alice, 24)).toEqual(Array(24).fill(401));
    expect(up.requests.length).toBe(seen);
    // A browser with the copy is sent to sign in, its cookie cleared.
    const b = await get(g, jarWith(alice), '/page');
    expect(b.status).toBe(302);
    expect(b.headers.location!.startsWith(`${op.issuer}/auth?`)).toBe(true);
    // Another session is untouched.
    expect(await replay(g, bob, 6)).toEqual(Array(6).fill(200));
    expect(readFileSync(path.join(dir, 'oidc-sso.revocations'), 'utf8')).toMatch(/^r [0-9a-f]{32} /m);

    expect(await g.stop()).toBe(0);
    g = await start(config(port1, { threads: 2 }), dir);
    expect(await replay(g, alice, 12)).toEqual(Array(12).fill(401));
    expect(await replay(g, bob, 4)).toEqual(Array(4).fill(200));
    await g.stop();
  }, 90_000);

  it('with revocation: cluster: a logout on one gateway ends the session on another, also when redis was away', async () => {
    const dirs = [tempDir(), tempDir()];
    const g1 = await start(config(port1, { revocation: 'cluster' }), dirs[0]);
    const g2 = await start(config(port2, { revocation: 'cluster' }), dirs[1]);
    const carol = await login(g1, 'carol');
    const dave = await login(g1, 'dave');
    // g2 accepts (same secret) and caches both sessions.
    expect(await replay(g2, carol, 2)).toEqual([200, 200]);
    expect(await replay(g2, dave, 2)).toEqual([200, 200]);
    await logout(g1, carol);
    expect(await replay(g1, carol, 1)).toEqual([401]);
    expect(await refusedWithin(g2, carol)).toBe(401);
    expect(await replay(g2, dave, 1)).toEqual([200]);

    // Redis away: the gateway that took the logout refuses at once and keeps serving; the other learns when redis is back.
    await redis.kill();
    await logout(g1, dave);
    expect(await replay(g1, dave, 3)).toEqual([401, 401, 401]);
    const erin = await login(g1, 'erin');
    expect(await replay(g1, erin, 1)).toEqual([200]);
    await redis.restart();
    expect(await refusedWithin(g2, dave, 200)).toBe(401);
    await g1.waitForLog(/OIDC revocation: redis unreachable/);

    // A gateway started later reads what was revoked before it came up, before serving.
    const g3 = await start(config(0, { revocation: 'cluster' }), tempDir());
    expect(await replay(g3, carol, 1)).toEqual([401]);
    expect(await replay(g3, dave, 1)).toEqual([401]);
    expect(await replay(g3, erin, 1)).toEqual([200]);
    for (const g of [g1, g2, g3]) expect(g.proc.exitCode).toBeNull();
  }, 90_000);
});
