// Minimal proxy: uWS in front, a hand-written keep-alive HTTP/1.1 client over
// net (Content-Length responses only, no validation). The floor for a
// purpose-built upstream client (bench/feasibility.mjs).
import uWS from '@btc-vision/uwebsockets.js';
import net from 'node:net';
const [port, upPort] = process.argv.slice(2).map(Number);
const idle = [];
function conn() {
  const s = net.connect(upPort, '127.0.0.1'); s.setNoDelay(true);
  s.cur = null; s.buf = null;
  s.on('data', (d) => {
    const b = s.buf ? Buffer.concat([s.buf, d]) : d; s.buf = null;
    const he = b.indexOf('\r\n\r\n'); if (he < 0) { s.buf = b; return; }
    const head = b.latin1Slice(0, he);
    const m = /content-length: *(\d+)/i.exec(head); const len = m ? Number(m[1]) : 0;
    if (b.length < he + 4 + len) { s.buf = b; return; }
    const res = s.cur; s.cur = null; idle.push(s);
    if (!res.done) {
      res.done = true;
      res.cork(() => { res.writeStatus(head.slice(9, 12)); const lines = head.split('\r\n'); for (let i = 1; i < lines.length; i++) { const c = lines[i].indexOf(':'); const n = lines[i].slice(0, c).toLowerCase(); if (n !== 'content-length' && n !== 'connection' && n !== 'date') res.writeHeader(n, lines[i].slice(c + 1).trim()); } res.end(b.subarray(he + 4, he + 4 + len)); });
    }
  });
  s.on('error', () => {}); s.on('close', () => { const r = s.cur; if (r && !r.done) { r.done = true; r.cork(() => r.writeStatus('502').end()); } });
  return s;
}
const BUSY = Number(process.env.FEAS_BUSY_US ?? 0) / 1000;
uWS.App().any('/*', (res, req) => {
  if (BUSY > 0) { const t = performance.now() + BUSY; while (performance.now() < t); }
  res.done = false; res.onAborted(() => { res.done = true; });
  let h = `${req.getMethod().toUpperCase()} ${req.getUrl()} HTTP/1.1\r\nhost: 127.0.0.1:${upPort}\r\n`;
  req.forEach((k, v) => { if (k !== 'host' && k !== 'connection') h += `${k}: ${v}\r\n`; });
  const s = idle.pop() ?? conn(); s.cur = res; s.write(h + '\r\n', 'latin1');
}).listen('127.0.0.1', port, (s) => { if (!s) process.exit(1); console.log('portcullis listening'); });
