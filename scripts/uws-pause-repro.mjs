#!/usr/bin/env node
// Reproduces the uWS v20.57.0 request-body backpressure limit the gateway works
// around (README "Known limit"): once res.resume() has been called, a later
// res.pause() no longer stops onData. A server pauses on every chunk and resumes
// 1 ms later; a local client uploads 300 MB. With working backpressure almost
// nothing arrives while paused; here most of the body does.
// Run: node scripts/uws-pause-repro.mjs   (loopback only, stops by itself)
import http from 'node:http';
import { createRequire } from 'node:module';

const uWS = createRequire(import.meta.url)('@btc-vision/uwebsockets.js');
const PORT = 39781;
let total = 0;
let whilePaused = 0;
let resumes = 0;
const app = uWS.App();
app.any('/*', (res) => {
  let gone = false;
  let paused = false;
  res.onAborted(() => { gone = true; });
  res.onData((ab, last) => {
    total += ab.byteLength;
    if (paused) whilePaused += ab.byteLength;
    if (last) { gone = true; res.cork(() => res.end('ok')); return; }
    if (!paused) {
      paused = true;
      res.pause();
      setTimeout(() => { if (!gone) { paused = false; resumes++; res.resume(); } }, 1);
    }
  });
});
app.listen('127.0.0.1', PORT, (ok) => {
  if (!ok) { console.error(`port ${PORT} busy`); process.exit(2); }
  const size = 300 * 1024 * 1024;
  const block = Buffer.alloc(64 * 1024, 1);
  const req = http.request({ host: '127.0.0.1', port: PORT, method: 'POST', path: '/', headers: { 'content-length': size } }, (r) => {
    r.resume();
    r.on('end', () => {
      console.log(`uploaded ${(total / 1048576).toFixed(0)} MiB; delivered while paused: ${(whilePaused / 1048576).toFixed(1)} MiB over ${resumes} pause/resume cycles`);
      console.log(whilePaused > 64 * 1024 * 1024 ? 'pause() after resume() does not hold: backpressure on request bodies is not effective' : 'pause() holds');
      process.exit(0);
    });
  });
  let sent = 0;
  const pump = () => { while (sent < size) { sent += block.length; if (!req.write(block)) { req.once('drain', pump); return; } } req.end(); };
  pump();
});
setTimeout(() => { console.error('timed out'); process.exit(1); }, 30_000).unref();
