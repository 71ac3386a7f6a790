// Per-IP limits must slow a flood of refused credentials, not only admitted requests.
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

describe('rate limits under a flood of bad credentials', () => {
  let up: TestUpstream;
  let gw: RunningGateway;
  beforeAll(async () => {
    up = await startUpstream();
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    gw = await startGateway({
      server: { listen: [{ host: '127.0.0.1', port: 0 }] },
      upstreams: { up: { targets: [up.url] } },
      authenticators: {
        jwt: { type: 'jwt', algorithms: ['RS256'], keys: [publicKey.export({ type: 'spki', format: 'pem' }).toString()] },
      },
      // A slow refill: nothing comes back during the test.
      rate_limits: { 'per-ip': { key: 'ip', rate: 1, per: '1h', burst: 5 }, 'per-user': { key: 'claim:sub', rate: 100, per: '1s' } },
      routes: [{ name: 'api', match: { path_prefix: '/' }, authenticate: ['jwt'], rate_limit: ['per-ip', 'per-user'], upstream: 'up' }],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('spends the per-IP budget on 401s, then answers 429 before any token check', async () => {
    const statuses: number[] = [];
    const reasons: string[] = [];
    for (let i = 0; i < 9; i++) {
      const r = await fetch(`${gw.url}/x`, { headers: { authorization: `Bearer garbage.${i}.token` } });
      statuses.push(r.status);
      reasons.push(((await r.json()) as { reason: string }).reason);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429, 429, 429]);
    expect(reasons.slice(5).every((x) => x === 'rate_limited')).toBe(true);
    expect(up.requests).toHaveLength(0);
  });
});
