// Without public_url, the redirect_uri is built from the Host header: only
// from a host in allowed_hosts, and `check` refuses a config with neither.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCompileContext, validateConfig } from '../../src/config/load.js';
import { R } from '../../src/reasons.js';
import { compileOidc, type OidcAuthenticator } from '../../src/auth/oidc/index.js';
import { createWorkerPool, type WorkerPool } from '../../src/workers/pool.js';
import { startOidcProvider, type OidcProvider } from '../helpers/oidc-provider.js';
import { makeView } from '../helpers/request-view-builder.js';
import { BROWSER, expectRespond, headerOf } from './flow.js';

const SECRET = 'test-session-secret-0123456789abcdefghij';
let op: OidcProvider;
let pool: WorkerPool;
const built: OidcAuthenticator[] = [];

function compile(over: Record<string, unknown>): { a: OidcAuthenticator; issues: { path: string; message: string }[] } {
  const plan = validateConfig({
    upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
    authenticators: { sso: { type: 'oidc', issuer: op.issuer, client_id: op.clientId, client_secret: op.clientSecret, session: { secret: SECRET }, post_logout_redirect: '/bye', ...over } },
    routes: [{ name: 'app', match: { path_prefix: '/' }, authenticate: ['sso'], upstream: 'u' }],
  });
  const issues: { path: string; message: string }[] = [];
  const a = compileOidc('sso', plan.config.authenticators.sso as never, 'authenticators.sso', makeCompileContext(plan, issues), pool);
  built.push(a);
  return { a, issues };
}

beforeAll(async () => {
  op = await startOidcProvider({ redirectUris: ['https://app.test/oauth2/callback'] });
  pool = createWorkerPool({ threads: 1, maxQueue: 16 });
  await pool.start();
});
afterAll(async () => {
  for (const a of built) a.close();
  await pool.close();
  await op.close();
});

describe('redirect_uri without public_url', () => {
  it('check refuses a config with neither public_url nor allowed_hosts, naming the field and the fix', () => {
    for (const over of [{}, { allowed_hosts: [] }]) {
      const { issues } = compile(over);
      expect(issues).toHaveLength(1);
      expect(issues[0]!.path).toBe('authenticators.sso.public_url');
      expect(issues[0]!.message).toMatch(/set public_url .* or list the hosts .* allowed_hosts/);
    }
    expect(compile({ public_url: 'https://app.test', allowed_hosts: ['app.test'] }).issues.map((i) => i.path)).toEqual(['authenticators.sso.allowed_hosts']);
    expect(compile({ allowed_hosts: ['app.test', 'bad host', 'evil.test/path'] }).issues.map((i) => i.path)).toEqual(['authenticators.sso.allowed_hosts[1]', 'authenticators.sso.allowed_hosts[2]']);
  });

  it('builds the redirect_uri only from an allowed Host; any other Host gets a 400 and no redirect', async () => {
    const { a, issues } = compile({ allowed_hosts: ['app.test', 'localhost:8080', '*.example.com'] });
    expect(issues).toEqual([]);
    await a.ready();
    const login = (host: string) => expectRespond(a, makeView({ path: '/p', headers: { ...BROWSER, host } }));
    for (const [host, origin] of [['app.test', 'https://app.test'], ['APP.test:8443', 'https://app.test:8443'], ['localhost:8080', 'https://localhost:8080'], ['a.b.example.com', 'https://a.b.example.com']] as const) {
      const r = await login(host);
      expect(r.response.status, host).toBe(302);
      expect(new URL(headerOf(r.response, 'location')!).searchParams.get('redirect_uri'), host).toBe(`${origin}/oauth2/callback`);
    }
    for (const host of ['evil.test', 'localhost:8081', 'localhost', 'example.com', 'app.test.evil.test', 'evilexample.com', '']) {
      const r = await login(host);
      expect(r.response.status, host).toBe(400);
      expect(r.result.reason).toBe(R.bad_header);
      expect(headerOf(r.response, 'location'), host).toBeUndefined();
    }
    // Logout from a forbidden Host names no post_logout_redirect_uri built from it.
    const out = await expectRespond(a, makeView({ path: '/oauth2/logout', headers: { ...BROWSER, host: 'evil.test' } }));
    expect(out.response.status).toBe(302);
    expect(headerOf(out.response, 'location')).not.toContain('evil.test');
  });

  it('with public_url the Host header plays no part', async () => {
    const { a, issues } = compile({ public_url: 'https://app.test' });
    expect(issues).toEqual([]);
    await a.ready();
    const r = await expectRespond(a, makeView({ path: '/', headers: { ...BROWSER, host: 'evil.test' } }));
    expect(new URL(headerOf(r.response, 'location')!).searchParams.get('redirect_uri')).toBe('https://app.test/oauth2/callback');
  });
});

describe('portcullis check', () => {
  it('lists the missing public_url / allowed_hosts with its field path and exits non-zero', async () => {
    const { runCli, tempDir } = await import('../helpers/gateway.js');
    const { writeFileSync } = await import('node:fs');
    const path = await import('node:path');
    const dir = tempDir();
    const file = path.join(dir, 'portcullis.yaml');
    writeFileSync(file, [
      'upstreams: { u: { targets: ["http://127.0.0.1:9"] } }',
      'authenticators:',
      '  sso: { type: oidc, issuer: "http://127.0.0.1:1", client_id: c, session: { secret: "0123456789abcdef0123456789abcdef" } }',
      'routes: [{ name: app, match: { path_prefix: / }, authenticate: [sso], upstream: u }]',
      '',
    ].join('\n'));
    const r = await runCli(['check', '--config', file], { cwd: dir });
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/authenticators\.sso\.public_url: set public_url .*allowed_hosts/);
    writeFileSync(file, (await import('node:fs')).readFileSync(file, 'utf8').replace('client_id: c,', 'client_id: c, allowed_hosts: [app.example.com],'));
    const ok = await runCli(['check', '--config', file], { cwd: dir });
    expect(ok.stdout + ok.stderr).not.toMatch(/public_url/);
    expect(ok.code).toBe(0);
  }, 30_000);
});
