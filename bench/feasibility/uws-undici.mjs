// Minimal proxy: uWS in front, undici Pool.dispatch with a handler object.
// A floor for "uWS + undici" with none of the gateway's work (bench/feasibility.mjs).
import uWS from '@btc-vision/uwebsockets.js';
import { Pool } from 'undici';
const [port, upPort] = process.argv.slice(2).map(Number);
const pool = new Pool(`http://127.0.0.1:${upPort}`, { connections: 128, pipelining: 1 });
class H {
  constructor(res) { this.res = res; this.done = false; this.status = 0; this.raw = null; res.onAborted(() => { this.done = true; }); }
  onConnect() {}
  onHeaders(s, raw) { this.status = s; this.raw = raw; return true; }
  onData(c) { if (!this.done) { this.res.cork(() => { this.res.writeStatus(String(this.status)); for (let i = 0; i < this.raw.length; i += 2) { const n = this.raw[i].toString('latin1').toLowerCase(); if (n !== 'content-length' && n !== 'connection' && n !== 'date') this.res.writeHeader(this.raw[i], this.raw[i + 1]); } this.res.end(c); }); this.done = true; } return true; }
  onComplete() { if (!this.done) { this.done = true; this.res.cork(() => this.res.writeStatus(String(this.status)).end()); } }
  onError() { if (!this.done) { this.done = true; this.res.cork(() => this.res.writeStatus('502').end()); } }
}
uWS.App().any('/*', (res, req) => {
  const headers = [];
  req.forEach((k, v) => { if (k !== 'host' && k !== 'connection') headers.push(k, v); });
  headers.push('host', `127.0.0.1:${upPort}`);
  pool.dispatch({ path: req.getUrl(), method: req.getMethod().toUpperCase(), headers, blocking: false }, new H(res));
}).listen('127.0.0.1', port, (s) => { if (!s) process.exit(1); console.log('portcullis listening'); });
