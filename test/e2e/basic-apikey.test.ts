// Basic and API keys end to end: a users file made with the real `htpasswd
// -nbB` and `portcullis hash-password` (argv and stdin), an API-keys file of
// SHA-256 hashes, and a chain [jwt, keys] that never lets a bad JWT fall
// through to the key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { runCli, startGateway, tempDir, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { AUDIENCE, ISSUER, baseServer, bearer, headerLines, randomSecret, request, rsaKey, sha256hex, sign, type SigningKey } from './util.js';

const basic = (user: string, pw: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` });

describe('Basic and API keys through the gateway', () => {
  let up: TestUpstream;
  let gw: RunningGateway;
  let jwtKey: SigningKey;
  const pw = { bcrypt: randomSecret(12), argv: randomSecret(12), stdin: `${randomSecret(8)} with spaces` };
  const apiKey = randomSecret(32);

  beforeAll(async () => {
    jwtKey = await rsaKey('chain-1');
    const bcryptLine = execFileSync('htpasswd', ['-nbB', 'alice', pw.bcrypt], { encoding: 'utf8' }).trim();
    expect(bcryptLine).toMatch(/^alice:\$2y\$/);
    const argv = await runCli(['hash-password', pw.argv]);
    expect(argv.code).toBe(0);
    const stdin = await runCli(['hash-password'], { input: `${pw.stdin}\n` });
    expect(stdin.code).toBe(0);
    for (const r of [argv, stdin]) {
      expect(r.stdout.trim()).toMatch(/^\$scrypt\$/);
      expect(r.stdout + r.stderr).not.toContain(pw.argv);
    }
    const users = [bcryptLine, `bob:${argv.stdout.trim()}`, `carol:${stdin.stdout.trim()}`].join('\n') + '\n';
    const keys = `- consumer: billing-service\n  key_sha256: ${sha256hex(apiKey)}\n  metadata: { team: billing }\n`;
    up = await startUpstream();
    gw = await startGateway({
      server: baseServer(),
      upstreams: { up: { targets: [up.url] } },
      authenticators: {
        staff: { type: 'basic', realm: 'Staff Area', users_file: 'users.htpasswd' },
        keys: { type: 'api_key', from: { header: 'x-api-key' }, keys_file: 'api-keys.yaml' },
        jwt: { type: 'jwt', issuer: ISSUER, audience: [AUDIENCE], algorithms: ['RS256'], keys: [jwtKey.jwk] },
      },
      routes: [
        { name: 'basic', match: { path_prefix: '/basic' }, authenticate: ['staff'], upstream: 'up' },
        { name: 'apikey', match: { path_prefix: '/apikey' }, authenticate: ['keys'], upstream: 'up' },
        { name: 'chain', match: { path_prefix: '/chain' }, authenticate: ['jwt', 'keys'], upstream: 'up' },
      ],
    }, { dir: tempDir(), files: { 'users.htpasswd': users, 'api-keys.yaml': keys } });
  });

  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('accepts htpasswd -nbB (bcrypt) and hash-password scrypt lines (argv and stdin forms)', async () => {
    for (const [user, p] of [['alice', pw.bcrypt], ['bob', pw.argv], ['carol', pw.stdin]] as const) {
      const r = await request(gw.url, '/basic/x', { headers: basic(user, p) });
      expect(r.status, user).toBe(200);
      const h = up.requests.at(-1)!.headers;
      expect(h['x-portcullis-consumer']).toBe(user);
      expect(h['x-portcullis-authenticator']).toBe('staff');
    }
  });

  it('wrong password and unknown user → 401 with a Basic challenge naming the realm and charset', async () => {
    const n = up.requests.length;
    for (const h of [basic('alice', 'wrong-password'), basic('mallory', pw.bcrypt), basic('bob', pw.bcrypt)]) {
      const r = await request(gw.url, '/basic/x', { headers: h });
      expect(r.status).toBe(401);
      expect(r.json).toEqual({ error: 'unauthorized', reason: 'bad_credentials' });
      expect(r.headers['www-authenticate']).toBe('Basic realm="Staff Area", charset="UTF-8"');
    }
    const none = await request(gw.url, '/basic/x');
    expect(none.status).toBe(401);
    expect(none.json).toEqual({ error: 'unauthorized', reason: 'no_credentials' });
    expect(none.headers['www-authenticate']).toBe('Basic realm="Staff Area", charset="UTF-8"');
    expect(up.requests.length).toBe(n);
  });

  it('valid API key → 200 with x-portcullis-consumer, and the key header is not forwarded upstream', async () => {
    const r = await request(gw.url, '/apikey/invoices', { headers: { 'x-api-key': apiKey } });
    expect(r.status).toBe(200);
    const seen = up.requests.at(-1)!;
    expect(seen.headers['x-portcullis-consumer']).toBe('billing-service');
    expect(seen.headers['x-portcullis-authenticator']).toBe('keys');
    expect(seen.headers['x-api-key']).toBeUndefined();
    expect(seen.rawHeaders.join('\n')).not.toContain(apiKey);
  });

  it('unknown API key → 401 unknown_key, never forwarded', async () => {
    const n = up.requests.length;
    const r = await request(gw.url, '/apikey/invoices', { headers: { 'x-api-key': randomSecret(32) } });
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ error: 'unauthorized', reason: 'unknown_key' });
    expect(up.requests.length).toBe(n);
  });

  it('chain [jwt, keys]: a present-but-invalid JWT is never skipped in favour of a valid key (401)', async () => {
    const n = up.requests.length;
    const expired = await sign(jwtKey, { sub: 'eve', exp: Math.floor(Date.now() / 1000) - 3600 });
    for (const [token, reason] of [['garbage', 'token_malformed'], [expired, 'token_expired']] as const) {
      const r = await request(gw.url, '/chain/x', { headers: { ...bearer(token), 'x-api-key': apiKey } });
      expect(r.status, reason).toBe(401);
      expect(r.json).toEqual({ error: 'unauthorized', reason });
      expect(String(r.headers['www-authenticate'])).toMatch(/^Bearer realm="jwt", error="invalid_token"/);
    }
    expect(up.requests.length).toBe(n);
    // Each credential alone works.
    expect((await request(gw.url, '/chain/x', { headers: { 'x-api-key': apiKey } })).status).toBe(200);
    expect(up.requests.at(-1)!.headers['x-portcullis-authenticator']).toBe('keys');
    expect((await request(gw.url, '/chain/x', { headers: bearer(await sign(jwtKey, { sub: 'dave' })) })).status).toBe(200);
    expect(up.requests.at(-1)!.headers['x-portcullis-authenticator']).toBe('jwt');
  });

  it('chain [jwt, keys] without credentials → 401 no_credentials listing both challenges', async () => {
    const raw = await request(gw.url, '/chain/x');
    expect(raw.status).toBe(401);
    expect(raw.json).toEqual({ error: 'unauthorized', reason: 'no_credentials' });
    const www = headerLines(raw, 'www-authenticate');
    expect(www).toHaveLength(2);
    expect(www[0]).toBe('Bearer realm="jwt"');
    expect(www[1]).toMatch(/^ApiKey realm="keys", header="x-api-key"$/);
  });
});
