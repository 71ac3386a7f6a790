// The processes a bench run starts: the nginx upstream (CPU 0), and on CPU 1
// (the sets are CPUS in system.mjs; options move them on a bigger machine)
// the system under test — Portcullis, or a peer (nginx proxy, HAProxy, the
// Node gateways fastify and fast-gateway from bench/peers/). Each
// is started as the current user with its own config and prefix in a temp
// dir, on fixed ports on 127.0.0.1, and stopped at the end.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { processTree } from './proc.mjs';
import { CPUS, cpuSet, spawnPinned, stopChild, waitPort } from './system.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'dist', 'cli.js');

// Fixed ports below the kernel's ephemeral range (32768+), so 10k client
// connections never hold one of them as a source port. PORTCULLIS_BENCH_PORT_BASE
// moves them all (default 18180), so two benches on one machine do not collide.
const PORT_BASE = Number(process.env.PORTCULLIS_BENCH_PORT_BASE ?? 18180);
if (!Number.isInteger(PORT_BASE) || PORT_BASE < 1024 || PORT_BASE > 32700) throw new Error(`PORTCULLIS_BENCH_PORT_BASE=${process.env.PORTCULLIS_BENCH_PORT_BASE}: give a port number from 1024 to 32700`);
export const PORTS = {
  upstream: PORT_BASE + 1,
  gateway: PORT_BASE,
  nginx: PORT_BASE + 2,
  fastify: PORT_BASE + 3,
  fastgw: PORT_BASE + 4,
  haproxy: PORT_BASE + 10, // + offset per frontend
  authz: PORT_BASE + 5,
  admin: PORT_BASE + 6,
};

/** ~100-byte JSON answer of the upstream. */
export const UPSTREAM_BODY = '{"ok":true,"service":"bench-upstream","message":"hello from the upstream","items":[1,2,3]}';
export const BIG_BYTES = 1 << 20;

const isRoot = process.getuid?.() === 0;

function nginxCommon(prefix, name, workers = 1) {
  mkdirSync(path.join(prefix, 'tmp'), { recursive: true });
  return `
${isRoot ? 'user root root;' : ''}
worker_processes ${workers};
worker_rlimit_nofile 20000;
daemon off;
pid ${prefix}/${name}.pid;
error_log ${prefix}/${name}-error.log warn;
events { worker_connections 19000; multi_accept on; }
`;
}

function nginxHttpCommon(prefix) {
  return `
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  client_max_body_size 4m;
  client_body_buffer_size 2m;
  sendfile on;
`;
}

async function startAndWait(child, port, what, logFile) {
  let err = '';
  child.stderr?.on('data', (c) => { err += c; });
  child.stdout?.on('data', () => {});
  const why = () => {
    const lines = err.trim().split('\n').filter(Boolean);
    const bad = lines.filter((l) => /ALERT|emerg|error/i.test(l));
    return (bad.length ? bad : lines.slice(-2)).join(' | ').slice(0, 400);
  };
  const exited = new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`${what} exited (${code}): ${why()}${logFile ? ` (see ${logFile})` : ''}`))));
  await Promise.race([waitPort(port), exited]);
  child.removeAllListeners('exit');
  return child;
}

/** nginx `return 200` upstream (and /big: a 1 MiB file), pinned to CPU 0. */
export async function startUpstream(nginx, prefix) {
  mkdirSync(path.join(prefix, 'www'), { recursive: true });
  writeFileSync(path.join(prefix, 'www', 'big.bin'), Buffer.alloc(BIG_BYTES, 120));
  const conf = path.join(prefix, 'upstream.conf');
  writeFileSync(conf, `${nginxCommon(prefix, 'upstream', CPUS.upstreamWorkers)}
http {
${nginxHttpCommon(prefix)}
  server {
    listen 127.0.0.1:${PORTS.upstream} backlog=4096;
    default_type application/json;
    location = /big { alias ${prefix}/www/big.bin; default_type application/octet-stream; }
    location / { return 200 '${UPSTREAM_BODY}'; }
  }
}
`);
  const child = spawnPinned(CPUS.load, nginx, ['-p', prefix, '-c', conf]);
  return startAndWait(child, PORTS.upstream, 'nginx upstream', path.join(prefix, 'upstream-error.log'));
}

/**
 * nginx as a peer proxy on CPU 1: / pass-through (upstream keepalive), /deny
 * (403 for 127.0.0.1), /limited (limit_req, 429), /authz (auth_request to the
 * Node authz service on every request: nginx has no decision cache).
 */
