// Latency at a fixed request rate. wrk only runs flat out (latency at
// saturation is mostly queueing), and autocannon's `overallRate` is not a
// pacer: each connection sends its quota for the second back to back as the
// second starts, so its latency is that of a burst. So this is a small paced
// client: N keep-alive connections, each due to send every N/rate seconds
// (phases spread evenly), one request in flight per connection; latency is
// measured from the time a request was *due*, so a stall is not hidden by
// the sends it delayed (coordinated omission). Responses are framed by
// Content-Length (what the bench's upstream and the gateway send).
import net from 'node:net';
import autocannon from 'autocannon';
import hdr from 'hdr-histogram-js';

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

export async function runPaced({ url, rate, seconds, connections, headers = {} }) {
  const u = new URL(url);
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  const REQ = Buffer.from(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\n${extra}\r\n`);
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const period = (connections * 1e6) / rate; // µs between two sends on one connection
  let requests = 0;
  let non2xx = 0;
  let socketErrors = 0;
  const conns = [];
  await Promise.all(Array.from({ length: connections }, (_, i) => new Promise((resolve) => {
    const c = { sock: net.connect({ host: u.hostname, port: Number(u.port) }), due: 0, busy: false, buf: Buffer.alloc(0), need: -1, status: 0, dueAt: 0, ok: true };
    c.sock.setNoDelay(true);
    c.sock.once('connect', resolve);
    c.sock.on('error', () => { socketErrors++; c.ok = false; resolve(); });
    c.sock.on('data', (d) => {
      c.buf = c.buf.length ? Buffer.concat([c.buf, d]) : d;
      for (;;) {
        if (c.need < 0) {
          const end = c.buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = c.buf.toString('latin1', 0, end);
          c.status = Number(head.slice(9, 12));
          const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
          c.need = end + 4 + (m ? Number(m[1]) : 0);
        }
        if (c.buf.length < c.need) return;
        c.buf = c.buf.subarray(c.need);
        c.need = -1;
        h.recordValue(Math.max(1, nowUs() - c.dueAt));
        requests++;
        if (c.status >= 400) non2xx++;
        c.busy = false;
      }
    });
    conns.push(c);
    c.phase = (i * period) / connections;
  })));
  const t0 = nowUs();
  for (const c of conns) c.due = t0 + c.phase;
  const end = t0 + seconds * 1e6;
  await new Promise((resolve) => {
    const tick = () => {
      const t = nowUs();
      if (t >= end) { clearInterval(timer); return resolve(); }
      for (const c of conns) {
        if (!c.ok || c.busy || t < c.due) continue;
        c.busy = true;
        c.dueAt = c.due;
        c.due += period;
        c.sock.write(REQ);
      }
    };
    const timer = setInterval(tick, 0.5);
  });
  const elapsed = (nowUs() - t0) / 1e6;
  for (const c of conns) c.sock.destroy();
  const out = {
    requests, seconds: elapsed, rps: requests / elapsed,
    p50: h.getValueAtPercentile(50), p90: h.getValueAtPercentile(90), p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9), max: h.maxValue, socketErrors, non2xx,
  };
  h.destroy?.();
  return out;
}

/** autocannon flat out: the fallback generator when wrk cannot be installed. */
export async function runAutocannon({ url, seconds, connections, headers = {}, method = 'GET', body }) {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const inst = autocannon({ url, connections, duration: seconds, headers, method, body });
  let non2xx = 0;
  inst.on('response', (_c, status, _b, ms) => {
    h.recordValue(Math.max(1, Math.round(ms * 1000)));
    if (status >= 400) non2xx++;
  });
  const res = await new Promise((resolve, reject) => { inst.on('done', resolve); inst.on('error', reject); });
  const out = {
    requests: res.requests.total, seconds: res.duration, rps: res.requests.total / res.duration,
    p50: h.getValueAtPercentile(50), p90: h.getValueAtPercentile(90), p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9), max: h.maxValue, socketErrors: res.errors + res.timeouts, non2xx,
  };
  h.destroy?.();
  return out;
}
