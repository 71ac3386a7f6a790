// `portcullis check --config FILE`: exit 0 on a good file; exit 1 with every
// problem listed as `path: what is wrong` (and a did-you-mean where it helps).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ROOT, runCli, tempDir } from '../helpers/gateway.js';

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

describe('check = start, in one pass, with file:line:column', () => {
  // One problem of each kind: schema (unknown field, bad duration), reference
  // (unknown upstream), compilation (bad CIDR) and a file that cannot be read.
  const ONE_OF_EACH = [
    'server:', //                                   1
    '  listen:', //                                 2
    '    - { host: 127.0.0.1, port: 0 }', //        3
    '  treads: 2', //                               4
    'admin:', //                                    5
    '  listen: { host: 127.0.0.1, port: 0 }', //    6
    '  token_file: no-such-token', //               7
    'upstreams:', //                                8
    '  orders:', //                                 9
    '    targets: [http://127.0.0.1:9001]', //     10
    '    timeout: 10 parsecs', //                  11
    'routes:', //                                  12
    '  - name: a', //                              13
    '    match: { path_prefix: /a }', //           14
    '    anonymous: true', //                      15
    '    upstream: ordres', //                     16
    '  - name: b', //                              17
    '    match: { path_prefix: /b }', //           18
    '    anonymous: true', //                      19
    '    authorize: { ip_allow: [10.0.0.0/33] }', // 20
    '    upstream: orders', //                     21
    '',
  ].join('\n');

  it('reports every kind of problem in one run, each at its line', async () => {
    const f = file('one-of-each.yaml', ONE_OF_EACH);
    const r = await runCli(['check', '--config', f]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^${f}:4:3 server\\.treads: unknown field "treads" \\(did you mean "threads"\\?\\)`)),
      expect.stringMatching(new RegExp(`^${f}:7:3 admin\\.token_file: cannot read .*no-such-token: ENOENT; create it`)),
      expect.stringMatching(new RegExp(`^${f}:11:5 upstreams\\.orders\\.timeout: "10 parsecs" is not a duration`)),
      expect.stringMatching(new RegExp(`^${f}:16:5 routes\\[0\\]\\.upstream: unknown upstream "ordres" \\(did you mean "orders"\\?\\)`)),
      expect.stringMatching(new RegExp(`^${f}:20:29 routes\\[1\\]\\.authorize\\.ip_allow\\[0\\]: "10\\.0\\.0\\.0/33" is not a CIDR`)),
      `portcullis: ${f}: 5 problems`,
    ]);
  });

  it('start refuses the same file with the same lines', async () => {
    const f = file('one-of-each-start.yaml', ONE_OF_EACH);
    const c = await runCli(['check', '--config', f]);
    const s = await runCli(['start', '--config', f]);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/: 5 problems\n$/);
    expect(s.stderr.replaceAll('one-of-each-start', 'X')).toBe(c.stderr.replaceAll('one-of-each-start', 'X'));
  });

  it('a reference to an entry the schema refused is not also called unknown', async () => {
    const r = await check('broken-entry.yaml', withRoutes(
      [{ name: 'a', match: { path_prefix: '/a' }, anonymous: true, upstream: 'orders' }],
      { upstreams: { orders: { targets: [] } } },
    ));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/upstreams\.orders\.targets: at least one target URL/);
    expect(r.out).not.toMatch(/unknown upstream/);
    expect(r.out).toMatch(/1 problem\n/);
  });

  it('an authenticator of an unknown type: named with a did-you-mean, and routes using it are not told it is unknown', async () => {
    const f = file('bad-type.yaml', [
      'authenticators:',
      '  corp: { type: jwtt, algorithms: [RS256] }',
      'routes:',
      '  - { name: a, match: { path: /a }, authenticate: [corp], authorize: { ip_allow: [300.1.1.1/8] }, respond: { status: 200 } }',
      '',
    ].join('\n'));
    const r = await runCli(['check', '--config', f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${f}:2:11 authenticators.corp.type: unknown type "jwtt" (did you mean "jwt"?); one of jwt, basic`);
    expect(r.stderr).toMatch(/routes\[0\]\.authorize\.ip_allow\[0\]: "300\.1\.1\.1\/8" is not a CIDR/);
    expect(r.stderr).not.toMatch(/unknown authenticator/);
    expect(r.stderr).toMatch(/2 problems\n$/);
  });

  it('points at the line in a JSON file too', async () => {
    const f = file('lines.json', '{\n  "routes": [\n    { "name": "a", "match": { "path": "/a" }, "anonymous": true, "upstream": "nope" }\n  ]\n}\n');
    const r = await runCli(['check', '--config', f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^${f}:3:\\d+ routes\\[0\\]\\.upstream: unknown upstream "nope"`, 'm'));
  });
});

describe('check reads every file start reads', () => {
  it('an unreadable admin.token_file and an access log in a missing directory fail check as they fail start', async () => {
    const cfg = {
      ...GOOD,
      admin: { listen: { host: '127.0.0.1', port: 0 }, token_file: 'absent-token' },
      access_log: { path: 'no-such-dir/access.log' },
    };
    const f = file('files.yaml', cfg);
    const c = await runCli(['check', '--config', f]);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/admin\.token_file: cannot read .*absent-token: ENOENT/);
    expect(c.stderr).toMatch(/access_log\.path: directory .*no-such-dir does not exist/);
    const s = await runCli(['start', '--config', f]);
    expect(s.code).toBe(1);
    expect(s.stderr).toBe(c.stderr);
  });

  it('a token file that exists passes both', async () => {
    writeFileSync(path.join(dir, 'present-token'), 'x'.repeat(40) + '\n');
    const r = await check('token-ok.yaml', { ...GOOD, admin: { listen: { host: '127.0.0.1', port: 0 }, token_file: 'present-token' } });
    expect(r.out).toMatch(/ok/);
    expect(r.code).toBe(0);
  });
});

describe('the embedded default in a fresh clone', () => {
  it('passes check before anything has made the demo key', async () => {
    // A fresh clone after the build: the package's files, no .demo/.
    const clone = tempDir('portcullis-fresh-');
    cpSync(path.join(ROOT, 'dist'), path.join(clone, 'dist'), { recursive: true });
    cpSync(path.join(ROOT, 'native-config'), path.join(clone, 'native-config'), { recursive: true });
    cpSync(path.join(ROOT, 'package.json'), path.join(clone, 'package.json'));
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(clone, 'node_modules'));
    expect(existsSync(path.join(clone, '.demo'))).toBe(false);
    const r = spawnSync(process.execPath, [path.join(clone, 'dist', 'cli.js'), 'check'], { cwd: clone, encoding: 'utf8', timeout: 30_000, env: { ...process.env, PORTCULLIS_CONFIG: '' } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/portcullis\.yaml: ok/);
    expect(r.status).toBe(0);
    expect(existsSync(path.join(clone, '.demo', 'jwks.json'))).toBe(true);
  });
});
