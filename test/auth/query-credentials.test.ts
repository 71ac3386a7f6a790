// A credential query parameter is a singleton (issue 13, finding 9): with
// `?access_token=<valid>&access_token=<forged>` the gateway verified one value
// and forwarded both. A repeat, in any spelling the gateway or an upstream
// could read, is 400 duplicate_credential and never reaches the upstream.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { QuerySingletons } from '../../src/auth/query-credential.js';
import { startGateway, tempDir, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { AUDIENCE, ISSUER, request, rsaKey, sha256hex, sign, type SigningKey } from '../e2e/util.js';

describe('QuerySingletons', () => {
  const qs = new QuerySingletons(['access_token', 'api key', 'clé']);
  it('counts every spelling of a name as the same parameter, other names and case variants not', () => {
    for (const q of [
      'access_token=a&access_token=b',
      'access_token=a&access%5Ftoken=b', 'access%5ftoken=a&access_token=b', 'access_%74oken=a&x=1&access_token=',
      'access_token=a&access_token', 'access_token&access_token=b', 'access_token=&access_token=',
      'x=1;access_token=b&access_token=a', 'access_token=a;access_token=b',
      'api+key=1&api%20key=2', 'api key=1&api+key=2',
      'cl%C3%A9=1&clé=2', 'clé=1&cl%c3%a9=2',
    ]) expect(qs.repeated(q), q).toBe(true);
    for (const q of [
      '', 'access_token=a', 'access_token=a&ACCESS_TOKEN=b', 'access_token=a&access_tokens=b', 'access_token=a&xaccess_token=b',
      'access_token=a&b=access_token', 'access_token=a%26access_token%3Db', 'access_token=a&access%5Gtoken=b',
      'access_token=a&access%5Ftoke=b', 'api key=1&apikey=2', 'clé=1&cle=2', 'cl%C3%A9=1&cl%C3=2',
    ]) expect(qs.repeated(q), q).toBe(false);
  });
});

describe('credential query parameters through the gateway', () => {
  let up: TestUpstream;
  let gw: RunningGateway;
  let key: SigningKey;
  let token: string;
  const apiKey = 'k-' + sha256hex(String(Math.random())).slice(0, 32);

  beforeAll(async () => {
    key = await rsaKey('q-1');
    token = await sign(key, { sub: 'alice' });
    up = await startUpstream();
    gw = await startGateway({
      server: { listen: [{ host: '127.0.0.1', port: 0 }] },
      upstreams: { up: { targets: [up.url] } },
      authenticators: {
        qjwt: { type: 'jwt', from: { query: 'access_token' }, issuer: ISSUER, audience: [AUDIENCE], algorithms: ['RS256'], keys: [key.jwk] },
        qkey: { type: 'api_key', from: { query: 'api_key' }, keys_file: 'api-keys.yaml' },
        hkey: { type: 'api_key', from: { header: 'x-api-key' }, keys_file: 'api-keys.yaml' },
      },
      routes: [
        { name: 'jwt', match: { path_prefix: '/jwt' }, authenticate: ['qjwt'], upstream: 'up' },
        { name: 'key', match: { path_prefix: '/key' }, authenticate: ['qkey'], upstream: 'up' },
        { name: 'either', match: { path_prefix: '/either' }, authenticate: ['hkey', 'qjwt'], upstream: 'up' },
      ],
    }, { dir: tempDir(), files: { 'api-keys.yaml': `- consumer: svc\n  key_sha256: ${sha256hex(apiKey)}\n` } });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  const refused = async (path: string, headers: Record<string, string> = {}) => {
    const n = up.requests.length;
    const r = await request(gw.url, path, { headers });
    expect(r.status, path).toBe(400);
    expect(r.json, path).toEqual({ error: 'bad_request', reason: 'duplicate_credential' });
    expect(up.requests.length, `${path} reached the upstream`).toBe(n);
    return r;
  };

  it('a JWT access_token repeated in any spelling is 400 duplicate_credential and never forwarded; once is forwarded as sent', async () => {
    const ok = await request(gw.url, `/jwt/a?access_token=${token}&ACCESS_TOKEN=other&x=1`);
    expect(ok.status).toBe(200);
    expect(up.requests.at(-1)!.url).toBe(`/jwt/a?access_token=${token}&ACCESS_TOKEN=other&x=1`); // a case variant is another parameter
    const forged = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.';
    for (const q of [
      `access_token=${token}&access_token=${forged}`,
      `access_token=${forged}&access_token=${token}`,
      `access_token=${token}&access%5Ftoken=${forged}`,
      `access%5Ftoken=${forged}&access_token=${token}`,
      `access_token=${token}&access_token=`,
      `access_token=${token}&access_token`,
      `x=1;access_token=${forged}&access_token=${token}`,
    ]) {
      const r = await refused(`/jwt/a?${q}`);
      expect(r.headers['www-authenticate']).toContain('error="invalid_request"');
    }
  });

  it('an API key repeated in the query is 400 duplicate_credential; once is accepted and removed from the forwarded query', async () => {
    const ok = await request(gw.url, `/key/a?x=1&api_key=${apiKey}&y=2`);
    expect(ok.status).toBe(200);
    expect(up.requests.at(-1)!.url).toBe('/key/a?x=1&y=2');
    await refused(`/key/a?api_key=${apiKey}&api_key=other`);
    await refused(`/key/a?api_key=${apiKey}&api%5Fkey=${apiKey}`);
    await refused(`/key/a?api_key=&api_key=${apiKey}`);
  });

  it('a repeated credential parameter is refused even when another authenticator of the route decides', async () => {
    const ok = await request(gw.url, `/either/a?access_token=${token}`, { headers: { 'x-api-key': apiKey } });
    expect(ok.status).toBe(200);
    await refused(`/either/a?access_token=${token}&access_token=forged`, { 'x-api-key': apiKey });
  });
});
