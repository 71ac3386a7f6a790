#!/usr/bin/env node
// A TLS load client that can present a client certificate (wrk and
// autocannon cannot). Two modes, each for a bounded duration:
//   keep-alive: C connections, one GET in flight on each (as wrk), answers counted;
//   handshake:  C loops of "new connection (full handshake, no session
//               resumption), one GET with Connection: close, read the answer, close".
// Prints one JSON line: { requests, connections, non2xx, errors, seconds }.
// Usage: node bench/tls/load.mjs --port P --seconds S --connections C --mode keep-alive|handshake
//        [--ca FILE] [--cert FILE --key FILE] [--path /] [--servername NAME]
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : d; };
const port = Number(opt('--port', 18180));
const seconds = Number(opt('--seconds', 5));
const conns = Number(opt('--connections', 64));
const mode = opt('--mode', 'keep-alive');
const reqPath = opt('--path', '/');
const servername = opt('--servername', 'localhost');
const read = (f) => (f ? readFileSync(f) : undefined);
const base = { host: '127.0.0.1', port, servername, ca: read(opt('--ca')), cert: read(opt('--cert')), key: read(opt('--key')), rejectUnauthorized: true };
const keepAlive = mode !== 'handshake';
const request = Buffer.from(`GET ${reqPath} HTTP/1.1\r\nHost: ${servername}\r\nUser-Agent: portcullis-tls-load\r\n${keepAlive ? '' : 'Connection: close\r\n'}\r\n`, 'latin1');

let requests = 0;
let connections = 0;
let non2xx = 0;
let errors = 0;
let running = true;
const started = process.hrtime.bigint();
const until = Date.now() + seconds * 1000;

/**
 * Counts complete answers in a byte stream of HTTP/1.1 responses framed by
 * Content-Length (what the gateway and nginx send for the upstream's fixed
 * body). Returns the bytes not yet part of a whole answer.
 */
function consume(buf, onAnswer) {
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', 0, 'latin1');
    if (end < 0) return buf;
    const head = buf.toString('latin1', 0, end);
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const len = m ? Number(m[1]) : 0;
    if (buf.length < end + 4 + len) return buf;
    onAnswer(head.charCodeAt(9) === 50); // '2' of "HTTP/1.1 2xx"
    buf = buf.subarray(end + 4 + len);
  }
}

function keepAliveLoop() {
  return new Promise((resolve) => {
    const s = tls.connect(base);
    let pending = Buffer.alloc(0);
    s.setNoDelay(true);
    s.once('secureConnect', () => { connections++; s.write(request); });
    s.on('data', (chunk) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      pending = consume(pending, (ok) => {
        requests++;
        if (!ok) non2xx++;
        if (running && Date.now() < until) s.write(request);
        else s.end();
      });
    });
    s.on('error', () => { errors++; });
    s.on('close', () => resolve());
  });
}

function oneConnection() {
  return new Promise((resolve) => {
    const s = tls.connect(base);
    let pending = Buffer.alloc(0);
    let answered = false;
    s.setNoDelay(true);
    s.once('secureConnect', () => { connections++; s.write(request); });
    s.on('data', (chunk) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      pending = consume(pending, (ok) => {
        answered = true;
        requests++;
        if (!ok) non2xx++;
        s.destroy();
      });
    });
    s.on('error', () => { if (!answered) errors++; });
    s.on('close', () => resolve());
  });
}

async function handshakeLoop() {
  while (running && Date.now() < until) await oneConnection();
}

const timer = setTimeout(() => { running = false; }, seconds * 1000 + 50);
// Every loop ends by the deadline; a stuck connection cannot hold the run past it.
const hard = setTimeout(() => { report(); process.exit(0); }, seconds * 1000 + 10_000);
await Promise.all(Array.from({ length: conns }, () => (keepAlive ? keepAliveLoop() : handshakeLoop())));
clearTimeout(timer);
clearTimeout(hard);
report();

function report() {
  const s = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`${JSON.stringify({ requests, connections, non2xx, errors, seconds: s })}\n`);
}