export async function startNginxPeer(nginx, prefix) {
  const conf = path.join(prefix, 'peer-nginx.conf');
  const proxy = `proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Request-Id $request_id;`;
  writeFileSync(conf, `${nginxCommon(prefix, 'peer-nginx', CPUS.threads)}
http {
${nginxHttpCommon(prefix)}
  upstream up { server 127.0.0.1:${PORTS.upstream}; keepalive 128; keepalive_requests 10000000; keepalive_timeout 300s; }
  upstream authz { server 127.0.0.1:${PORTS.authz}; keepalive 64; }
  limit_req_zone $binary_remote_addr zone=tiny:1m rate=1r/m;
  server {
    listen 127.0.0.1:${PORTS.nginx} backlog=4096;
    location /deny { deny 127.0.0.0/8; ${proxy} }
    location /limited { limit_req zone=tiny burst=1 nodelay; limit_req_status 429; ${proxy} }
    location /authz { auth_request /_authz; ${proxy} }
    location = /_authz {
      internal;
      proxy_pass http://authz/authz;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
    }
    location / { ${proxy} }
  }
}
`);
  const child = spawnPinned(CPUS.sut, nginx, ['-p', prefix, '-c', conf]);
  await startAndWait(child, PORTS.nginx, 'nginx peer', path.join(prefix, 'peer-nginx-error.log'));
  return { child, pids: () => processTree(child.pid), stop: () => stopChild(child) };
}

/** HAProxy frontends, one port each (so no path ACL is evaluated per request). */
export const HAPROXY_FRONTENDS = ['pass', 'jwt-rs256', 'jwt-es256', 'jwt-hs256-sub', 'deny', 'limited'];
export const haproxyPort = (fe) => PORTS.haproxy + HAPROXY_FRONTENDS.indexOf(fe);

/**
 * HAProxy 2.6 as a peer on CPU 1 (nbthread 1). JWT frontends check what
 * Portcullis checks: alg allow-list, signature (jwt_verify), exp, iss, aud,
 * and forward `sub` as x-user-id; every frontend adds X-Forwarded-For.
 */
export async function startHaproxy(haproxy, prefix, t) {
  const conf = path.join(prefix, 'haproxy.cfg');
  const jwt = (alg, key) => `
  http-request set-var(txn.bearer) http_auth_bearer
  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('$.alg')
  http-request deny deny_status 401 unless { var(txn.alg) -m str ${alg} }
  http-request deny deny_status 401 unless { var(txn.bearer),jwt_verify(txn.alg,"${key}") -m int 1 }
  http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('$.exp','int')
  http-request set-var(txn.now) date()
  http-request deny deny_status 401 unless { var(txn.exp),sub(txn.now) -m int gt 0 }
  http-request deny deny_status 401 unless { var(txn.bearer),jwt_payload_query('$.iss') -m str ${t.issuer} }
  http-request deny deny_status 401 unless { var(txn.bearer),jwt_payload_query('$.aud') -m str ${t.audience} }
  http-request set-header x-user-id %[var(txn.bearer),jwt_payload_query('$.sub')]`;
  const fe = (name, body) => `
frontend ${name}
  bind 127.0.0.1:${haproxyPort(name)}
${body}
  default_backend up
`;
  writeFileSync(conf, `global
  nbthread ${CPUS.threads}
  maxconn 9000
  pidfile ${prefix}/haproxy.pid

defaults
  mode http
  timeout connect 2s
  timeout client 300s
  timeout server 30s
  timeout http-keep-alive 300s
  option http-keep-alive
  option forwardfor
  http-reuse always

backend up
  server up1 127.0.0.1:${PORTS.upstream} maxconn 1000

backend st_sub
  stick-table type string len 64 size 1m expire 60s store http_req_rate(1s)

backend st_ip
  stick-table type ip size 100k expire 300s store http_req_rate(300s)
${fe('pass', '')}
${fe('jwt-rs256', jwt('RS256', t.rsPub))}
${fe('jwt-es256', jwt('ES256', t.esPub))}
${fe('jwt-hs256-sub', `${jwt('HS256', t.hsSecret)}
  http-request set-var(txn.sub) var(txn.bearer),jwt_payload_query('$.sub')
  http-request track-sc0 var(txn.sub) table st_sub
  http-request deny deny_status 429 if { sc_http_req_rate(0) gt 100000000 }`)}
${fe('deny', '  http-request deny deny_status 403 if { src 127.0.0.0/8 }')}
${fe('limited', `  http-request track-sc0 src table st_ip
  http-request deny deny_status 429 if { sc_http_req_rate(0) gt 1 }`)}
`);
  const child = spawnPinned(CPUS.sut, haproxy, ['-db', '-f', conf]);
  await startAndWait(child, haproxyPort('pass'), 'haproxy');
  return { child, pids: () => processTree(child.pid), stop: () => stopChild(child) };
}

