// Process lifecycle of the real gateway: SIGHUP reloads a good file, keeps the
// running plan on a bad one (logging every problem); SIGTERM drains in-flight
// requests, refuses new connections, and exits 0.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { freePort, gatewayConfig, rawRequest, request, sleep, startLabUpstream, type LabUpstream } from './util.js';

let lab: LabUpstream;

beforeAll(async () => {
  lab = await startLabUpstream();
});

afterAll(async () => {
  await lab?.close();
});

/** A fixed port so the same config file can be rewritten for reloads. */
async function configOn(port: number, routes: Record<string, unknown>[], extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const c = gatewayConfig({ lab: lab.url }, routes, extra);
  (c.server as Record<string, unknown>).listen = [{ host: '127.0.0.1', port }];
  return c;
}

/** Waits for a log line matching `re` among those after index `from` (bounded). */
async function newLog(gw: RunningGateway, re: RegExp, from: number, ms = 10_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const hit = gw.logs.slice(from).find((l) => re.test(l));
    if (hit) return hit;
    if (Date.now() > end || gw.proc.exitCode !== null) throw new Error(`no new log line matching ${re}; logs:\n${gw.logs.slice(from).join('\n')}`);
    await sleep(25);
  }
}

function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(false); });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

describe('SIGHUP reload', () => {
  let gw: RunningGateway;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    gw = await startGateway(await configOn(port, [
      { name: 'old', match: { path_prefix: '/old' }, respond: { status: 200, body: 'old-plan' } },
    ]));
  });

  afterAll(async () => {
    await gw?.stop();
  });

  it('swaps in a good file: the new route is served, the removed one is gone', async () => {
    expect((await request(`${gw.url}/old`)).text).toBe('old-plan');
    expect((await request(`${gw.url}/new`)).status).toBe(404);
    gw.writeConfig(await configOn(port, [
      { name: 'new', match: { path_prefix: '/new' }, upstream: 'lab' },
      { name: 'v2', match: { path: '/version' }, respond: { status: 200, body: 'v2' } },
    ]));
    const before = gw.logs.length;
    gw.proc.kill('SIGHUP');
    await newLog(gw, /config reloaded/, before);
    expect(gw.logs.slice(before).some((l) => /reload rejected/.test(l))).toBe(false);
    const r = await request(`${gw.url}/new/x`);
    expect(r.status).toBe(200);
    expect(r.json().url).toBe('/new/x');
    expect((await request(`${gw.url}/version`)).text).toBe('v2');
    expect((await request(`${gw.url}/old`)).status).toBe(404);
  });

  it('keeps the running plan on a bad file and logs every problem', async () => {
    const bad = await configOn(port, [
      { name: 'a', match: { path_prefix: '/a' }, upstream: 'lbb' },
      { name: 'b', match: { path_prefix: '/b' }, upstream: 'lab', anonymous: false },
      { name: 'c', match: { path_prefix: '/c' }, upstream: 'nowhere' },
    ]);
    gw.writeConfig(bad);
    const before = gw.logs.length;
    gw.proc.kill('SIGHUP');
    const line = await newLog(gw, /reload rejected/, before);
    const entry = JSON.parse(line) as { level: string; problems: string[] };
    expect(entry.level).toBe('error');
    const text = entry.problems.join('\n');
    expect(text).toContain('routes[0].upstream');
    expect(text).toMatch(/did you mean "lab"/);
    expect(text).toContain('routes[1]');
    expect(text).toContain('routes[2].upstream');
    // Still the previous (good) plan.
    expect((await request(`${gw.url}/version`)).text).toBe('v2');
    expect((await request(`${gw.url}/new/y`)).status).toBe(200);
    expect((await request(`${gw.url}/a`)).status).toBe(404);
    expect(gw.proc.exitCode).toBeNull();
  });

  it('keeps the running plan on a file with a YAML syntax error', async () => {
    gw.writeConfig('server:\n  listen: [ {host: x\n routes: -\n');
    const before = gw.logs.length;
    gw.proc.kill('SIGHUP');
    expect(await newLog(gw, /reload rejected/, before)).toMatch(/YAML/);
    expect((await request(`${gw.url}/version`)).text).toBe('v2');
  });

  it('recovers with the next good file', async () => {
    gw.writeConfig(await configOn(port, [
      { name: 'v3', match: { path: '/version' }, respond: { status: 200, body: 'v3' } },
    ]));
    const before = gw.logs.length;
    gw.proc.kill('SIGHUP');
    await newLog(gw, /config reloaded/, before);
    expect((await request(`${gw.url}/version`)).text).toBe('v3');
  });
});

