// `portcullis check --config FILE`: exit 0 on a good file; exit 1 with every
// problem listed as `path: what is wrong` (and a did-you-mean where it helps).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli, tempDir } from '../helpers/gateway.js';

const dir = tempDir('portcullis-check-');

function file(name: string, content: object | string): string {
  const p = path.join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : stringify(content));
  return p;
}

const GOOD = {
  server: { listen: [{ host: '127.0.0.1', port: 0 }], limits: { request_timeout: '5s', max_body: '2MiB' } },
  upstreams: { orders: { targets: ['http://127.0.0.1:9001'], timeout: '250ms' } },
  routes: [
    { name: 'orders', match: { path_prefix: '/orders', methods: ['GET'] }, anonymous: true, upstream: 'orders', strip_prefix: true },
    { name: 'ping', match: { path: '/ping' }, anonymous: true, respond: { status: 200, body: 'pong' } },
  ],
};

/** Runs check on a config object; returns exit code and everything printed. */
async function check(name: string, cfg: object | string): Promise<{ code: number | null; out: string }> {
  const r = await runCli(['check', '--config', file(name, cfg)]);
  return { code: r.code, out: r.stdout + r.stderr };
}

function withRoutes(routes: object[], extra: object = {}): object {
  return { ...GOOD, routes, ...extra };
}

describe('portcullis check', () => {
  it('exits 0 on a good file and says so', async () => {
    const r = await check('good.yaml', GOOD);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ok/);
    expect(r.out).toMatch(/2 routes/);
  });

  it('accepts the same config written as JSON', async () => {
    const r = await check('good.json', JSON.stringify(GOOD));
    expect(r.code).toBe(0);
  });

  it('names an unknown upstream with a did-you-mean', async () => {
    const r = await check('unknown-upstream.yaml', withRoutes([
      { name: 'orders', match: { path_prefix: '/orders' }, anonymous: true, upstream: 'ordres' },
    ]));
    expect(r.code).toBe(1);
    expect(r.out).toContain('routes[0].upstream');
    expect(r.out).toContain('ordres');
    expect(r.out).toMatch(/did you mean "orders"/);
  });

  it('refuses header names and values the gateway would write upstream as broken header lines', async () => {
    const r = await check('bad-headers.yaml', {
      ...GOOD,
      authenticators: { j: { type: 'jwt', algorithms: ['HS256'], secret: 'x'.repeat(32), forward_claims: { sub: 'x user' } } },
      routes: [{
        name: 'orders', match: { path_prefix: '/orders' }, authenticate: ['j'], upstream: 'orders',
        request_headers: { add: { 'x-ok': 'fine', 'bad name': 'v', 'x-b': 'line1\nX-Injected: yes', 'x-c': 'caf\u0119' }, remove: ['x:y'] },
      }],
    });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/authenticators\.j\.forward_claims\.sub: not a valid header name/);
    expect(r.out).toMatch(/routes\[0\]\.request_headers\.add\.bad name: not a valid header name/);
    expect(r.out).toMatch(/routes\[0\]\.request_headers\.add\.x-b: a header value cannot contain CR, LF/);
    expect(r.out).toMatch(/routes\[0\]\.request_headers\.add\.x-c: a header value cannot contain/);
    expect(r.out).toMatch(/routes\[0\]\.request_headers\.remove\[0\]: not a valid header name/);
    expect(r.out).not.toContain('x-ok');
  });

  it('refuses a route with neither authenticate nor anonymous', async () => {
    const r = await check('no-auth.yaml', withRoutes([
      { name: 'open-by-accident', match: { path_prefix: '/x' }, upstream: 'orders' },
    ]));
    expect(r.code).toBe(1);
    expect(r.out).toContain('routes[0]');
    expect(r.out).toMatch(/neither authenticate nor anonymous/);
  });

  it('names a bad duration and says how to write one', async () => {
    const r = await check('bad-duration.yaml', { ...GOOD, upstreams: { orders: { targets: ['http://127.0.0.1:9001'], timeout: '10 parsecs' } } });
    expect(r.code).toBe(1);
    expect(r.out).toContain('upstreams.orders.timeout');
    expect(r.out).toMatch(/not a duration/);
    expect(r.out).toMatch(/250ms/);
  });

  it('names an unknown key with a did-you-mean', async () => {
    const r = await check('unknown-key.yaml', { ...GOOD, server: { ...GOOD.server, treads: 2 } });
    expect(r.code).toBe(1);
    expect(r.out).toContain('server');
    expect(r.out).toContain('treads');
    expect(r.out).toMatch(/did you mean "threads"/);
  });

  it('lists every problem of a file at once', async () => {
    const r = await check('many.yaml', withRoutes([
      { name: 'a', match: { path_prefix: '/a' }, anonymous: true, upstream: 'ordres' },
      { name: 'b', match: { path_prefix: '/b' }, upstream: 'orders' },
      { name: 'c', match: { path_prefix: '/c' }, anonymous: true, upstream: 'nowhere' },
    ]));
    expect(r.code).toBe(1);
    expect(r.out).toContain('routes[0].upstream');
    expect(r.out).toContain('routes[1]');
    expect(r.out).toContain('routes[2].upstream');
    expect(r.out).toMatch(/3 problems/);
  });

  it('reports a YAML syntax error with its line', async () => {
    const r = await check('syntax.yaml', 'server:\n  listen: [ {host: x\n routes: -\n');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/YAML/);
    expect(r.out).toMatch(/line \d+/);
  });

  it('reports a missing file and how to pass one', async () => {
    const r = await runCli(['check', '--config', path.join(dir, 'does-not-exist.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/not found/);
    expect(r.stdout + r.stderr).toContain('does-not-exist.yaml');
  });

  it('prints nothing on stdout and no stack trace for a bad file', async () => {
    const r = await runCli(['check', '--config', file('quiet.yaml', withRoutes([{ name: 'b', match: { path: '/b' }, upstream: 'orders' }]))]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
