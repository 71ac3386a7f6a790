#!/usr/bin/env node
// What reading the client certificate costs per request: uWS's
// res.getX509Certificate() (the pipeline calls it once per request on a
// listener with client_ca) beside res.getRemoteAddress() (the cheapest native
// call with a result) on one real mutual-TLS connection, in the handler.
// CPU time per call (process.cpuUsage), fastest of several rounds: on a
// shared machine interference only adds time.
// Usage: node bench/tls/x509-read.mjs [--calls N] [--rounds R]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine } from '../lib/system.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { default: uWS } = await import(path.join(ROOT, 'node_modules/@btc-vision/uwebsockets.js/uws.js'));
const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(n); return i >= 0 ? Number(args[i + 1]) : d; };
const CALLS = opt('--calls', 20_000);
const ROUNDS = opt('--rounds', 7);

const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-x509-'));
const ssl = (a) => execFileSync('openssl', a, { cwd: dir, stdio: 'ignore' });
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
ssl(['req', '-x509', ...ec, '-days', '2', '-subj', '/CN=ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-keyout', 'ca.key', '-out', 'ca.pem']);
for (const [n, ext] of [['server', 'extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1'], ['device', 'extendedKeyUsage=clientAuth\nsubjectAltName=URI:spiffe://bench.example/device/1']]) {
  writeFileSync(path.join(dir, `${n}.ext`), `${ext}\n`);
  ssl(['req', '-new', ...ec, '-subj', `/CN=${n}`, '-keyout', `${n}.key`, '-out', `${n}.csr`]);
  ssl(['x509', '-req', '-in', `${n}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${n}.ext`, '-out', `${n}.crt`]);
}
const f = (n) => path.join(dir, n);
let sink = null;
const cpuNsPerCall = (fn) => {
  const a = process.cpuUsage();
  for (let i = 0; i < CALLS; i++) sink = fn();
  const b = process.cpuUsage(a);
  return ((b.user + b.system) * 1000) / CALLS;
};
const best = { x509: Infinity, addr: Infinity };
const app = uWS.SSLApp({ cert_file_name: f('server.crt'), key_file_name: f('server.key'), ca_file_name: f('ca.pem') });
app.any('/*', (res) => {
  for (let r = 0; r < ROUNDS; r++) {
    best.x509 = Math.min(best.x509, cpuNsPerCall(() => res.getX509Certificate()));
    best.addr = Math.min(best.addr, cpuNsPerCall(() => res.getRemoteAddress()));
  }
  res.end(String(typeof sink));
});
app.listen('127.0.0.1', 0, (sock) => {
  const port = uWS.us_socket_local_port(sock);
  https.get({ host: '127.0.0.1', port, path: '/', ca: readFileSync(f('ca.pem')), cert: readFileSync(f('device.crt')), key: readFileSync(f('device.key')) }, (r) => {
    r.resume();
    r.on('end', () => {
      const m = machine();
      console.log(`host ${m.cpu} (${m.nproc} CPUs), node ${process.version}; ${CALLS} calls × ${ROUNDS} rounds, fastest round`);
      console.log(`res.getX509Certificate()  ${(best.x509 / 1000).toFixed(2)} µs/call (a ${readFileSync(f('device.crt'), 'utf8').length}-byte PEM)`);
      console.log(`res.getRemoteAddress()    ${(best.addr / 1000).toFixed(2)} µs/call (baseline native call)`);
      uWS.us_listen_socket_close(sock);
      process.exit(0);
    });
  });
});
