// What operators reach for: route (which route, stages, upstream), token (a
// test JWT a running gateway accepts), config print (effective config in user
// units, secrets redacted).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as jose from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT, runCli, startGateway, tempDir, type RunningGateway } from '../helpers/gateway.js';

const dir = tempDir('portcullis-cmds-');
const DEMO = path.join(ROOT, 'native-config', 'portcullis.yaml');
let gw: RunningGateway | undefined;
afterAll(async () => { await gw?.stop(); });

describe('portcullis route', () => {
  it('names the route, its line, every stage and the upstreams', async () => {
    const r = await runCli(['route', 'GET', 'http://localhost/orders/42', '--config', DEMO]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lineOfOrders = readFileSync(DEMO, 'utf8').split('\n').findIndex((l) => l.includes('- name: orders')) + 1;
    expect(r.stdout).toContain(`route: orders (routes[3], ${DEMO}:${lineOfOrders})`);
    expect(r.stdout).toMatch(/rate limit before authentication: per-ip \(50\/1s by ip, burst 100\)/);
    expect(r.stdout).toMatch(/authenticate \(first that accepts\): demo-jwt \(jwt\)/);
    expect(r.stdout).toMatch(/rate limit: per-user \(10\/1s by claim:sub/);
    expect(r.stdout).toMatch(/authorize: scopes all of \[orders:read\]/);
    expect(r.stdout).toMatch(/route by claim region:\n\s+eu → demo-eu \[http:\/\/127\.0\.0\.1:9001\]/);
    expect(r.stdout).toMatch(/otherwise → deny \(403\)/);
  });

  it('says when the gateway answers itself: 404, 405 with Allow, a refused path', async () => {
    const none = await runCli(['route', 'GET', '/nowhere', '--config', DEMO]);
    expect(none.code).toBe(1);
    expect(none.stdout).toMatch(/404 route_not_found/);
    const method = await runCli(['route', 'DELETE', '/public/x', '--config', DEMO]);
    expect(method.code).toBe(1);
    expect(method.stdout).toMatch(/405 method_not_allowed \(Allow: GET, HEAD, POST\)/);
    const bad = await runCli(['route', 'GET', '/public/%2e%2e%2finternal', '--config', DEMO]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/400 bad_path/);
    // Dot segments are resolved as the gateway resolves them, also in a full URL.
    const dots = await runCli(['route', 'GET', 'http://localhost/public/../internal/x', '--config', DEMO]);
    expect(dots.stdout).toMatch(/normalised path: \/internal\/x\n\s+route: internal-block/);
  });
});

describe('portcullis token', () => {
  it('mints a token from a local key that a running gateway accepts, with the config\'s issuer and audience', async () => {
    const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
    const priv = { ...(await jose.exportJWK(privateKey)), kid: 'k1', alg: 'ES256' };
    writeFileSync(path.join(dir, 'signing.jwk.json'), JSON.stringify(priv));
    writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await jose.exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }));
    const config = {
      server: { listen: [{ host: '127.0.0.1', port: 0 }] },
      authenticators: { api: { type: 'jwt', issuer: 'https://idp.test/', audience: ['orders-api'], algorithms: ['ES256'], jwks_file: 'jwks.json' } },
      routes: [{ name: 'orders', match: { path_prefix: '/orders' }, authenticate: ['api'], authorize: { scopes: ['orders:read'], claims: { region: ['eu'] } }, respond: { status: 200, body: 'in' } }],
    };
    gw = await startGateway(config, { dir });
    const mint = (...extra: string[]) => runCli(['token', '--key', path.join(dir, 'signing.jwk.json'), '--config', gw!.configFile, '--authenticator', 'api', '--sub', 'alice', ...extra]);
    const good = await mint('--scope', 'orders:read', '--claim', 'region=eu');
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
    const claims = jose.decodeJwt(good.stdout.trim());
    expect(claims).toMatchObject({ iss: 'https://idp.test/', aud: 'orders-api', sub: 'alice', scope: 'orders:read', region: 'eu' });
    expect(jose.decodeProtectedHeader(good.stdout.trim())).toMatchObject({ alg: 'ES256', kid: 'k1' });
    const ok = await fetch(`${gw.url}/orders/1`, { headers: { authorization: `Bearer ${good.stdout.trim()}` } });
    expect(ok.status).toBe(200);
    const noScope = await mint('--claim', 'region=eu');
    const refused = await fetch(`${gw.url}/orders/1`, { headers: { authorization: `Bearer ${noScope.stdout.trim()}` } });
    expect(refused.status).toBe(403);
  });

  it('without --key signs with the demo key, which the demo config\'s JWKS verifies', async () => {
    const r = await runCli(['token', '--sub', 'bob', '--claim', 'realm_access.roles=["admin"]', '--ttl', '5m']);
    expect(r.code).toBe(0);
    const jwks = jose.createLocalJWKSet(JSON.parse(readFileSync(path.join(ROOT, '.demo', 'jwks.json'), 'utf8')) as jose.JSONWebKeySet);
    const { payload } = await jose.jwtVerify(r.stdout.trim(), jwks, { issuer: 'https://demo.portcullis.local/', audience: 'demo-api' });
    expect(payload.sub).toBe('bob');
    expect(payload.realm_access).toEqual({ roles: ['admin'] });
    expect(payload.exp! - payload.iat!).toBe(300);
  });

  it('refuses a public key', async () => {
    const r = await runCli(['token', '--key', path.join(dir, 'jwks.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/holds a public key/);
  });
});

describe('portcullis config print', () => {
  const file = path.join(dir, 'print.yaml');
  writeFileSync(file, [
    'server: { listen: [{ host: 127.0.0.1, port: 0 }], limits: { max_body: 2097152, request_timeout: 90000 } }',
    'admin: { listen: { port: 0 }, token: super-secret-admin-token-value }',
    'upstreams: { u: { targets: [http://127.0.0.1:9001], timeout: 250ms } }',
    'routes: [{ name: r, match: { path_prefix: /r }, anonymous: true, upstream: u }]',
    '',
  ].join('\n'));

  it('shows every default, durations and sizes in user units, and no secret', async () => {
    const r = await runCli(['config', 'print', '--config', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('super-secret-admin-token-value');
    const c = parse(r.stdout) as { server: { limits: Record<string, unknown>; shutdown_timeout: string }; admin: { token: string }; upstreams: { u: Record<string, unknown> } };
    expect(c.server.limits).toMatchObject({ max_body: '2MiB', request_timeout: '90s', idle_timeout: '10s', max_header_bytes: '16KiB' });
    expect(c.server.shutdown_timeout).toBe('10s');
    expect(c.upstreams.u).toMatchObject({ timeout: '250ms', connect_timeout: '2s', connections: 128 });
    expect(c.admin.token).toBe('[redacted]');
  });

  it('prints JSON on request', async () => {
    const r = await runCli(['config', 'print', '--config', file, '--format', 'json']);
    expect((JSON.parse(r.stdout) as { upstreams: { u: { timeout: string } } }).upstreams.u.timeout).toBe('250ms');
  });
});
