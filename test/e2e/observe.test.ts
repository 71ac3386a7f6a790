// Observability end to end: the admin API lives only on its own listener,
// /metrics counts exactly what was sent, /config hides secrets, the admin
// token is enforced, POST /reload takes a good file and refuses a bad one,
// access-log lines are JSON without credentials, SIGUSR1 reopens the file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import * as jose from 'jose';
import { runCli, startGateway, tempDir, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { parseProm } from '../observe/prom-parse.js';
import { poll, randomSecret, request, sleep } from './util.js';

const adminUrl = (gw: RunningGateway) => String((JSON.parse(gw.logs.find((l) => l.includes('portcullis listening'))!) as { admin: string }).admin);

describe('admin API, metrics, config, reload and access log', () => {
  let up: TestUpstream;
  let gw: RunningGateway;
  let admin: string;
  const hsSecret = randomSecret(64);
  const adminToken = randomSecret(32);
  const password = randomSecret(16);
  const stdout: string[] = [];
  let config: (body: string) => Record<string, unknown>;
  const auth = { authorization: `Bearer ${adminToken}` };

  const hsToken = (sub: string) => new jose.SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(Buffer.from(hsSecret));

  beforeAll(async () => {
    up = await startUpstream();
    const hash = await runCli(['hash-password', password]);
    config = (body: string) => ({
      server: { listen: [{ host: '127.0.0.1', port: 0 }] },
      admin: { listen: { host: '127.0.0.1', port: 0 }, token_file: 'admin.token' },
      upstreams: { up: { targets: [up.url] } },
      authenticators: {
        hs: { type: 'jwt', algorithms: ['HS256'], secret: hsSecret },
        staff: { type: 'basic', users_file: 'users' },
      },
      routes: [
        { name: 'ping', match: { path: '/ping' }, anonymous: true, respond: { status: 200, body } },
        { name: 'api', match: { path_prefix: '/api' }, authenticate: ['hs'], upstream: 'up' },
        { name: 'staff', match: { path_prefix: '/staff' }, authenticate: ['staff'], upstream: 'up' },
      ],
    });
    gw = await startGateway(config('v1'), { dir: tempDir(), files: { 'admin.token': `${adminToken}\n`, users: `alice:${hash.stdout.trim()}\n` } });
    admin = adminUrl(gw);
    let buf = '';
    gw.proc.stdout!.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) { stdout.push(buf.slice(0, nl)); buf = buf.slice(nl + 1); }
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('the admin API is not on the public listener: /metrics, /config, /reload there are 404 from the route table', async () => {
    for (const [method, p] of [['GET', '/metrics'], ['GET', '/config'], ['POST', '/reload'], ['GET', '/healthz']] as const) {
      const r = await request(gw.url, p, { method, headers: auth });
      expect(r.status, p).toBe(404);
      expect(r.json).toEqual({ error: 'not_found', reason: 'route_not_found' });
      expect(r.body).not.toContain('portcullis_requests_total');
    }
  });

  it('the admin token is enforced for data endpoints (token_file), /healthz stays open', async () => {
    for (const h of [{}, { authorization: 'Bearer wrong' }, { authorization: `Basic ${adminToken}` }]) {
      const r = await request(admin, '/metrics', { headers: h });
      expect(r.status).toBe(401);
      expect(r.body).not.toContain('portcullis_');
      expect(r.headers['www-authenticate']).toBe('Bearer realm="portcullis-admin"');
    }
    expect((await request(admin, '/config')).status).toBe(401);
    expect((await request(admin, '/reload', { method: 'POST' })).status).toBe(401);
    expect((await request(admin, '/healthz')).status).toBe(200);
    expect((await request(admin, '/metrics', { headers: auth })).status).toBe(200);
  });

  it('/metrics counts exactly the requests sent, by route and status and by reason', async () => {
    const before = parseProm((await request(admin, '/metrics', { headers: auth })).body);
    const good = await hsToken('alice');
    const forged = await new jose.SignJWT({ sub: 'eve' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(Buffer.from(randomSecret(64)));
    const sent: [string, Record<string, string>, number][] = [
      ...Array.from({ length: 3 }, () => ['/ping', {}, 200] as [string, Record<string, string>, number]),
      ['/api/a', {}, 401], ['/api/b', {}, 401],
      ['/api/c', { authorization: `Bearer ${good}` }, 200],
      ['/api/d', { authorization: `Bearer ${forged}` }, 401],
      ['/api/e', { authorization: `Bearer ${forged}` }, 401],
      ['/api/f', { authorization: `Bearer ${forged}` }, 401],
      ['/nowhere', {}, 404],
    ];
    for (const [p, h, status] of sent) expect((await request(gw.url, p, { headers: h })).status, p).toBe(status);
    const expected: [string, Record<string, string>, number][] = [
      ['portcullis_requests_total', { route: 'ping', status: '200' }, 3],
      ['portcullis_requests_total', { route: 'api', status: '200' }, 1],
      ['portcullis_requests_total', { route: 'api', status: '401' }, 5],
      ['portcullis_requests_total', { route: '(no route)', status: '404' }, 1],
      ['portcullis_requests_by_reason_total', { reason: 'no_credentials', stage: 'authn' }, 2],
      ['portcullis_requests_by_reason_total', { reason: 'bad_signature', stage: 'authn' }, 3],
      ['portcullis_requests_by_reason_total', { reason: 'route_not_found', stage: 'route' }, 1],
      ['portcullis_authn_failures_total', { authenticator: 'hs', reason: 'bad_signature' }, 3],
      ['portcullis_upstream_requests_total', { upstream: 'up' }, 1],
    ];
    const delta = (m: ReturnType<typeof parseProm>) => expected.map(([n, l]) => (m.get(n, l) ?? 0) - (before.get(n, l) ?? 0));
    let after = parseProm((await request(admin, '/metrics', { headers: auth })).body);
    await poll(async () => {
      after = parseProm((await request(admin, '/metrics', { headers: auth })).body);
      return delta(after).every((d, i) => d === expected[i]![2]);
    }, 20, 100);
    expect(Object.fromEntries(expected.map(([n, l], i) => [`${n}${JSON.stringify(l)}`, delta(after)[i]]))).toEqual(
      Object.fromEntries(expected.map(([n, l, v]) => [`${n}${JSON.stringify(l)}`, v])),
    );
  });

  it('/config shows the effective config with the jwt secret and the admin token redacted', async () => {
    const r = await request(admin, '/config', { headers: auth });
    expect(r.status).toBe(200);
    expect(r.body).not.toContain(hsSecret);
    expect(r.body).not.toContain(adminToken);
    const c = r.json as { authenticators: Record<string, Record<string, unknown>>; admin: Record<string, unknown>; routes: { name: string }[] };
    expect(c.authenticators['hs']!['secret']).toBe('[redacted]');
    expect(c.authenticators['hs']!['algorithms']).toEqual(['HS256']);
    expect(c.admin['token_file']).toBe('admin.token');
    expect(c.routes.map((x) => x.name)).toEqual(['ping', 'api', 'staff']);
  });

  it('POST /reload swaps in a good file and refuses a bad one, keeping the running config', async () => {
    expect((await request(gw.url, '/ping')).body).toBe('v1');
    gw.writeConfig(config('v2'));
    const ok = await request(admin, '/reload', { method: 'POST', headers: auth });
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ ok: true, issues: [] });
    expect((await request(gw.url, '/ping')).body).toBe('v2');

    const bad = config('v3');
    (bad['routes'] as Record<string, unknown>[])[1]!['authenticate'] = ['nobody'];
    (bad['server'] as Record<string, unknown>)['treads'] = 2;
    gw.writeConfig(bad);
    const refused = await request(admin, '/reload', { method: 'POST', headers: auth });
    expect(refused.status).toBe(422);
    const issues = (refused.json as { ok: boolean; issues: string[] }).issues.join('\n');
    expect((refused.json as { ok: boolean }).ok).toBe(false);
    expect(issues).toMatch(/:\d+:\d+ server\.treads: unknown field "treads".*did you mean "threads"/);
    expect((await request(gw.url, '/ping')).body).toBe('v2');
    gw.writeConfig(config('v2'));
  });

  it('access-log lines on stdout are JSON and carry no token, password or query credential', async () => {
    const token = await hsToken('alice');
    const queryToken = randomSecret(20);
    const basicCred = Buffer.from(`alice:${password}`).toString('base64');
    const n = stdout.length;
    expect((await request(gw.url, '/api/with-token', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await request(gw.url, '/staff/with-password', { headers: { authorization: `Basic ${basicCred}` } })).status).toBe(200);
    expect((await request(gw.url, `/api/with-query?access_token=${queryToken}&x=1`)).status).toBe(401);
    const seen = await poll(async () => stdout.slice(n).filter((l) => l.includes('/with-')).length >= 3, 40, 100);
    expect(seen).toBe(true);
    const lines = stdout.slice(n).filter((l) => l.trim() !== '');
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const mine = entries.filter((e) => String(e['path']).includes('/with-'));
    expect(mine.map((e) => [e['path'], e['status'], e['route']])).toEqual([
      ['/api/with-token', 200, 'api'],
      ['/staff/with-password', 200, 'staff'],
      ['/api/with-query', 401, 'api'],
    ]);
    expect(mine[0]!['consumer']).toBe('alice');
    expect(mine[1]!['authenticator']).toBe('staff');
    expect(mine[2]!['reason']).toBe('no_credentials');
    expect(mine[2]!['authenticator']).toBe('hs');
    const all = lines.join('\n');
    for (const secret of [token, token.split('.')[2]!, password, basicCred, queryToken, 'access_token']) expect(all).not.toContain(secret);
  });
});

describe('access log to a file', () => {
  let up: TestUpstream;
  let gw: RunningGateway;
  let dir: string;

  beforeAll(async () => {
    up = await startUpstream();
    dir = tempDir();
    gw = await startGateway({
      server: { listen: [{ host: '127.0.0.1', port: 0 }] },
      access_log: { path: 'access.log' },
      upstreams: { up: { targets: [up.url] } },
      routes: [{ name: 'all', match: { path_prefix: '/' }, anonymous: true, upstream: 'up' }],
    }, { dir });
  });

  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('SIGUSR1 reopens the file after logrotate moved it', async () => {
    const file = path.join(dir, 'access.log');
    const rotated = path.join(dir, 'access.log.1');
    expect((await request(gw.url, '/before-rotate')).status).toBe(200);
    expect(await poll(async () => existsSync(file) && readFileSync(file, 'utf8').includes('/before-rotate'), 40, 100)).toBe(true);
    renameSync(file, rotated);
    gw.proc.kill('SIGUSR1');
    await gw.waitForLog(/access log reopened/, 5000);
    expect((await request(gw.url, '/after-rotate')).status).toBe(200);
    expect(await poll(async () => existsSync(file) && readFileSync(file, 'utf8').includes('/after-rotate'), 40, 100)).toBe(true);
    await sleep(200);
    const old = readFileSync(rotated, 'utf8');
    const fresh = readFileSync(file, 'utf8');
    expect(old).toContain('/before-rotate');
    expect(old).not.toContain('/after-rotate');
    expect(fresh).not.toContain('/before-rotate');
    for (const l of fresh.trim().split('\n')) expect(() => JSON.parse(l)).not.toThrow();
  });
});