describe('listening', () => {
  // uWS binds with SO_REUSEPORT (so event-loop threads can share a port); without
  // a check, a second gateway started by mistake binds the same port silently and
  // the kernel splits connections between the old and the new config.
  it('refuses to start on a port another gateway is already listening on', async () => {
    const port = await freePort();
    const first = await startGateway(await configOn(port, [{ name: 'p', match: { path: '/who' }, respond: { status: 200, body: 'first' } }]));
    try {
      const second = await startGateway(await configOn(port, [{ name: 'p', match: { path: '/who' }, respond: { status: 200, body: 'second' } }]), { timeoutMs: 15_000 })
        .catch((e: unknown) => e as Error);
      if (!(second instanceof Error)) await second.stop();
      expect(second).toBeInstanceOf(Error);
      expect((second as Error).message).toMatch(/exited \(1\)[\s\S]*in use/);
      for (let i = 0; i < 10; i++) expect((await request(`${first.url}/who`)).text).toBe('first');
    } finally {
      await first.stop();
    }
  });
});

describe('SIGTERM drain', () => {
  it('lets an in-flight slow request finish with 200, refuses new connections, exits 0', async () => {
    const gw = await startGateway(gatewayConfig({ lab: lab.url }, [
      { name: 'all', match: { path_prefix: '/' }, upstream: 'lab' },
    ], { shutdown_timeout: '10s' }));
    const port = gw.ports[0]!;
    // A kept-alive connection that will try a second request during the drain.
    const arrived = lab.arrived();
    const inflight = request(`${gw.url}/slow?ms=1500`);
    for (let i = 0; i < 100 && lab.arrived() === arrived; i++) await sleep(20);
    expect(lab.arrived()).toBeGreaterThan(arrived);

    gw.proc.kill('SIGTERM');
    await gw.waitForLog(/stopping/, 5000);
    await sleep(150);
    expect(await connectRefused(port)).toBe(true);

    const r = await inflight;
    expect(r.status).toBe(200);
    expect(r.text).toBe('slow done');
    const code = await gw.stop('SIGTERM', 15_000);
    expect(code).toBe(0);
    expect(gw.logs.some((l) => /"stopped"/.test(l))).toBe(true);
  });

  it('answers 503 to a new request on an already open connection while draining', async () => {
    const gw = await startGateway(gatewayConfig({ lab: lab.url }, [
      { name: 'all', match: { path_prefix: '/' }, upstream: 'lab' },
    ], { shutdown_timeout: '10s' }));
    const port = gw.ports[0]!;
    // Open an idle keep-alive connection first (one answered request on it).
    const sock = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => sock.on('connect', () => r()));
    let raw = '';
    sock.on('data', (c: Buffer) => { raw += c.toString('latin1'); });
    sock.write('GET /first HTTP/1.1\r\nHost: gw\r\n\r\n');
    for (let i = 0; i < 100 && !raw.includes('\r\n\r\n'); i++) await sleep(20);
    expect(raw).toMatch(/^HTTP\/1\.1 200/);
    // Keep the drain busy with a slow in-flight request.
    const inflight = request(`${gw.url}/slow?ms=1500`);
    await sleep(200);
    gw.proc.kill('SIGTERM');
    await gw.waitForLog(/stopping/, 5000);
    await sleep(100);
    raw = '';
    sock.write('GET /second HTTP/1.1\r\nHost: gw\r\n\r\n');
    for (let i = 0; i < 100 && !raw.includes('\r\n\r\n'); i++) await sleep(20);
    sock.destroy();
    // Either answered 503 (shutting down) or the connection was closed — never forwarded.
    if (raw !== '') expect(raw).toMatch(/^HTTP\/1\.1 503/);
    expect(lab.seen.some((s) => s.url === '/second')).toBe(false);
    expect((await inflight).status).toBe(200);
    expect(await gw.stop()).toBe(0);
  });

  it('exits 0 on SIGINT too', async () => {
    const gw = await startGateway(gatewayConfig({}, [{ name: 'p', match: { path: '/p' }, respond: { status: 200, body: 'p' } }]));
    expect((await rawRequest(gw.ports[0]!, 'GET /p HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n')).status).toBe(200);
    expect(await gw.stop('SIGINT')).toBe(0);
  });
});
