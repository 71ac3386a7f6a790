// Large request bodies pause the client socket (backpressure); the connection
// must still serve the next request after the answer.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const MiB = 1024 * 1024;

function post(agent: http.Agent, port: number, path: string, body: Buffer): Promise<{ status: number; socketReused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, socketReused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('keep-alive after large request bodies', () => {
  let up: TestUpstream;
  let gw: RunningGateway;
  beforeAll(async () => {
    up = await startUpstream();
    gw = await startGateway({
      server: { listen: [{ host: '127.0.0.1', port: 0 }], limits: { max_body: '4MiB' } },
      access_log: { enabled: false },
      upstreams: { up: { targets: [up.url] } },
      routes: [{ name: 'up', match: { path_prefix: '/' }, anonymous: true, upstream: 'up' }],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('serves ten 1 MiB uploads in a row on one connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const body = Buffer.alloc(MiB, 7);
    const results = [];
    for (let i = 0; i < 10; i++) results.push(await post(agent, gw.ports[0]!, `/u${i}`, body));
    agent.destroy();
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(results.slice(1).every((r) => r.socketReused)).toBe(true);
    expect(up.requests.filter((r) => r.url.startsWith('/u')).map((r) => r.bodyBytes)).toEqual(Array(10).fill(MiB));
  });
});
