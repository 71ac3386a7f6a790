// Holds N keep-alive connections open to 127.0.0.1:PORT while the bench loads
// the server through other connections. Run as a forked child (pinned to CPU
// 0 with the load generator). Each connection sends one request when opened
// and then one every ~5 s (uWS closes HTTP connections idle for 10 s), so the
// idle set costs the server ~N/5 requests per second — reported to the parent.
import net from 'node:net';

const [port, path, count] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4])];
const REQ = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
const socks = [];
let responses = 0;
let failed = 0;
let closed = 0;
let timer = null;

function open() {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.setNoDelay(true);
    let settled = false;
    const done = (ok) => { if (!settled) { settled = true; resolve(ok ? s : null); } };
    s.on('connect', () => s.write(REQ));
    s.on('data', () => { responses++; done(true); });
    s.on('error', () => { done(false); });
    s.on('close', () => { if (settled) closed++; done(false); });
    setTimeout(() => done(false), 10_000).unref();
  });
}

async function openAll() {
  const BATCH = 250;
  for (let i = 0; i < count; i += BATCH) {
    const got = await Promise.all(Array.from({ length: Math.min(BATCH, count - i) }, open));
    for (const s of got) { if (s) socks.push(s); else failed++; }
  }
  // Re-send on every socket over a 5 s cycle, a slice every 100 ms.
  let k = 0;
  timer = setInterval(() => {
    const per = Math.ceil(socks.length / 50);
    for (let j = 0; j < per && socks.length; j++) {
      const s = socks[k++ % socks.length];
      if (!s.destroyed) s.write(REQ);
    }
  }, 100);
}

process.on('message', async (m) => {
  if (m.type === 'open') {
    await openAll();
    process.send({ type: 'opened', open: socks.length, failed });
  } else if (m.type === 'stats') {
    process.send({ type: 'stats', open: socks.filter((s) => !s.destroyed).length, responses, closed, failed });
  } else if (m.type === 'close') {
    clearInterval(timer);
    for (const s of socks) s.destroy();
    process.send({ type: 'closed' }, () => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
