// JWT end to end, through the real gateway process: a real JWKS endpoint
// (node:http) and inline keys; identity headers reach the upstream and cannot
// be forged; the hostile-token corpus is refused with the right reason and
// challenge and never reaches the upstream; JWKS down at start, then up, then
// rotated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { JwksServer } from '../auth/jwks-server.js';
import { AUDIENCE, ISSUER, b64u, baseServer, bearer, freePort, poll, request, rsaKey, sign, type SigningKey } from './util.js';

const FORWARD = { sub: 'x-user-id', email: 'x-user-email' };

function jwtAuthn(extra: Record<string, unknown>) {
  return { type: 'jwt', issuer: ISSUER, audience: [AUDIENCE], algorithms: ['RS256'], forward_claims: FORWARD, ...extra };
}

describe('JWT through the gateway', () => {
  let up: TestUpstream;
  let jwks: JwksServer;
  let gw: RunningGateway;
  let remoteKey: SigningKey;
  let inlineKey: SigningKey;
  let pemKey: SigningKey;

  beforeAll(async () => {
    [remoteKey, inlineKey, pemKey] = await Promise.all([rsaKey('remote-1'), rsaKey('inline-1'), rsaKey('pem-1')]);
    up = await startUpstream();
    jwks = await new JwksServer().start();
    jwks.keys = [remoteKey.jwk];
    gw = await startGateway({
      server: baseServer(),
      upstreams: { up: { targets: [up.url] } },
      authenticators: {
        remote: jwtAuthn({ jwks_uri: jwks.url }),
        inline: jwtAuthn({ keys: [inlineKey.jwk, pemKey.pem] }),
      },
      routes: [
        { name: 'remote', match: { path_prefix: '/remote' }, authenticate: ['remote'], upstream: 'up' },
        { name: 'inline', match: { path_prefix: '/inline' }, authenticate: ['inline'], upstream: 'up' },
      ],
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await jwks?.stop();
    await up?.close();
  });

  it('valid token from the JWKS endpoint → 200 and the upstream sees the identity headers', async () => {
    const t = await sign(remoteKey, { sub: 'alice', email: 'alice@example.test' });
    const n = up.requests.length;
    const r = await request(gw.url, '/remote/orders', { headers: bearer(t) });
    expect(r.status).toBe(200);
    expect(up.requests.length).toBe(n + 1);
    const h = up.requests.at(-1)!.headers;
    expect(h['x-user-id']).toBe('alice');
    expect(h['x-user-email']).toBe('alice@example.test');
    expect(h['x-portcullis-consumer']).toBe('alice');
    expect(h['x-portcullis-authenticator']).toBe('remote');
  });

  it('valid token for inline keys (JWK and PEM) → 200 with the identity headers', async () => {
    for (const [key, sub] of [[inlineKey, 'bob'], [pemKey, 'carol']] as const) {
      const t = await sign(key, { sub });
      const r = await request(gw.url, '/inline/x', { headers: bearer(t) });
      expect(r.status, `key ${key.kid}`).toBe(200);
      const h = up.requests.at(-1)!.headers;
      expect(h['x-user-id']).toBe(sub);
      expect(h['x-portcullis-consumer']).toBe(sub);
      expect(h['x-portcullis-authenticator']).toBe('inline');
    }
  });

  it('strips client-sent identity and forward_claims headers: the upstream sees only the gateway values', async () => {
    // No email claim: the client's x-user-email must vanish, not pass through.
    const t = await sign(remoteKey, { sub: 'alice' });
    const r = await request(gw.url, '/remote/spoof', {
      headers: {
        ...bearer(t),
        'x-portcullis-consumer': 'admin',
        'X-Portcullis-Authenticator': 'forged',
        'x-user-id': 'root',
        'X-User-Email': 'root@evil.test',
      },
    });
    expect(r.status).toBe(200);
    const seen = up.requests.at(-1)!;
    expect(seen.headers['x-portcullis-consumer']).toBe('alice');
    expect(seen.headers['x-portcullis-authenticator']).toBe('remote');
    expect(seen.headers['x-user-id']).toBe('alice');
    expect(seen.headers['x-user-email']).toBeUndefined();
    // One line each: no duplicate that an upstream could read first.
    const names = seen.rawHeaders.filter((_, i) => i % 2 === 0).map((x) => x.toLowerCase());
    for (const n of ['x-portcullis-consumer', 'x-portcullis-authenticator', 'x-user-id']) expect(names.filter((x) => x === n)).toHaveLength(1);
    expect(seen.rawHeaders.join('\n')).not.toMatch(/root|forged|admin/);
  });

  it('hostile tokens → 401 with the reason and an invalid_token challenge, never reaching the upstream', async () => {
    const now = Math.floor(Date.now() / 1000);
    const other = await rsaKey('remote-1'); // same kid, different key
    const unsignedHeader = b64u(JSON.stringify({ alg: 'none', typ: 'JWT', kid: remoteKey.kid }));
    const body = b64u(JSON.stringify({ sub: 'eve', iss: ISSUER, aud: AUDIENCE, exp: now + 3600 }));
    const hsHeader = b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: remoteKey.kid }));
    const hsSig = createHmac('sha256', remoteKey.pem).update(`${hsHeader}.${body}`).digest('base64url');
    const corpus: [string, string, string][] = [
      ['alg none', `${unsignedHeader}.${body}.`, 'alg_not_allowed'],
      ['HS256 signed with the RSA public key', `${hsHeader}.${body}.${hsSig}`, 'alg_not_allowed'],
      ['wrong kid', await sign(remoteKey, { sub: 'eve' }, { kid: 'nobody-knows' }), 'unknown_kid'],
      ['right kid, other key', await sign(other, { sub: 'eve' }), 'bad_signature'],
      ['expired', await sign(remoteKey, { sub: 'eve', iat: now - 7200, exp: now - 3600 }), 'token_expired'],
      ['wrong aud', await sign(remoteKey, { sub: 'eve', aud: 'another-api' }), 'bad_audience'],
      ['wrong iss', await sign(remoteKey, { sub: 'eve', iss: 'https://evil.test/' }), 'bad_issuer'],
      ['garbage', 'not-a-jwt-at-all', 'token_malformed'],
      ['oversized (> 8 KiB)', await sign(remoteKey, { sub: 'eve', pad: 'x'.repeat(9 * 1024) }), 'token_too_large'],
    ];
    const n = up.requests.length;
    for (const [what, token, reason] of corpus) {
      const r = await request(gw.url, '/remote/orders', { headers: bearer(token) });
      expect(r.status, what).toBe(401);
      expect(r.json, what).toEqual({ error: 'unauthorized', reason });
      const www = String(r.headers['www-authenticate'] ?? '');
      expect(www, what).toMatch(/^Bearer realm="remote", .*error="invalid_token"/);
      // The description names the check, never the token.
      expect(www, what).not.toContain(token.slice(0, 20));
    }
    expect(up.requests.length).toBe(n);
  });

  it('ignores a token in the query string when the route expects the Authorization header (401 no_credentials)', async () => {
    const t = await sign(remoteKey, { sub: 'alice' });
    const n = up.requests.length;
    const r = await request(gw.url, `/remote/orders?access_token=${t}`);
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ error: 'unauthorized', reason: 'no_credentials' });
    expect(r.headers['www-authenticate']).toBe('Bearer realm="remote"');
    expect(up.requests.length).toBe(n);
  });
});

