// Logout ends the session, not just the browser's copy of the cookie: a copy
// replayed after logout is refused on the cached hit path, by another
// authenticator instance of the same process (as another thread would be),
// after a refresh, and after a "restart" that reads the revocation file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { makeCompileContext, validateConfig } from '../../src/config/load.js';
import { AUTH_OK, AUTH_REJECT, type RequestView } from '../../src/contracts.js';
import { R } from '../../src/reasons.js';
import { compileOidc, type OidcAuthenticator } from '../../src/auth/oidc/index.js';
import { deriveKey, open, seal } from '../../src/auth/oidc/jwe.js';
import { findCookie } from '../../src/auth/cookie-header.js';
import { RevocationTable, revocationBuffer, revocationKey, relSec } from '../../src/auth/oidc/revocation.js';
import { RevocationFile } from '../../src/auth/oidc/revocation-file.js';
import { createWorkerPool, type WorkerPool } from '../../src/workers/pool.js';
import { CookieJar, startOidcProvider, type OidcProvider } from '../helpers/oidc-provider.js';
import { makeView } from '../helpers/request-view-builder.js';
import { browserView, expectRespond, fullLogin, headerOf } from './flow.js';

const SECRET = 'test-session-secret-0123456789abcdefghij';
const COOKIE = '__Host-portcullis';
let op: OidcProvider;
let pool: WorkerPool;
const built: OidcAuthenticator[] = [];

