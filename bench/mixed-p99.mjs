#!/usr/bin/env node
// Does the slow path hurt the other routes? One gateway with two routes: a
// pass-through route paced at a fixed rate (bench/lib/paced.mjs) and a route
// whose every request is an uncached external-authz callout, loaded flat out
// by wrk. The pass route's p50/p99 are measured alone, then under the authz
// load, for each gateway build given (alternating rounds, same layout as the
// bench: load on CPU 0, gateway + authz service on CPU 1).
// Usage: node bench/mixed-p99.mjs [--cli dist/cli.js[,other/dist/cli.js]] [--rounds 2] [--seconds 3] [--rate 400]
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { runPaced } from './lib/paced.mjs';
import { CLI, PORTS, startAuthzService, startPortcullis, startUpstream } from './lib/servers.mjs';
import { ensureTools } from './lib/system.mjs';
import { runWrk, writeLua } from './lib/wrk.mjs';

const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : d; };
const clis = opt('--cli', CLI).split(',').map((p) => path.resolve(p));
const rounds = Number(opt('--rounds', 2));
const seconds = Number(opt('--seconds', 3));
const rate = Number(opt('--rate', 400));
const log = (s) => process.stderr.write(`${s}\n`);

const tools = ensureTools(['taskset', 'wrk', 'nginx'], log);
const prefix = mkdtempSync(path.join(os.tmpdir(), 'portcullis-mixed-'));
const upstream = await startUpstream(tools.nginx, prefix);
const authz = await startAuthzService(prefix);
const config = {
  server: { listen: [{ host: '127.0.0.1', port: PORTS.gateway }], threads: 1, limits: { idle_timeout: '120s' } },
  upstreams: { up: { targets: [`http://127.0.0.1:${PORTS.upstream}`], connections: 128 } },
  access_log: { enabled: false },
  authorizers: { az: { url: `http://127.0.0.1:${PORTS.authz}/authz`, timeout: '1s' } },
  routes: [
    { name: 'authz', match: { path_prefix: '/authz' }, anonymous: true, authorize: { external: 'az' }, upstream: 'up' },
    { name: 'pass', match: { path_prefix: '/' }, anonymous: true, upstream: 'up' },
  ],
};
const lua = writeLua(prefix, 'mixed', {});
const ms = (us) => (us / 1000).toFixed(2);
const results = [];
for (let r = 0; r < rounds; r++) {
  for (const cli of clis) {
    const gw = await startPortcullis(config, prefix, `mixed-${r}`, { cli });
    const url = `http://127.0.0.1:${PORTS.gateway}`;
    await runPaced({ url: `${url}/api/orders`, rate, seconds: 1, connections: 8 });
    const alone = await runPaced({ url: `${url}/api/orders`, rate, seconds, connections: 8 });
    const load = runWrk({ wrk: tools.wrk, url: `${url}/authz/x`, lua, seconds: seconds + 2, connections: 32 });
    await new Promise((res) => setTimeout(res, 1000));
    const mixed = await runPaced({ url: `${url}/api/orders`, rate, seconds, connections: 8 });
    const w = await load;
    await gw.stop();
    const row = { cli, round: r, alone: { p50: alone.p50, p99: alone.p99 }, mixed: { p50: mixed.p50, p99: mixed.p99 }, authzRps: Math.round(w.rps) };
    results.push(row);
    log(`${cli} round ${r}: pass alone p50 ${ms(alone.p50)} ms p99 ${ms(alone.p99)} ms | under ${row.authzRps} req/s of uncached authz: p50 ${ms(mixed.p50)} ms p99 ${ms(mixed.p99)} ms`);
  }
}
await authz.stop();
upstream.kill('SIGTERM');
rmSync(prefix, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify(results, null, 1)}\n`);
