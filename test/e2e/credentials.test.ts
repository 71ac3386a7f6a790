// What the gateway consumed as a credential never reaches the upstream.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

describe('consumed credentials are not forwarded', () => {
  let up: TestUpstream;
  let gw: RunningGateway;
  const password = `pw-${randomBytes(6).toString('hex')}`;
  const apiKey = `key-${randomBytes(12).toString('hex')}`;
  beforeAll(async () => {
    up = await startUpstream();
    const htpasswd = execFileSync('htpasswd', ['-nbB', 'alice', password], { encoding: 'utf8' }).trim();
    const keys = `- consumer: partner-a\n  key_sha256: ${createHash('sha256').update(apiKey).digest('hex')}\n`;
    gw = await startGateway({
      server: { listen: [{ host: '127.0.0.1', port: 0 }] },
      upstreams: { up: { targets: [up.url] } },
      authenticators: {
        staff: { type: 'basic', realm: 'staff', users_file: 'users.htpasswd' },
        partners: { type: 'api_key', from: { query: 'api_key' }, keys_file: 'keys.yaml' },
      },
      routes: [
        { name: 'basic', match: { path_prefix: '/basic' }, authenticate: ['staff'], upstream: 'up' },
        { name: 'keys', match: { path_prefix: '/keys' }, authenticate: ['partners'], upstream: 'up' },
      ],
    }, { files: { 'users.htpasswd': `${htpasswd}\n`, 'keys.yaml': keys } });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('drops the Basic Authorization header (it carries the password)', async () => {
    const r = await fetch(`${gw.url}/basic/x`, { headers: { authorization: `Basic ${Buffer.from(`alice:${password}`).toString('base64')}` } });
    expect(r.status).toBe(200);
    const seen = up.requests.at(-1)!;
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['x-portcullis-consumer']).toBe('alice');
    expect(JSON.stringify(seen.rawHeaders)).not.toContain(password);
  });

  it('drops an API key given in the query string and keeps the other parameters', async () => {
    const r = await fetch(`${gw.url}/keys/x?a=1&api_key=${apiKey}&b=2`);
    expect(r.status).toBe(200);
    const seen = up.requests.at(-1)!;
    expect(seen.url).toBe('/keys/x?a=1&b=2');
    expect(seen.headers['x-portcullis-consumer']).toBe('partner-a');
  });
});
