import { describe, expect, it } from 'vitest';
import { redactConfig, REDACTED } from '../../src/observe/redact.js';

const SECRETS = [
  'admin-token-value-1', 'tls-passphrase-2', 'hs256-shared-secret-3', 'oidc-client-secret-4', 'session-secret-5',
  'introspect-secret-6', 'redis-password-7', 'upstream-bearer-8', 'a1b2c3d4e5f60718293a4b5c6d7e8f90', 'jwk-k-value-9',
  'url-token-10', 'upstream-key-11',
];

const config = {
  server: {
    listen: [{ host: '0.0.0.0', port: 8443, tls: { cert: 'tls/server.crt', key: 'tls/server.key', passphrase: SECRETS[1] } }],
    limits: { max_token_bytes: 8192 },
  },
  admin: { listen: { host: '127.0.0.1', port: 9901 }, token: SECRETS[0], access_log: { path: '/var/log/portcullis/access.log', sample: 1 } },
  upstreams: { eu: { targets: ['http://127.0.0.1:9001'] } },
  authenticators: {
    jwt: { type: 'jwt', secret: SECRETS[2], keys: [{ kty: 'oct', k: SECRETS[9] }], jwks_uri: `https://idp.example.com/jwks?token=${SECRETS[10]}&v=2` },
    sso: { type: 'oidc', client_id: 'portcullis', client_secret: SECRETS[3], session: { cookie: '__Host-p', secret: SECRETS[4], secret_file: 'secrets/session' } },
    introspect: { type: 'introspection', client_secret_env: 'INTROSPECT_SECRET', client_secret: SECRETS[5] },
    keys: { type: 'api_key', keys_file: 'api-keys.yaml', inline: [{ consumer: 'acme', key_sha256: SECRETS[8] }] },
  },
  rate_limits: { 'per-user': { key: 'claim:sub', rate: 10 }, 'per-ip': { key: 'ip', rate: 50 } },
  authorizers: { geo: { url: 'http://127.0.0.1:7001/authz', cache: { ttl: 30000, key: ['identity', 'method', 'route'] } } },
  cluster: { redis: `redis://gateway:${SECRETS[6]}@10.0.0.5:6379/0`, key_prefix: 'portcullis:rl:' },
  routes: [
    { name: 'orders', request_headers: { add: { authorization: `Bearer ${SECRETS[7]}`, 'x-api-key': SECRETS[11], 'x-gateway': 'portcullis' }, remove: ['cookie'] } },
  ],
};

describe('config redaction', () => {
  const out = redactConfig(config) as typeof config;
  const text = JSON.stringify(out);

  it('removes every secret, wherever it sits', () => {
    for (const s of SECRETS) expect(text, s).not.toContain(s);
    expect(out.admin.token).toBe(REDACTED);
    expect(out.server.listen[0]!.tls.passphrase).toBe(REDACTED);
    expect(out.authenticators.jwt.keys).toBe(REDACTED);
    expect(out.authenticators.keys.inline[0]!.key_sha256).toBe(REDACTED);
    expect(out.cluster.redis).toBe(`redis://gateway:${REDACTED}@10.0.0.5:6379/0`);
    expect(out.authenticators.jwt.jwks_uri).toBe(`https://idp.example.com/jwks?token=${REDACTED}&v=2`);
    expect(out.routes[0]!.request_headers.add.authorization).toBe(REDACTED);
    expect(out.routes[0]!.request_headers.add['x-api-key']).toBe(REDACTED);
  });

  it('keeps what an operator needs to see: file paths, variable names, limit keys, ordinary values', () => {
    expect(out.authenticators.sso.session.secret_file).toBe('secrets/session');
    expect(out.authenticators.introspect.client_secret_env).toBe('INTROSPECT_SECRET');
    expect(out.authenticators.keys.keys_file).toBe('api-keys.yaml');
    expect(out.server.listen[0]!.tls.key).toBe('tls/server.key');
    expect(out.rate_limits['per-user'].key).toBe('claim:sub');
    expect(out.authorizers.geo.cache.key).toEqual(['identity', 'method', 'route']);
    expect(out.server.limits.max_token_bytes).toBe(8192);
    expect(out.cluster.key_prefix).toBe('portcullis:rl:');
    expect(out.authenticators.sso.client_id).toBe('portcullis');
    expect(out.routes[0]!.request_headers.add['x-gateway']).toBe('portcullis');
    expect(out.upstreams.eu.targets).toEqual(['http://127.0.0.1:9001']);
  });

  it('treats the names of authenticators and limits as names, not as field names', () => {
    const o = redactConfig({ authenticators: { token: { type: 'jwt', secret: 'named-token-secret', issuer: 'https://idp' } } }) as {
      authenticators: { token: { secret: string; issuer: string } };
    };
    expect(o.authenticators.token.secret).toBe(REDACTED);
    expect(o.authenticators.token.issuer).toBe('https://idp');
  });

  it('does not modify the live config object', () => {
    expect(config.admin.token).toBe(SECRETS[0]);
  });
});
