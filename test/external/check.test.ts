// `portcullis check` on external authorizer / authenticator configs: a
// decision-cache key that leaves out an input the service is sent, and a
// declared upstream header that another source also sets or that only the
// gateway may set, are errors with the field's path and a fix.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli, tempDir } from '../helpers/gateway.js';

const dir = tempDir('portcullis-check-authz-');
let n = 0;

const JWT = { type: 'jwt', issuer: 'https://idp.test/', audience: ['api'], algorithms: ['HS256'], secret: 's'.repeat(32), forward_claims: { sub: 'x-user-id' } };

function config(over: { authorizers?: object; authenticators?: object; route?: object }): object {
  return {
    server: { listen: [{ host: '127.0.0.1', port: 0 }] },
    upstreams: { app: { targets: ['http://127.0.0.1:9001'] } },
    authenticators: { jwt: JWT, ...over.authenticators },
    authorizers: over.authorizers ?? {},
    routes: [{ name: 'r', match: { path_prefix: '/' }, authenticate: ['jwt'], upstream: 'app', ...over.route }],
  };
}

async function check(cfg: object): Promise<{ code: number | null; out: string }> {
  const file = path.join(dir, `c${n++}.yaml`);
  writeFileSync(file, stringify(cfg));
  const r = await runCli(['check', '--config', file]);
  return { code: r.code, out: r.stdout + r.stderr };
}

const authz = (cfg: object) => ({ authorizers: { geo: { url: 'http://127.0.0.1:7001/authz', ...cfg } }, route: { authorize: { external: 'geo' } } });

describe('check: the decision-cache key covers what the authorizer is sent', () => {
  it('refuses a cache.key that leaves out sent inputs, naming them, the field and the fix', async () => {
    const r = await check(config(authz({ send: { headers: ['x-tenant'] }, cache: { ttl: '30s', key: ['identity', 'method', 'route'] } })));
    expect(r.code).toBe(1);
    expect(r.out).toContain('authorizers.geo.cache.key: leaves out path, query, host, ip, header:x-tenant, which the authorizer is sent');
    expect(r.out).toContain('cache.unkeyed: [path, query, host, ip, header:x-tenant]');
  });

  it('accepts the same key when cache.unkeyed names what it leaves out on purpose', async () => {
    const r = await check(config(authz({ send: { headers: ['X-Tenant'] }, cache: { ttl: '30s', key: ['identity', 'method', 'route'], unkeyed: ['path', 'query', 'host', 'ip', 'header:x-tenant'] } })));
    expect(r.out).not.toContain('problem');
    expect(r.code).toBe(0);
  });

  it('accepts the default key, and a narrower one by send.ip / send.identity: false', async () => {
    expect((await check(config(authz({ send: { headers: ['x-tenant'] }, cache: { ttl: '30s' } })))).code).toBe(0);
    expect((await check(config(authz({ send: { ip: false, identity: false }, cache: { ttl: '30s', key: ['method', 'path', 'query', 'host'] } })))).code).toBe(0);
  });

  it('says consumer keys on part of the identity only', async () => {
    const r = await check(config(authz({ cache: { ttl: '30s', key: ['consumer', 'method', 'path', 'query', 'host', 'ip'] } })));
    expect(r.code).toBe(1);
    expect(r.out).toContain('authorizers.geo.cache.key: leaves out identity');
    expect(r.out).toContain('consumer and claim:NAME key on part of the identity only');
  });

  it('refuses an unkeyed entry the authorizer is not sent, or that is also in the key', async () => {
    const r = await check(config(authz({ cache: { ttl: '30s', key: ['identity', 'method', 'path', 'host', 'ip'], unkeyed: ['query', 'header:x-nope', 'path'] } })));
    expect(r.code).toBe(1);
    expect(r.out).toContain('authorizers.geo.cache.unkeyed[1]: "header:x-nope" is not an input this authorizer is sent');
    expect(r.out).toContain('authorizers.geo.cache.unkeyed[2]: "path" is also in cache.key');
  });
});

const legacy = (cfg: object) => ({
  authenticators: { legacy: { type: 'external', url: 'http://127.0.0.1:7000/authn', allowed_upstream_headers: [], ...cfg } },
  route: { authenticate: ['legacy'] },
});

