// Health for load balancers and containers: /healthz and /readyz need no
// admin token, /readyz turns 503 the moment the gateway starts draining (the
// admin listener stays up until in-flight requests are done), and
// `portcullis healthcheck` exits 0/1 on it.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, startGateway, tempDir, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const TOKEN = 'a'.repeat(48);
let gw: RunningGateway | undefined;
let up: TestUpstream | undefined;
const held: http.ServerResponse[] = [];

afterAll(async () => {
  for (const r of held) r.end('late');
  await gw?.stop('SIGKILL');
  await up?.close();
});

async function get(port: number, p: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${p}`, { headers });
  return { status: r.status, body: await r.text() };
}

describe('health without the admin token', () => {
  it('/healthz and /readyz answer a load balancer, /readyz is 503 while draining, healthcheck follows it', async () => {
    up = await startUpstream((_req, res) => { held.push(res); });
    const dir = tempDir('portcullis-health-');
    writeFileSync(path.join(dir, 'admin-token'), `${TOKEN}\n`);
    gw = await startGateway({
      server: { listen: [{ host: '127.0.0.1', port: 0 }], shutdown_timeout: '60s' },
      admin: { listen: { host: '127.0.0.1', port: 0 }, token_file: 'admin-token' },
      upstreams: { slow: { targets: [up.url], timeout: '60s' } },
      routes: [{ name: 'slow', match: { path_prefix: '/' }, anonymous: true, upstream: 'slow', timeout: '60s' }],
    }, { dir });
    const adminPort = Number(new URL((JSON.parse(gw.logs.find((l) => l.includes('portcullis listening'))!) as { admin: string }).admin).port);
    const readyUrl = `http://127.0.0.1:${adminPort}/readyz`;

    expect((await get(adminPort, '/metrics')).status).toBe(401); // the token still guards the data
    expect(await get(adminPort, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    const ready = await get(adminPort, '/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ ok: true });
    const named = JSON.parse((await get(adminPort, '/readyz', { authorization: `Bearer ${TOKEN}` })).body) as { checks: Record<string, boolean> };
    expect(named.checks.not_draining).toBe(true);
    const hc = await runCli(['healthcheck', '--url', readyUrl]);
    expect(hc.code).toBe(0);

    // A request in flight keeps the gateway draining after SIGTERM.
    const inflight = fetch(`${gw.url}/work`).then((r) => r.status);
    for (let i = 0; i < 200 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(held.length).toBe(1);
    gw.proc.kill('SIGTERM');
    let status = 0;
    for (let i = 0; i < 200; i++) {
      status = (await get(adminPort, '/readyz')).status;
      if (status === 503) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(status).toBe(503);
    const draining = await runCli(['healthcheck', '--url', readyUrl]);
    expect(draining.code).toBe(1);
    expect(draining.stderr).toMatch(/not ready: .* answered 503/);

    held.shift()!.end('done');
    expect(await inflight).toBe(200);
    expect(await gw.stop()).toBe(0);
    const after = await runCli(['healthcheck', '--url', readyUrl, '--timeout', '1s']);
    expect(after.code).toBe(1);
  });

  it('healthcheck reads the admin address from the config, and says so when there is none', async () => {
    const dir = tempDir('portcullis-health-');
    const f = path.join(dir, 'no-admin.yaml');
    writeFileSync(f, 'routes: [{ name: p, match: { path: /p }, respond: { status: 200 } }]\n');
    const r = await runCli(['healthcheck', '--config', f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/has no admin section/);
  });
});
