#!/usr/bin/env node
// The TLS listener rows, with the layout and conventions of
// bench/feasibility.mjs: the nginx upstream and the load client on CPU 0, the
// system under test on CPU 1, its CPU time read from /proc just before and
// after each timed run, rounds interleaved so the machine's drift hits every
// system alike, ratios taken within a round against a baseline of the same run.
// The load client is bench/tls/load.mjs (wrk and autocannon cannot present a
// client certificate); every system gets the same client and the same load.
//
// Keep-alive rows (64 connections, one request in flight on each):
//   nginx-tls     nginx, TLS listener, pass-through (reference)
//   tls-pass      Portcullis, TLS listener, pass-through (the baseline)
//   mtls-pass     client certificate required, type: mtls identity, pass-through (target ≤ 1.05× tls-pass)
//   mtls-assert   mtls-pass + identity_assertion on the route (target ≤ 1.05× mtls-pass)
//   mtls-anon     the mtls-pass listener (certificate required and presented) and an
//                 anonymous route: what reading the certificate per request costs alone
// New connection per request (full handshake, no resumption; 16 loops):
//   nginx-tls-hs, tls-hs     server certificate only
//   nginx-mtls-hs, mtls-hs   client certificate verified too
// For these the figure is CPU µs per connection, and "handshake" is that
// minus the same system's keep-alive µs per request of the same round.
//
// Usage: node bench/tls.mjs [--rounds N] [--duration S] [--only a,b] [--cpu-prof DIR] [--port-base P]
// --port-base P (default 18280): gateway P, upstream P+1, nginx P+2 — apart from
// the other benches' fixed ports (18180…), so they cannot answer each other's load.
// --cpu-prof DIR: the Portcullis systems run under node --cpu-prof (profiles in DIR).
import { execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSplitOf, processTree } from './lib/proc.mjs';
import { PORTS, startPortcullis, startUpstream } from './lib/servers.mjs';
import { CPUS, ensureTools, launchPrefix, machine, spawnPinned, stopChild, versions, waitPort } from './lib/system.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : d; };
const rounds = Number(opt('--rounds', 3));
const seconds = Number(opt('--duration', 5));
const only = opt('--only', '')?.split(',').filter(Boolean) ?? [];
const profDir = opt('--cpu-prof', '');
const log = (s) => process.stderr.write(`${s}\n`);

const portBase = Number(opt('--port-base', 18280));
Object.assign(PORTS, { gateway: portBase, upstream: portBase + 1, nginx: portBase + 2 });
const tools = ensureTools(['taskset', 'nginx', 'openssl'], log);
if (!tools.nginx || !tools.openssl) { log('bench/tls: needs nginx and openssl'); process.exit(2); }
const prefix = mkdtempSync(path.join(os.tmpdir(), 'portcullis-tls-bench-'));
const pki = makePki(path.join(prefix, 'pki'));
const upstream = await startUpstream(tools.nginx, prefix);
const GW = PORTS.gateway;
const NG = PORTS.nginx;

