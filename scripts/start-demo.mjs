#!/usr/bin/env node
// `npm start`: the demo. Builds if needed, makes a demo signing key (first run
// only, under .demo/, never committed), starts the bundled demo upstream and
// the gateway on the embedded default config, and prints what to try.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONFIG = process.env.PORTCULLIS_CONFIG ?? path.join(ROOT, 'native-config', 'portcullis.yaml');

// Build when dist/ is missing or older than any source file (installing no
// longer builds: after a git pull, npm start must not run stale code).
const newest = (dir) => readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
  const p = path.join(dir, e.name);
  return Math.max(m, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
}, 0);
const built = path.join(ROOT, 'dist', 'cli.js');
if (!existsSync(built) || statSync(built).mtimeMs < newest(path.join(ROOT, 'src'))) {
  const b = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}

// The demo key pair (made on first use by any command that needs it, dist/cli/demo-key.js).
const { ensureDemoKeys } = await import(path.join(ROOT, 'dist', 'cli', 'demo-key.js'));
const privJwk = await ensureDemoKeys();
const jose = await import('jose');
const key = await jose.importJWK(privJwk, 'RS256');
const sign = (claims) => new jose.SignJWT(claims)
  .setProtectedHeader({ alg: 'RS256', kid: privJwk.kid, typ: 'JWT' })
  .setIssuer('https://demo.portcullis.local/')
  .setAudience('demo-api')
  .setIssuedAt()
  .setExpirationTime('1h')
  .sign(key);
const euToken = await sign({ sub: 'alice', scope: 'orders:read orders:write', region: 'eu' });
const usToken = await sign({ sub: 'bob', scope: 'orders:read', region: 'us' });
const noScope = await sign({ sub: 'mallory', scope: 'profile', region: 'eu' });

const children = [];
const upstream = spawn(process.execPath, [path.join(ROOT, 'scripts', 'demo-upstream.mjs')], { stdio: ['ignore', 'inherit', 'inherit'] });
children.push(upstream);
const gateway = spawn(process.execPath, ['--no-allocation-site-pretenuring', path.join(ROOT, 'dist', 'cli.js'), 'start', '--config', CONFIG], { stdio: ['ignore', 'inherit', 'pipe'] });
children.push(gateway);

let printed = false;
gateway.stderr.on('data', (c) => {
  process.stderr.write(c);
  if (!printed && c.toString().includes('portcullis listening')) {
    printed = true;
    const gw = 'http://127.0.0.1:8080';
    process.stdout.write(`
Portcullis is running on ${gw} in front of the demo upstream (admin: http://127.0.0.1:9901/).

Demo tokens, valid for 1 hour (paste these three lines into your shell):
  export TOKEN=${euToken}
  export US_TOKEN=${usToken}
  export NOSCOPE_TOKEN=${noScope}

Try:
  curl -i ${gw}/ping                                            # 200 pong, answered by the gateway
  curl -i ${gw}/public/hello                                    # 200, anonymous, proxied (rate limited per IP)
  curl -i ${gw}/orders/42                                       # 401: no token
  curl -i ${gw}/orders/42 -H "Authorization: Bearer $TOKEN"     # 200 from demo-upstream-eu as alice (region eu)
  curl -i ${gw}/orders/42 -H "Authorization: Bearer $US_TOKEN"  # 200 from demo-upstream-us (route_by region)
  curl -i ${gw}/orders/42 -H "Authorization: Bearer $NOSCOPE_TOKEN"  # 403 missing_scope
  curl -i ${gw}/orders/42 -H "Authorization: Bearer \${TOKEN}AAAA"   # 401 bad_signature (signature altered)
  curl -i ${gw}/public/../internal/x --path-as-is               # 403: routed as /internal, never as /public
  curl -s http://127.0.0.1:9901/metrics | head                  # Prometheus metrics

Stop with Ctrl-C.
`);
  }
});

const stop = (sig) => { for (const c of children) c.kill(sig); };
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
gateway.on('exit', (code) => { upstream.kill('SIGTERM'); process.exit(code ?? 0); });
