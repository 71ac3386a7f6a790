// The OIDC session hit path reads the session cookie in place in the Cookie
// header (cookieRange + TailKeyedCache.getIn). These go through the header as
// production does — the other OIDC tests hand cookies over as a map, which
// never reaches this path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { makeCompileContext, validateConfig } from '../../src/config/load.js';
import { AUTH_OK, AUTH_REJECT, type RequestView } from '../../src/contracts.js';
import { R } from '../../src/reasons.js';
import { compileOidc, type OidcAuthenticator } from '../../src/auth/oidc/index.js';
import { deriveKey, seal } from '../../src/auth/oidc/jwe.js';
import { findCookie } from '../../src/auth/cookie-header.js';
import { createWorkerPool, type WorkerPool } from '../../src/workers/pool.js';
import { startOidcProvider, type OidcProvider } from '../helpers/oidc-provider.js';
import { makeView } from '../helpers/request-view-builder.js';

const SECRET = 'test-session-secret-0123456789abcdefghij';
const COOKIE = '__Host-portcullis';
let op: OidcProvider;
let pool: WorkerPool;
const built: OidcAuthenticator[] = [];

function build(): OidcAuthenticator {
  const plan = validateConfig({
    upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
    authenticators: { sso: { type: 'oidc', issuer: op.issuer, client_id: op.clientId, client_secret: op.clientSecret, scopes: ['openid'], public_url: 'https://app.test', session: { secret: SECRET }, timeout: '5s' } },
    routes: [{ name: 'app', match: { path_prefix: '/' }, authenticate: ['sso'], upstream: 'u' }],
  });
  const issues: unknown[] = [];
  const a = compileOidc('sso', plan.config.authenticators.sso as never, 'authenticators.sso', makeCompileContext(plan, issues as never), pool);
  expect(issues).toEqual([]);
  built.push(a);
  return a;
}
const key = () => deriveKey(SECRET, 'session', 'sso');
const session = (sub: string, exp: number, extra: Record<string, unknown> = {}) =>
  seal(key(), { v: 2, sid: randomBytes(16).toString('base64url'), sub, c: { sub, ...extra }, iat: exp - 600, exp, ref: 0 });

/** An API client's request whose cookies are read from its Cookie header, as BaseView.cookie does. */
function withCookies(cookie: string): RequestView {
  const v = makeView({ path: '/api', headers: { accept: 'application/json', cookie } });
  (v as { cookie: (n: string) => string | undefined }).cookie = (n) => findCookie(cookie, n);
  return v;
}

beforeAll(async () => {
  op = await startOidcProvider({ redirectUris: ['https://app.test/oauth2/callback'], postLogoutRedirectUris: ['https://app.test/bye'] });
  pool = createWorkerPool({ threads: 1, maxQueue: 8 });
  await pool.start();
});
afterAll(async () => {
  for (const a of built) a.close();
  await pool.close();
  await op.close();
});

describe('OIDC session read in place from the Cookie header', () => {
  it('hits across spellings and other cookies; never serves a same-tail tampered value or a chunk alone', async () => {
    const a = build();
    await a.ready();
    const now = Math.floor(Date.now() / 1000);
    const alice = session('alice', now + 600);
    const bob = session('bob', now + 600);
    for (const [h, who] of [[`${COOKIE}=${alice}`, 'alice'], [`${COOKIE}=${bob}`, 'bob']] as const) {
      const v = withCookies(h);
      expect(a.authenticate(v)).toBe(AUTH_OK);
      expect(v.identity!.consumer).toBe(who);
    }
    const hits = a.stats.hits;
    for (const h of [`${COOKIE}=${alice}`, `${COOKIE}="${alice}"`, `x=1; ${COOKIE}= ${alice} ; y=2`, `nameless; ${COOKIE}=${alice}`]) {
      const v = withCookies(h);
      expect(a.authenticate(v), h).toBe(AUTH_OK);
      expect(v.identity!.consumer).toBe('alice');
    }
    expect(a.stats.hits).toBe(hits + 4);
    // Same length and last 32 characters (the lookup hash) as alice's, one character changed.
    const i = Math.floor(alice.length / 2);
    const tampered = alice.slice(0, i) + (alice[i] === 'A' ? 'B' : 'A') + alice.slice(i + 1);
    const t = withCookies(`${COOKIE}=${tampered}`);
    expect(a.authenticate(t)).toBe(AUTH_REJECT);
    expect(t.reason).toBe(R.invalid_session);
    expect(t.identity).toBeNull();
    const b = withCookies(`${COOKIE}=${bob}`);
    expect(a.authenticate(b)).toBe(AUTH_OK);
    expect(b.identity!.consumer).toBe('bob');
    expect(a.authenticate(withCookies(`${COOKIE}.1=${alice}`))).not.toBe(AUTH_OK);
  });

  it('a chunked session hits only with all its chunks', async () => {
    const a = build();
    await a.ready();
    const now = Math.floor(Date.now() / 1000);
    const big = session('carol', now + 600, { pad: 'p'.repeat(5000) });
    expect(big.length).toBeGreaterThan(3800);
    const h = `${COOKIE}=${big.slice(0, 3800)}; ${COOKIE}.1=${big.slice(3800)}`;
    for (let k = 0; k < 2; k++) {
      const v = withCookies(h);
      expect(a.authenticate(v)).toBe(AUTH_OK);
      expect(v.identity!.consumer).toBe('carol');
    }
    expect(a.authenticate(withCookies(`${COOKIE}=${big.slice(0, 3800)}`))).toBe(AUTH_REJECT);
  });

  it('a cached session stops being served when it expires', async () => {
    const a = build();
    await a.ready();
    const exp = Math.floor(Date.now() / 1000) + 1;
    const h = `${COOKIE}=${session('dave', exp)}`;
    expect(a.authenticate(withCookies(h))).toBe(AUTH_OK);
    expect(a.authenticate(withCookies(h))).toBe(AUTH_OK);
    await new Promise((r) => setTimeout(r, exp * 1000 - Date.now() + 50));
    const v = withCookies(h);
    expect(a.authenticate(v)).toBe(AUTH_REJECT);
    expect(v.reason).toBe(R.invalid_session);
  });
});