function makePki(dir) {
  mkdirSync(dir, { recursive: true });
  const ossl = (a) => execFileSync(tools.openssl, a, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  ossl(['req', '-x509', ...ec, '-days', '2', '-subj', '/CN=bench CA', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', 'ca.key', '-out', 'ca.pem']);
  const leaf = (name, cn, ext) => {
    writeFileSync(path.join(dir, `${name}.ext`), `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n${ext}\n`);
    ossl(['req', '-new', ...ec, '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
    ossl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
  };
  leaf('server', 'localhost', 'extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1');
  leaf('device', 'device-1', 'extendedKeyUsage=clientAuth\nsubjectAltName=URI:spiffe://bench.example/device/1');
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  writeFileSync(path.join(dir, 'assertion.jwks.json'), JSON.stringify({ keys: [{ ...k, kid: 'bench-1' }] }), { mode: 0o600 });
  const f = (n) => path.join(dir, n);
  return { ca: f('ca.pem'), cert: f('server.crt'), key: f('server.key'), clientCert: f('device.crt'), clientKey: f('device.key'), jwks: f('assertion.jwks.json') };
}

const up = { up: { targets: [`http://127.0.0.1:${PORTS.upstream}`] } };
const tlsCfg = () => ({
  server: { listen: [{ host: '127.0.0.1', port: GW, tls: { cert: pki.cert, key: pki.key } }], threads: 1 },
  upstreams: up,
  routes: [{ name: 'pass', match: { path_prefix: '/' }, anonymous: true, upstream: 'up' }],
  access_log: { enabled: false },
});
const mtlsAnonCfg = () => ({
  ...tlsCfg(),
  server: { listen: [{ host: '127.0.0.1', port: GW, tls: { cert: pki.cert, key: pki.key, client_ca: pki.ca, client_cert: 'required' } }], threads: 1 },
});
const mtlsCfg = (assert) => ({
  server: { listen: [{ host: '127.0.0.1', port: GW, tls: { cert: pki.cert, key: pki.key, client_ca: pki.ca, client_cert: 'required' } }], threads: 1 },
  upstreams: up,
  authenticators: { devices: { type: 'mtls', consumer_from: 'san_uri', allow: { san_uri_prefix: ['spiffe://bench.example/device/'] } } },
  ...(assert ? { identity_assertion: { issuer: 'https://gateway.bench.example', algorithm: 'ES256', keys_file: pki.jwks, ttl: '60s' } } : {}),
  routes: [{ name: 'devices', match: { path_prefix: '/' }, authenticate: ['devices'], ...(assert ? { identity_assertion: true } : {}), upstream: 'up' }],
  access_log: { enabled: false },
});

/** nginx as the TLS peer on CPU 1: the same certificate, pass-through with upstream keep-alive. */
async function startNginxTls(verifyClient) {
  mkdirSync(path.join(prefix, 'tmp'), { recursive: true });
  const name = verifyClient ? 'nginx-mtls' : 'nginx-tls';
  const conf = path.join(prefix, `${name}.conf`);
  writeFileSync(conf, `${process.getuid?.() === 0 ? 'user root root;' : ''}
worker_processes ${CPUS.threads};
daemon off;
pid ${prefix}/${name}.pid;
error_log ${prefix}/${name}-error.log warn;
events { worker_connections 4096; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  upstream up { server 127.0.0.1:${PORTS.upstream}; keepalive 128; keepalive_requests 10000000; keepalive_timeout 300s; }
  server {
    listen 127.0.0.1:${NG} ssl backlog=4096;
    ssl_certificate ${pki.cert};
    ssl_certificate_key ${pki.key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ${verifyClient ? `ssl_client_certificate ${pki.ca};\n    ssl_verify_client on;` : ''}
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      ${verifyClient ? 'proxy_set_header X-Client-Cert-Subject $ssl_client_s_dn;' : ''}
    }
  }
}
`);
  const child = spawnPinned(CPUS.sut, tools.nginx, ['-p', prefix, '-c', conf]);
  child.stdout.on('data', () => {});
  child.stderr.on('data', (c) => process.stderr.write(c));
  await waitPort(NG);
  return { pids: () => processTree(child.pid), stop: () => stopChild(child) };
}

const nodeArgs = profDir ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(profDir)] : [];
const portcullis = (cfg, name) => () => startPortcullis(cfg, prefix, name, { nodeArgs });
const withClient = { clientCert: true };
const systems = [
  { id: 'nginx-tls', port: NG, mode: 'keep-alive', start: () => startNginxTls(false) },
  { id: 'tls-pass', port: GW, mode: 'keep-alive', start: portcullis(tlsCfg(), 'tls') },
  { id: 'mtls-anon', port: GW, mode: 'keep-alive', ...withClient, start: portcullis(mtlsAnonCfg(), 'mtls-anon') },
  { id: 'mtls-pass', port: GW, mode: 'keep-alive', ...withClient, start: portcullis(mtlsCfg(false), 'mtls') },
  { id: 'mtls-assert', port: GW, mode: 'keep-alive', ...withClient, start: portcullis(mtlsCfg(true), 'mtls-assert') },
  { id: 'nginx-tls-hs', port: NG, mode: 'handshake', keepAliveOf: 'nginx-tls', start: () => startNginxTls(false) },
  { id: 'tls-hs', port: GW, mode: 'handshake', keepAliveOf: 'tls-pass', start: portcullis(tlsCfg(), 'tls') },
  { id: 'nginx-mtls-hs', port: NG, mode: 'handshake', ...withClient, keepAliveOf: 'nginx-tls', start: () => startNginxTls(true) },
  { id: 'mtls-hs', port: GW, mode: 'handshake', ...withClient, keepAliveOf: 'mtls-pass', start: portcullis(mtlsCfg(false), 'mtls') },
].filter((s) => only.length === 0 || only.includes(s.id));

/** Runs bench/tls/load.mjs pinned to the load CPU; resolves its JSON line. */
function runLoad(s, secs) {
  const a = [path.join(HERE, 'tls', 'load.mjs'), '--port', String(s.port), '--seconds', String(secs), '--mode', s.mode,
    '--connections', String(s.mode === 'handshake' ? 16 : 64), '--ca', pki.ca,
    ...(s.clientCert ? ['--cert', pki.clientCert, '--key', pki.clientKey] : [])];
  const q = (x) => `'${String(x).replace(/'/g, `'\\''`)}'`;
  const child = spawn('bash', ['-c', `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${launchPrefix(CPUS.load)}${[process.execPath, ...a].map(q).join(' ')}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => { out += c; });
  child.stderr.on('data', (c) => { err += c; });
  const killer = setTimeout(() => child.kill('SIGKILL'), (secs + 30) * 1000);
  return new Promise((resolve, reject) => child.on('exit', (code) => {
    clearTimeout(killer);
    try { resolve(JSON.parse(out.trim().split('\n').pop())); } catch { reject(new Error(`load client failed (${code}): ${(err || out).slice(0, 400)}`)); }
  }));
}

const host = machine();
const v = versions(tools);
log(`host: ${host.cpu}, ${host.nproc} CPUs; node ${v.node}, ${v.uWebSockets}, nginx ${v.nginx}; load + upstream on CPU ${CPUS.load}, system under test on CPU ${CPUS.sut}`);
const results = new Map(systems.map((s) => [s.id, []]));
try {
  for (let r = 0; r < rounds; r++) {
    for (const s of systems) {
      const sys = await s.start();
      await runLoad(s, 1); // warm-up: JIT, the identity cache, a signed assertion
      const before = cpuSplitOf(sys.pids());
      const w = await runLoad(s, seconds);
      const after = cpuSplitOf(sys.pids());
      await sys.stop();
      const per = s.mode === 'handshake' ? w.connections : w.requests;
      const user = (after.user - before.user) / per;
      const sys_ = (after.sys - before.sys) / per;
      results.get(s.id).push({ us: user + sys_, user, sys: sys_, rps: w.requests / w.seconds, errors: w.errors + w.non2xx });
      log(`round ${r + 1} ${s.id.padEnd(14)} ${Math.round(w.requests / w.seconds).toString().padStart(6)} ${s.mode === 'handshake' ? 'conn/s' : 'req/s '}  ${(user + sys_).toFixed(1).padStart(7)} µs/${s.mode === 'handshake' ? 'conn' : 'req '} (user ${user.toFixed(1)}, sys ${sys_.toFixed(1)})${w.errors + w.non2xx ? `  errors ${w.errors} non-2xx ${w.non2xx}` : ''}`);
    }
  }
} finally {
  await stopChild(upstream);
}

const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const ratio = (id, base) => {
  const a = results.get(id);
  const b = results.get(base);
  return a && b ? med(a.map((x, i) => x.us / b[i].us)) : NaN;
};
const baseOf = { 'nginx-tls': 'tls-pass', 'tls-pass': 'tls-pass', 'mtls-anon': 'tls-pass', 'mtls-pass': 'tls-pass', 'mtls-assert': 'mtls-pass', 'nginx-tls-hs': 'tls-hs', 'tls-hs': 'tls-hs', 'nginx-mtls-hs': 'mtls-hs', 'mtls-hs': 'mtls-hs' };
console.log(`\nhost ${host.cpu} (${host.nproc} CPUs), node ${v.node}, ${v.uWebSockets}, nginx ${v.nginx}; ${rounds} rounds × ${seconds} s`);
console.log('system          median µs      (user / sys)     median req|conn/s   ratio (median of per-round)');
for (const s of systems) {
  const xs = results.get(s.id);
  const unit = s.mode === 'handshake' ? '/conn' : '/req ';
  const base = baseOf[s.id];
  const r = results.has(base) ? `${ratio(s.id, base).toFixed(2)}× ${base}` : '';
  let line = `${s.id.padEnd(15)}${med(xs.map((x) => x.us)).toFixed(1).padStart(8)} ${unit}  (${med(xs.map((x) => x.user)).toFixed(1)} / ${med(xs.map((x) => x.sys)).toFixed(1)})${Math.round(med(xs.map((x) => x.rps))).toString().padStart(14)}        ${r}`;
  const ka = results.get(s.keepAliveOf);
  if (s.mode === 'handshake' && ka) line += `   handshake ≈ ${med(xs.map((x, i) => x.us - ka[i].us)).toFixed(1)} µs (minus ${s.keepAliveOf} µs/req)`;
  console.log(line);
}