describe('check: the external authenticator\'s answer cache keys on what it is sent', () => {
  it('accepts the default key and unkeyed inputs it is sent', async () => {
    expect((await check(config(legacy({ cache: { ttl: '30s' } })))).code).toBe(0);
    const r = await check(config(legacy({ send: { headers: ['authorization', 'X-Request-Id'] }, cache: { ttl: '30s', unkeyed: ['path', 'query', 'host', 'ip', 'header:x-request-id'] } })));
    expect(r.out).not.toContain('problem');
    expect(r.code).toBe(0);
  });

  it('refuses an unkeyed entry the authenticator is not sent, naming the field, what is sent and the fix', async () => {
    const r = await check(config(legacy({ send: { headers: ['authorization'], request: false }, cache: { ttl: '30s', unkeyed: ['ip', 'path', 'header:x-nope'] } })));
    expect(r.code).toBe(1);
    expect(r.out).toContain('authenticators.legacy.cache.unkeyed[1]: "path" is not an input this authenticator is sent, so there is nothing to leave out of the key; it is sent: ip, header:authorization; remove it');
    expect(r.out).toContain('authenticators.legacy.cache.unkeyed[2]: "header:x-nope" is not an input this authenticator is sent');
    expect(r.out).not.toContain('unkeyed[0]');
    const noIp = await check(config(legacy({ send: { ip: false }, cache: { ttl: '30s', unkeyed: ['ip'] } })));
    expect(noIp.out).toContain('authenticators.legacy.cache.unkeyed[0]: "ip" is not an input this authenticator is sent');
  });

  it('refuses a key that leaves every sent header out: one credential\'s identity would be served for another', async () => {
    const r = await check(config(legacy({ send: { headers: ['Authorization'] }, cache: { ttl: '30s', unkeyed: ['header:authorization'] } })));
    expect(r.code).toBe(1);
    expect(r.out).toContain('authenticators.legacy.cache.unkeyed: leaves every sent header (header:authorization) out of the key');
  });
});

describe('check: declared upstream headers have one owner and are never the gateway\'s own', () => {
  it('refuses an authorizer header that is also a forward_claims header on a route using both', async () => {
    const r = await check(config(authz({ allowed_upstream_headers: ['x-role', 'X-User-Id'] })));
    expect(r.code).toBe(1);
    expect(r.out).toContain('authorizers.geo.allowed_upstream_headers[1]: "X-User-Id" is also set by authenticators.jwt.forward_claims.sub on route "r" (routes[0])');
    expect(r.out).not.toContain('allowed_upstream_headers[0]');
  });

  it('accepts the same name when no route uses the authorizer with that authenticator', async () => {
    const cfg = config(authz({ allowed_upstream_headers: ['x-user-id'] })) as { routes: object[] };
    cfg.routes = [{ name: 'r', match: { path_prefix: '/' }, anonymous: true, upstream: 'app', authorize: { external: 'geo' } },
      { name: 'j', match: { path_prefix: '/j' }, authenticate: ['jwt'], upstream: 'app' }];
    expect((await check(cfg)).code).toBe(0);
  });

  it('refuses an authorizer header that an external authenticator of the route declares too, or the route adds', async () => {
    const r = await check(config({
      ...authz({ allowed_upstream_headers: ['x-account', 'x-gw'] }),
      authenticators: { legacy: { type: 'external', url: 'http://127.0.0.1:7000/authn', allowed_upstream_headers: ['x-account'] } },
      route: { authenticate: ['legacy'], authorize: { external: 'geo' }, request_headers: { add: { 'x-gw': 'portcullis' } } },
    }));
    expect(r.code).toBe(1);
    expect(r.out).toContain('authorizers.geo.allowed_upstream_headers[0]: "x-account" is also set by authenticators.legacy.allowed_upstream_headers[0]');
    expect(r.out).toContain('authorizers.geo.allowed_upstream_headers[1]: "x-gw" is also set by routes[0].request_headers.add.x-gw');
  });

  it('refuses an external authenticator header that is also one of its forward_claims headers', async () => {
    const r = await check(config({
      authenticators: { legacy: { type: 'external', url: 'http://127.0.0.1:7000/authn', forward_claims: { tier: 'x-tier' }, allowed_upstream_headers: ['x-tier'] } },
      route: { authenticate: ['legacy'] },
    }));
    expect(r.code).toBe(1);
    expect(r.out).toContain('authenticators.legacy.allowed_upstream_headers[0]: "x-tier" is also the forward_claims header of claim "tier"');
  });

  it('refuses hop-by-hop and gateway-owned names', async () => {
    const names = ['x-forwarded-for', 'X-Request-Id', 'x-portcullis-consumer', 'host', 'content-length', 'transfer-encoding', 'connection'];
    const r = await check(config(authz({ allowed_upstream_headers: names })));
    expect(r.code).toBe(1);
    names.forEach((h, i) => expect(r.out).toContain(`authorizers.geo.allowed_upstream_headers[${i}]: "${h}" is a hop-by-hop header or one the gateway sets itself`));
    const e = await check(config({
      authenticators: { legacy: { type: 'external', url: 'http://127.0.0.1:7000/authn', allowed_upstream_headers: ['x-forwarded-host'] } },
      route: { authenticate: ['legacy'] },
    }));
    expect(e.out).toContain('authenticators.legacy.allowed_upstream_headers[0]: "x-forwarded-host" is a hop-by-hop header');
  });
});
