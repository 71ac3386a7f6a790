// revocation: cluster, in process against a real redis-server: the link
// survives a reload that failed (the new authenticator closed while the old
// one keeps serving), and a revocation another gateway stores is applied.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { makeCompileContext, validateConfig } from '../../src/config/load.js';
import { AUTH_OK, AUTH_REJECT, type RequestView } from '../../src/contracts.js';
import { R } from '../../src/reasons.js';
import { compileOidc, type OidcAuthenticator } from '../../src/auth/oidc/index.js';
import { deriveKey, seal } from '../../src/auth/oidc/jwe.js';
import { findCookie } from '../../src/auth/cookie-header.js';
import { keyToHex, revocationKey } from '../../src/auth/oidc/revocation.js';
import { revocationLink } from '../../src/auth/oidc/revocation-cluster.js';
import { redisTarget } from '../../src/lib/redis-target.js';
import { createWorkerPool, type WorkerPool } from '../../src/workers/pool.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { makeView } from '../helpers/request-view-builder.js';
import { expectRespond } from './flow.js';

const SECRET = 'test-session-secret-0123456789abcdefghij';
const COOKIE = '__Host-portcullis';
const PREFIX = 'portcullis:rv:';
let redis: RedisServer;
let client: Redis;
let pool: WorkerPool;
const built: OidcAuthenticator[] = [];

function build(): OidcAuthenticator {
  const plan = validateConfig({
    upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
    authenticators: {
      // The issuer is never reached: sessions are sealed here, and logout needs no provider.
      sso: { type: 'oidc', issuer: 'http://127.0.0.1:1', client_id: 'c', public_url: 'https://app.test', session: { secret: SECRET }, revocation: 'cluster', timeout: '200ms' },
    },
    cluster: { redis: redis.url },
    routes: [{ name: 'app', match: { path_prefix: '/' }, authenticate: ['sso'], upstream: 'u' }],
  });
  const issues: { path: string; message: string }[] = [];
  const a = compileOidc('sso', plan.config.authenticators.sso as never, 'authenticators.sso', makeCompileContext(plan, issues), pool);
  expect(issues).toEqual([]);
  built.push(a);
  return a;
}

function session(): { value: string; sid: string; exp: number } {
  const now = Math.floor(Date.now() / 1000);
  const sid = randomBytes(16).toString('base64url');
  return { value: seal(deriveKey(SECRET, 'session', 'sso'), { v: 2, sid, sub: 'alice', c: { sub: 'alice' }, iat: now - 5, exp: now + 600, ref: 0 }), sid, exp: now + 600 };
}

function api(value: string): RequestView {
  const cookie = `${COOKIE}=${value}`;
  const v = makeView({ path: '/api', headers: { accept: 'application/json', cookie } });
  (v as { cookie: (n: string) => string | undefined }).cookie = (n) => findCookie(cookie, n);
  return v;
}

async function poll(cond: () => boolean | Promise<boolean>, tries = 100): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  pool = createWorkerPool({ threads: 1, maxQueue: 8 });
  await pool.start();
});
afterAll(async () => {
  for (const a of built) a.close();
  client.disconnect();
  await pool.close();
  await redis.stop();
});

describe('revocation: cluster link', () => {
  it('keeps publishing after a reload that failed closed the new authenticator', async () => {
    const a = build();
    await a.ready();
    const failedReload = build();
    failedReload.close();
    const s = session();
    expect(a.authenticate(api(s.value))).toBe(AUTH_OK);
    const j = makeView({ path: '/oauth2/logout', headers: { accept: 'text/html' }, cookies: { [COOKIE]: s.value } });
    expect((await expectRespond(a, j)).response.status).toBe(302);
    const key = `${PREFIX}${keyToHex(revocationKey('s', 'sso', s.sid))}`;
    expect(await poll(async () => (await client.exists(key)) === 1)).toBe(true);
    expect(Number(await client.pttl(key))).toBeGreaterThan(0); // expires with the session
  });

  it('claims a logout token id once across the cluster (what back-channel replay protection uses)', async () => {
    const a = build(); // keeps the link open
    await a.ready();
    const link = revocationLink(redisTarget(redis.url), PREFIX);
    const id = `https://issuer.test\t${randomBytes(8).toString('hex')}`;
    expect(await link.claimOnce(id, 60_000)).toBe(true);
    expect(await link.claimOnce(id, 60_000)).toBe(false);
    expect(Number(await client.pttl(`${PREFIX}jti\t${id}`))).toBeGreaterThan(0);
  });

  it('applies a revocation another gateway stored and published', async () => {
    const a = build();
    await a.ready();
    const s = session();
    expect(a.authenticate(api(s.value))).toBe(AUTH_OK);
    const hex = keyToHex(revocationKey('s', 'sso', s.sid));
    const now = Math.floor(Date.now() / 1000);
    await client.set(`${PREFIX}${hex}`, `sso\t${s.exp}\t${now}`, 'PXAT', s.exp * 1000);
    await client.publish(`${PREFIX}events`, `sso\t${hex}\t${s.exp}\t${now}`);
    expect(await poll(() => a.authenticate(api(s.value)) === AUTH_REJECT)).toBe(true);
    const v = api(s.value);
    a.authenticate(v);
    expect(v.reason).toBe(R.session_revoked);
    // Garbage on the channel changes nothing and breaks nothing.
    await client.publish(`${PREFIX}events`, 'sso\tnot-hex\tx\ty');
    await client.publish(`${PREFIX}events`, '');
    const other = session();
    expect(a.authenticate(api(other.value))).toBe(AUTH_OK);
  });
});
