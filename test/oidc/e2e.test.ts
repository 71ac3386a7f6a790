// OIDC login end to end through the real gateway (`node dist/cli.js start`):
// an HTTP client with a cookie jar, the real oidc-provider, a recording
// upstream — and one login in real headless Chromium.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { CookieJar, loginAtProvider, startOidcProvider, type OidcProvider } from '../helpers/oidc-provider.js';
import { freePort, request } from '../e2e/util.js';

let op: OidcProvider;
let gw: RunningGateway;
let up: TestUpstream;
let port = 0;
let publicUrl = '';

const BROWSER = { accept: 'text/html', 'sec-fetch-mode': 'navigate' };

/** A request to the gateway as the browser at `localhost` makes it, with the jar's cookies. */
async function get(jar: CookieJar, pathAndQuery: string, headers: Record<string, string> = BROWSER) {
  const r = await request(gw.url, pathAndQuery, { headers: { host: `localhost:${port}`, cookie: jar.header(), ...headers } });
  const sc = r.headers['set-cookie'];
  if (sc) jar.store(Array.isArray(sc) ? sc : [sc]);
  return r;
}

beforeAll(async () => {
  port = await freePort();
  publicUrl = `http://localhost:${port}`;
  op = await startOidcProvider({ redirectUris: [`${publicUrl}/oauth2/callback`], postLogoutRedirectUris: [`${publicUrl}/`] });
  up = await startUpstream();
  gw = await startGateway({
    server: { listen: [{ host: '127.0.0.1', port }] },
    upstreams: { app: { targets: [up.url] } },
    authenticators: {
      sso: {
        type: 'oidc',
        issuer: op.issuer,
        client_id: op.clientId,
        client_secret: op.clientSecret,
        scopes: ['openid', 'email'],
        public_url: publicUrl,
        session: { secret: 'e2e-session-secret-0123456789abcdefghijkl' },
        forward_claims: { email: 'x-user-email' },
      },
    },
    routes: [{ name: 'app', match: { path_prefix: '/' }, authenticate: ['sso'], upstream: 'app' }],
  });
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
  await op?.close();
});

describe('OIDC through the gateway', () => {
  it('logs in with redirects and a cookie jar, then forwards with the identity', async () => {
    const jar = new CookieJar();
    const start = await get(jar, '/orders/1?view=full');
    expect(start.status).toBe(302);
    const cb = await loginAtProvider(start.headers.location!, 'alice');
    expect(`${cb.origin}${cb.pathname}`).toBe(`${publicUrl}/oauth2/callback`);
    const done = await get(jar, cb.pathname + cb.search);
    expect(done.status).toBe(302);
    expect(done.headers.location).toBe('/orders/1?view=full');
    expect(jar.cookies.has('__Host-portcullis')).toBe(true);
    expect(up.requests).toHaveLength(0);
    const page = await get(jar, '/orders/1?view=full');
    expect(page.status).toBe(200);
    const seen = up.requests.at(-1)!;
    expect(seen.url).toBe('/orders/1?view=full');
    expect(seen.headers['x-portcullis-consumer']).toBe('alice');
    expect(seen.headers['x-user-email']).toBe('alice@example.test');
  });

  it('answers an API client without a session 401, not a redirect', async () => {
    const r = await get(new CookieJar(), '/api/orders', { accept: 'application/json' });
    expect(r.status).toBe(401);
    expect(r.headers.location).toBeUndefined();
  });

  it('shows a 503 page and forwards nothing when the provider is down at the callback', async () => {
    const jar = new CookieJar();
    const start = await get(jar, '/down');
    const cb = await loginAtProvider(start.headers.location!, 'bob');
    const before = up.requests.length;
    await op.stop();
    try {
      const r = await get(jar, cb.pathname + cb.search);
      expect(r.status).toBe(503);
      expect(r.headers['content-type']).toMatch(/text\/html/);
      expect(r.body).toMatch(/identity provider could not be reached/);
      expect(jar.cookies.has('__Host-portcullis')).toBe(false);
      expect(up.requests.length).toBe(before);
    } finally {
      await op.start();
    }
  });

  it('logs in in real headless Chromium', async () => {
    const profile = mkdtempSync(path.join(os.tmpdir(), 'portcullis-chromium-'));
    // A fresh profile directory (playwright passes it as --user-data-dir).
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    try {
      const pageObj = browser.pages()[0] ?? (await browser.newPage());
      await pageObj.goto(`${publicUrl}/hello?from=chromium`, { timeout: 20_000 });
      // The provider's dev login form, then its consent form.
      await pageObj.fill('input[name="login"]', 'carol', { timeout: 10_000 });
      await pageObj.fill('input[name="password"]', 'any');
      await Promise.all([pageObj.waitForNavigation({ timeout: 10_000 }), pageObj.click('button[type="submit"]')]);
      if (await pageObj.locator('input[name="prompt"][value="consent"]').count()) {
        await Promise.all([pageObj.waitForURL(`${publicUrl}/**`, { timeout: 10_000 }), pageObj.click('button[type="submit"]')]);
      }
      await pageObj.waitForURL(`${publicUrl}/hello?from=chromium`, { timeout: 10_000 });
      const text = await pageObj.textContent('body');
      const echoed = JSON.parse(text ?? '{}') as { url: string; headers: Record<string, string> };
      expect(echoed.url).toBe('/hello?from=chromium');
      expect(echoed.headers['x-portcullis-consumer']).toBe('carol');
      const cookies = await browser.cookies(publicUrl);
      const session = cookies.find((c) => c.name === '__Host-portcullis');
      expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });
    } finally {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });
});