/**
 * The Node gateways people use today as peers on CPU 1, one process each (a
 * single JS thread, no cluster): bench/peers/fastify-gateway.mjs (fastify 5 +
 * @fastify/reply-from + @fastify/jwt) and bench/peers/fast-gateway.mjs
 * (fast-gateway + fast-jwt). `/…` passes through, `/jwt/…` verifies RS256
 * (issuer, audience, exp) before proxying. `which` is 'fastify' or 'fast-gateway'.
 */
export const NODE_PEERS = {
  fastify: { file: 'fastify-gateway.mjs', port: PORTS.fastify },
  'fast-gateway': { file: 'fast-gateway.mjs', port: PORTS.fastgw },
};
export async function startNodePeer(which, t) {
  const peer = NODE_PEERS[which];
  if (!peer) throw new Error(`unknown Node peer ${which}`);
  const child = spawnPinned(CPUS.sut, process.execPath, [path.join(ROOT, 'bench', 'peers', peer.file),
    '--port', String(peer.port), '--upstream', `http://127.0.0.1:${PORTS.upstream}`,
    '--public-key', t.rsPub, '--issuer', t.issuer, '--audience', t.audience], { env: { ...process.env, NODE_ENV: 'production' } });
  await startAndWait(child, peer.port, which);
  return { child, pids: () => [child.pid], stop: () => stopChild(child) };
}

/**
 * Portcullis with `config` (an object written as YAML) on CPU `cpus`.
 * Resolves when it logs "portcullis listening"; rejects with its problems otherwise.
 */
export async function startPortcullis(config, prefix, name, { cpus = 'sut', env = {}, nodeArgs = [], cli = CLI } = {}) {
  const file = path.join(prefix, `portcullis-${name}.yaml`);
  writeFileSync(file, stringify(config));
  const child = spawnPinned(cpuSet(cpus), process.execPath, ['--no-allocation-site-pretenuring', ...nodeArgs, cli, 'start', '--config', file], {
    cwd: prefix,
    env: { ...process.env, PORTCULLIS_LOG_FORMAT: 'json', ...env },
  });
  let out = '';
  const onData = (c) => { out += c; };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`portcullis did not start within 20 s: ${out.slice(-600)}`)); }, 20_000);
    const check = () => {
      if (out.includes('portcullis listening')) { clearTimeout(t); resolve(); }
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`portcullis exited (${code}): ${problems(out)}`)); });
  });
  child.removeAllListeners('exit');
  // Keep draining its output (access log lines would otherwise fill the pipe and block it).
  return { child, file, pids: () => [child.pid], stop: () => stopChild(child, 5000), output: () => out };
}

/** The gateway's complaint in one line (config problems or the error it logged). */
function problems(out) {
  const lines = out.trim().split('\n').filter(Boolean);
  const msgs = [];
  for (const l of lines) {
    try {
      const j = JSON.parse(l);
      msgs.push([j.msg, j.error, ...(j.problems ?? [])].filter(Boolean).join(': '));
    } catch { msgs.push(l.trim()); }
  }
  return msgs.join(' | ').slice(0, 600);
}

/**
 * The external authorization service: Node's http answering 200 with a small
 * JSON body (at /introspect: an active RFC 7662 answer, the introspection rows). Pinned to CPU 1 beside the proxy that calls it, and its CPU is
 * counted with that proxy's (nginx auth_request calls it on every request;
 * Portcullis with a warm decision cache almost never).
 */
export async function startAuthzService(prefix) {
  const file = path.join(prefix, 'authz-service.mjs');
  writeFileSync(file, `import http from 'node:http';
let n = 0;
const body = '{"headers":{"x-authz":"ok"}}';
// /introspect: RFC 7662 answer, active for every token (the bench measures the trip, not the judgement).
const active = JSON.stringify({ active: true, sub: 'alice', client_id: 'bench', exp: Math.floor(Date.now() / 1000) + 86400 * 30 });
const srv = http.createServer((req, res) => {
  n++;
  req.resume();
  const b = req.url === '/introspect' ? active : body;
  req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': b.length }); res.end(b); });
});
srv.keepAliveTimeout = 300000;
srv.listen(${PORTS.authz}, '127.0.0.1');
process.on('SIGUSR2', () => process.stderr.write('calls ' + n + '\\n'));
`);
  const child = spawnPinned(CPUS.sut, process.execPath, [file]);
  await startAndWait(child, PORTS.authz, 'authz service');
  return { child, pids: () => [child.pid], stop: () => stopChild(child) };
}