describe('JWKS endpoint down at start', () => {
  let up: TestUpstream;
  let jwks: JwksServer | null = null;
  let gw: RunningGateway;
  let port: number;

  beforeAll(async () => {
    up = await startUpstream();
    port = await freePort();
    gw = await startGateway({
      server: baseServer(),
      upstreams: { up: { targets: [up.url] } },
      // A failed fetch is retried after min(jwks_refresh, 15 s): keep it short.
      authenticators: { remote: jwtAuthn({ jwks_uri: `http://127.0.0.1:${port}/.well-known/jwks.json`, jwks_refresh: '500ms' }) },
      routes: [{ name: 'remote', match: { path_prefix: '/' }, authenticate: ['remote'], upstream: 'up' }],
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await jwks?.stop();
    await up?.close();
  });

  it('answers 401 unknown_kid and logs the failed fetch clearly, then accepts tokens once the JWKS is up, then follows a rotation', async () => {
    const k1 = await rsaKey('k1');
    const t1 = await sign(k1, { sub: 'alice' });
    const line = await gw.waitForLog(/jwks fetch failed/);
    const entry = JSON.parse(line) as Record<string, unknown>;
    expect(entry['level']).toBe('error');
    expect(entry['authenticator']).toBe('remote');
    expect(String(entry['jwks_uri'])).toContain(`127.0.0.1:${port}`);
    expect(String(entry['msg'])).toMatch(/unknown_kid/);

    const down = await request(gw.url, '/x', { headers: bearer(t1) });
    expect(down.status).toBe(401);
    expect(down.json).toEqual({ error: 'unauthorized', reason: 'unknown_kid' });
    expect(up.requests.length).toBe(0);

    jwks = await new JwksServer().start(port);
    jwks.keys = [k1.jwk];
    const ok = await poll(async () => (await request(gw.url, '/x', { headers: bearer(t1) })).status === 200, 60, 250);
    expect(ok).toBe(true);
    await gw.waitForLog(/jwks loaded/);
    expect(up.requests.at(-1)!.headers['x-portcullis-consumer']).toBe('alice');

    // Rotation: the IdP now publishes only k2.
    const k2 = await rsaKey('k2');
    jwks.keys = [k2.jwk];
    const t2 = await sign(k2, { sub: 'bob' });
    const rotated = await poll(async () => (await request(gw.url, '/x', { headers: bearer(t2) })).status === 200, 60, 250);
    expect(rotated).toBe(true);
    // A key the IdP withdrew stops working (cached verdicts included).
    const gone = await poll(async () => (await request(gw.url, '/x', { headers: bearer(t1) })).status === 401, 60, 250);
    expect(gone).toBe(true);
    // The logs never carry a whole token.
    const all = gw.logs.join('\n');
    for (const t of [t1, t2]) expect(all).not.toContain(t.split('.')[2]!);
  });
});