function build(over: Record<string, unknown> = {}): OidcAuthenticator {
  const plan = validateConfig({
    upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
    authenticators: {
      sso: {
        type: 'oidc', issuer: op.issuer, client_id: op.clientId, client_secret: op.clientSecret, scopes: ['openid', 'email'],
        public_url: 'https://app.test', post_logout_redirect: '/bye', session: { secret: SECRET }, timeout: '5s', ...over,
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

const key = () => deriveKey(SECRET, 'session', 'sso');

/** An API client's request whose cookies are read from its Cookie header (the in-place hit path). */
function api(cookie: string): RequestView {
  const v = makeView({ path: '/api', headers: { accept: 'application/json', cookie } });
  (v as { cookie: (n: string) => string | undefined }).cookie = (n) => findCookie(cookie, n);
  return v;
}

function expectRevoked(a: OidcAuthenticator, cookie: string): void {
  const v = api(cookie);
  expect(a.authenticate(v)).toBe(AUTH_REJECT);
  expect(v.reason).toBe(R.session_revoked);
  expect(v.identity).toBeNull();
}

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

describe('OIDC logout revokes the session', () => {
  it('refuses the copied cookie after logout: cached hit, in-place hit, another instance, a browser', async () => {
    const a = build();
    const other = build(); // another thread of this process: its own cache, the same table
    const jar = new CookieJar();
    await fullLogin(a, jar, '/');
    const copy = `${COOKIE}=${jar.cookies.get(COOKIE)!}`;
    const s = open(key(), jar.cookies.get(COOKIE)!)!;
    expect(s.sid).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // Warm both caches (in-place hits from now on).
    for (const x of [a, other, a, other]) expect(x.authenticate(api(copy))).toBe(AUTH_OK);
    const logout = await expectRespond(a, browserView(jar, '/oauth2/logout'), jar);
    expect(logout.response.status).toBe(302);
    expect(a.stats.revocations).toBe(1);
    expectRevoked(a, copy);
    expectRevoked(other, copy);
    expectRevoked(a, `x=1; ${copy}; y=2`); // another spelling of the header: the by-value lookup
    expectRevoked(build(), copy); // never seen before: opened, then refused
    // A browser holding the copy is sent to sign in again, its cookie cleared.
    const j2 = new CookieJar();
    j2.cookies.set(COOKIE, jar.cookies.get(COOKIE) ?? copy.slice(COOKIE.length + 1));
    const r = await expectRespond(a, browserView(j2, '/page'));
    expect(r.response.status).toBe(302);
    expect(headerOf(r.response, 'location')!.startsWith(`${op.issuer}/auth?`)).toBe(true);
    expect(a.stats.revoked).toBeGreaterThan(0);
  });

  it('logging out one session leaves another session of the same user signed in', async () => {
    const a = build();
    const j1 = new CookieJar();
    const j2 = new CookieJar();
    await fullLogin(a, j1, '/', 'erin');
    await fullLogin(a, j2, '/', 'erin');
    const c1 = `${COOKIE}=${j1.cookies.get(COOKIE)!}`;
    const c2 = `${COOKIE}=${j2.cookies.get(COOKIE)!}`;
    await expectRespond(a, browserView(j1, '/oauth2/logout'), j1);
    expectRevoked(a, c1);
    const v = api(c2);
    expect(a.authenticate(v)).toBe(AUTH_OK);
    expect(v.identity!.consumer).toBe('erin');
  });

  it('a forged or tampered cookie at logout revokes nothing', async () => {
    const a = build();
    const jar = new CookieJar();
    await fullLogin(a, jar, '/', 'frank');
    const value = jar.cookies.get(COOKIE)!;
    const s = open(key(), value)!;
    const before = a.stats.revocations;
    // Tampered copy of the victim's cookie; one sealed with another secret naming the victim's sid; garbage.
    const i = Math.floor(value.length / 2);
    const tampered = value.slice(0, i) + (value[i] === 'A' ? 'B' : 'A') + value.slice(i + 1);
    const foreign = seal(deriveKey('another-secret-0123456789abcdefghijklmn', 'session', 'sso'), { ...s });
    for (const bad of [tampered, foreign, 'garbage']) {
      const j = new CookieJar();
      j.cookies.set(COOKIE, bad);
      const r = await expectRespond(a, browserView(j, '/oauth2/logout'));
      expect(r.response.status).toBe(302);
    }
    expect(a.stats.revocations).toBe(before);
    expect(a.authenticate(api(`${COOKIE}=${value}`))).toBe(AUTH_OK);
  });

  it('a refreshed cookie of a logged-out session is refused too (same session id)', async () => {
    const a = build();
    const jar = new CookieJar();
    await fullLogin(a, jar, '/', 'gina');
    const s = open(key(), jar.cookies.get(COOKIE)!)!;
    const due = seal(key(), { ...s, ref: Math.floor(Date.now() / 1000) - 1 });
    const rj = new CookieJar();
    rj.cookies.set(COOKIE, due);
    const refreshed = await expectRespond(a, browserView(rj, '/x'), rj);
    expect(refreshed.response.status).toBe(307);
    const next = rj.cookies.get(COOKIE)!;
    expect(open(key(), next)!.sid).toBe(s.sid);
    await expectRespond(a, browserView(jar, '/oauth2/logout'), jar);
    expectRevoked(a, `${COOKIE}=${next}`);
    // And a revoked session due for refresh is not refreshed.
    const again = await expectRespond(build(), browserView(rj, '/x'));
    expect(again.response.status).toBe(302);
    expect(headerOf(again.response, 'location')!.startsWith(`${op.issuer}/auth?`)).toBe(true);
  });

  it('refuses a session cookie from before sessions had ids (v1): nothing could revoke it', () => {
    const a = build();
    const now = Math.floor(Date.now() / 1000);
    const v1 = seal(key(), { v: 1, sub: 'alice', c: { sub: 'alice' }, iat: now, exp: now + 600, ref: 0 });
    const v = api(`${COOKIE}=${v1}`);
    expect(a.authenticate(v)).toBe(AUTH_REJECT);
    expect(v.reason).toBe(R.invalid_session);
  });

  it('survives a restart: a new process reading the revocation file refuses the logged-out cookie', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-revocation-'));
    const file = path.join(dir, 'sso.revocations');
    const a = build({ session: { secret: SECRET, revocation_file: file } });
    const jar = new CookieJar();
    await fullLogin(a, jar, '/', 'hank');
    const copy = `${COOKIE}=${jar.cookies.get(COOKIE)!}`;
    await expectRespond(a, browserView(jar, '/oauth2/logout'), jar);
    expect(readFileSync(file, 'utf8')).toMatch(/^r [0-9a-f]{32} \d+ \d+$/m);
    // A fresh table is what a restarted process has; loading the file is what compile does.
    const table = new RevocationTable(revocationBuffer(64));
    expect(new RevocationFile(file, table, 'sso').load()).toBe(1);
    const s = open(key(), copy.slice(COOKIE.length + 1))!;
    const nowRel = relSec(Date.now() / 1000);
    expect(table.revoked(revocationKey('s', 'sso', s.sid as string), 1, relSec(s.iat as number), nowRel)).toBe(true);
    const unrelated = revocationKey('s', 'sso', randomBytes(16).toString('base64url'));
    expect(table.revoked(unrelated, 1, relSec(s.iat as number), nowRel)).toBe(false);
  });
});

describe('revocation config checks', () => {
  it('names the field and the fix: cluster without cluster.redis, a revocation file the gateway cannot write', () => {
    const check = (over: Record<string, unknown>) => {
      const plan = validateConfig({
        upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
        authenticators: { sso: { type: 'oidc', issuer: 'http://127.0.0.1:1', client_id: 'c', public_url: 'https://app.test', session: { secret: SECRET }, ...over } },
        routes: [{ name: 'app', match: { path_prefix: '/' }, authenticate: ['sso'], upstream: 'u' }],
      });
      const issues: { path: string; message: string }[] = [];
      const inert = createWorkerPool({ threads: 1, maxQueue: 1, inert: true });
      compileOidc('sso', plan.config.authenticators.sso as never, 'authenticators.sso', makeCompileContext(plan, issues), inert).close();
      return issues;
    };
    const cluster = check({ revocation: 'cluster' });
    expect(cluster.map((i) => i.path)).toEqual(['authenticators.sso.revocation']);
    expect(cluster[0]!.message).toMatch(/needs a `cluster: \{ redis/);
    const file = check({ session: { secret: SECRET, revocation_file: '/proc/no-such-dir/sso.revocations' } });
    expect(file.map((i) => i.path)).toEqual(['authenticators.sso.session.revocation_file']);
    expect(file[0]!.message).toMatch(/not a writable directory.*set session.revocation_file to a path the gateway may write/);
  });
});

describe('revocation table and file', () => {
  const now = Math.floor(Date.now() / 1000);
  const k = (i: number) => revocationKey('s', 't', `session-${i}`);

  it('matches exactly: the key, sessions begun up to `before`, until `exp`', () => {
    const t = new RevocationTable(revocationBuffer(64));
    expect(t.add(k(1), now + 100, now - 10, now)).toBe('new');
    expect(t.add(k(1), now + 100, now - 10, now)).toBe('known');
    const n = relSec(now);
    expect(t.revoked(k(1), 1, relSec(now - 10), n)).toBe(true);
    expect(t.revoked(k(1), 1, relSec(now - 9), n)).toBe(false); // began after the revocation's `before`
    expect(t.revoked(k(2), 1, relSec(now - 10), n)).toBe(false);
    expect(t.revoked(k(1), 1, relSec(now - 10), relSec(now + 100))).toBe(false); // past its exp
    // Several keys packed in one array: any one revoked is enough.
    const both = new Int32Array(8);
    both.set(k(2), 0);
    both.set(k(1), 4);
    expect(t.revoked(both, 2, relSec(now - 10), n)).toBe(true);
    expect(t.revoked(both, 1, relSec(now - 10), n)).toBe(false);
  });

  it('a check remembers the version it found a session live at, and sees a revocation another thread writes', async () => {
    const buffer = revocationBuffer(64);
    const t = new RevocationTable(buffer);
    const c = { keys: k(7), n: 1, iat: relSec(now - 5), seen: -1 };
    expect(t.isRevoked(c)).toBe(false);
    expect(c.seen).toBeGreaterThanOrEqual(0);
    const seen = c.seen;
    t.add(k(8), now + 100, now, now); // another session's logout: still live, version moves on
    expect(t.isRevoked(c)).toBe(false);
    expect(c.seen).not.toBe(seen);
    // A real worker thread writes into the same buffer (what a logout on another event-loop thread does).
    const { Worker } = await import('node:worker_threads');
    const mod = new URL('../../dist/auth/oidc/revocation.js', import.meta.url).href;
    const w = new Worker(`
      const { workerData, parentPort } = require('node:worker_threads');
      import(${JSON.stringify(mod)}).then(({ RevocationTable, revocationKey }) => {
        const t = new RevocationTable(workerData.buffer);
        parentPort.postMessage(t.add(revocationKey('s', 't', 'session-7'), workerData.now + 100, workerData.now - 5, workerData.now));
      });`, { eval: true, workerData: { buffer, now } });
    const r = await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
    await w.terminate();
    expect(r).toBe('new');
    expect(t.isRevoked(c)).toBe(true);
    expect(t.isRevoked(c)).toBe(true);
  });

  it('when full, raises its floor (every session begun until now is revoked) instead of forgetting one', () => {
    const t = new RevocationTable(revocationBuffer(64));
    const results: string[] = [];
    for (let i = 0; i < 65; i++) results.push(t.add(k(i), now + 100, now - 5, now));
    expect(results.slice(0, 64).every((r) => r === 'new')).toBe(true);
    expect(results[64]).toBe('floor');
    const n = relSec(now);
    for (let i = 0; i < 65; i++) expect(t.revoked(k(i), 1, relSec(now - 5), n)).toBe(true);
    expect(t.revoked(k(999), 1, relSec(now - 5), n)).toBe(true); // everyone who began before the floor
    expect(t.revoked(k(999), 1, relSec(now + 1), n)).toBe(false); // a later login is fine
    expect(t.floor).toBe(now);
    // The slots the floor covers are free again: a later session's logout is recorded, not another overflow.
    expect(t.add(k(1000), now + 100, now + 1, now + 1)).toBe('new');
    expect(t.revoked(k(1000), 1, relSec(now + 1), relSec(now + 1))).toBe(true);
    expect(t.revoked(k(1001), 1, relSec(now + 1), relSec(now + 1))).toBe(false);
    expect(t.floor).toBe(now);
  });

  it('reuses expired slots, and the file drops expired entries and keeps the floor when compacted', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-revocation-'));
    const file = path.join(dir, 'r');
    const live = k(1);
    const hex = Buffer.from(live.buffer).toString('hex');
    writeFileSync(file, [
      `r ${hex} ${now + 600} ${now - 1}`,
      `r ${Buffer.from(k(2).buffer).toString('hex')} ${now - 1} ${now - 100}`, // expired
      'not a line',
      `f ${now - 3600}`,
      '',
    ].join('\n'));
    const t = new RevocationTable(revocationBuffer(64));
    expect(new RevocationFile(file, t, 'x').load()).toBe(1);
    expect(t.floor).toBe(now - 3600);
    expect(t.revoked(live, 1, relSec(now - 1), relSec(now))).toBe(true);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(`f ${now - 3600}\n`);
    expect(text).toContain(`r ${hex} ${now + 600} ${now - 1}\n`);
    expect(text.split('\n').filter((l) => l.startsWith('r '))).toHaveLength(1);
    // 64 slots of expired entries are reused, not an overflow.
    const t2 = new RevocationTable(revocationBuffer(64));
    for (let i = 0; i < 64; i++) t2.add(k(i), now + 10, now, now);
    for (let i = 100; i < 164; i++) expect(t2.add(k(i), now + 100, now + 20, now + 20)).toBe('new');
    expect(t2.floor).toBe(0);
  });
});
