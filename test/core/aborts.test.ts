// Clients that go away. uWS aborts the whole process when a response is left
// without onAborted, and throws when a finished or aborted response is touched;
// these tests hammer every async path with disconnects at every moment and
// prove the gateway is still alive and answering — and that a client abort
// cancels the upstream request.
import net from 'node:net';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { gatewayConfig, request, sleep, startLabUpstream, type LabUpstream } from './util.js';

let gw: RunningGateway;
let lab: LabUpstream;
let port: number;

beforeAll(async () => {
  lab = await startLabUpstream();
  gw = await startGateway(gatewayConfig({ lab: lab.url }, [
    { name: 'all', match: { path_prefix: '/' }, upstream: 'lab' },
  ], { limits: { max_body: '64MiB', request_timeout: '20s', idle_timeout: '5s' } }));
  port = gw.ports[0]!;
});

afterAll(async () => {
  await gw?.stop();
  await lab?.close();
});

/** Polls `cond` every 25 ms for at most `ms`. */
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(25);
  }
  return cond();
}

/** Opens a connection, writes `data`, then destroys it after `afterMs` (0 = as soon as written). */
function hitAndRun(data: string | Buffer, afterMs = 0, reset = false): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => resolve());
    s.on('close', () => resolve());
    s.on('connect', () => {
      s.write(data, () => {
        const kill = () => (reset ? s.resetAndDestroy() : s.destroy());
        if (afterMs === 0) kill();
        else setTimeout(kill, afterMs);
      });
    });
  });
}

function alive(): void {
  expect(gw.proc.exitCode).toBeNull();
  expect(gw.proc.signalCode).toBeNull();
}

describe('client aborts', () => {
  it('cancel the upstream request when the client disconnects while the upstream is slow', async () => {
    const abortedBefore = lab.abortedRequests();
    const arrivedBefore = lab.arrived();
    const sock = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => sock.on('connect', () => r()));
    sock.write('GET /slow?ms=10000 HTTP/1.1\r\nHost: gw\r\n\r\n');
    // Wait until the request is at the upstream, then leave.
    expect(await until(() => lab.arrived() > arrivedBefore, 3000)).toBe(true);
    sock.destroy();
    // The gateway aborts its upstream request: the upstream sees the socket close unanswered.
    expect(await until(() => lab.abortedRequests() > abortedBefore, 3000)).toBe(true);
    alive();
  });

  it('never crash the process: 200 clients send proxied request headers and disconnect at once', async () => {
    const reqs = [
      'GET /fast HTTP/1.1\r\nHost: gw\r\n\r\n',
      'GET /slow?ms=300 HTTP/1.1\r\nHost: gw\r\n\r\n',
      'GET /hang HTTP/1.1\r\nHost: gw\r\n\r\n',
      'POST /upload HTTP/1.1\r\nHost: gw\r\nContent-Length: 100000\r\n\r\npartial',
      'POST /upload HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n',
      'HEAD /fast HTTP/1.1\r\nHost: gw\r\n\r\n',
    ];
    for (let i = 0; i < 200; i++) {
      // Batches of 10 in parallel; alternate FIN and RST.
      if (i % 10 === 0) await Promise.all(Array.from({ length: 10 }, (_, k) => hitAndRun(reqs[(i + k) % reqs.length]!, 0, (i + k) % 2 === 1)));
    }
    await sleep(300);
    alive();
    const r = await request(`${gw.url}/still-here`);
    expect(r.status).toBe(200);
  });

  it('never crash the process: disconnects at staggered moments of slow upstream answers', async () => {
    const waits = [1, 5, 20, 50, 100];
    for (let i = 0; i < 40; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, k) => hitAndRun(`GET /slow?ms=${30 + ((i + k) % 4) * 20} HTTP/1.1\r\nHost: gw\r\n\r\n`, waits[(i + k) % waits.length]!, k % 2 === 0)));
    }
    await sleep(300);
    alive();
    expect((await request(`${gw.url}/still-here-2`)).status).toBe(200);
  });

  it('never crash the process: clients leave in the middle of a large download', async () => {
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => {
        const req = http.get(`${gw.url}/download?bytes=${8 * 1024 * 1024}`, { agent: false }, (res) => {
          let got = 0;
          res.on('data', (c: Buffer) => {
            got += c.length;
            if (got > 64 * 1024 * (1 + (i % 5))) req.destroy();
          });
        });
        req.on('error', () => resolve());
        req.on('close', () => resolve());
      });
    }
    await sleep(300);
    alive();
    const r = await request(`${gw.url}/download?bytes=1000000`);
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(1000000);
  });

  it('never crash the process: clients leave in the middle of an upload', async () => {
    const chunk = Buffer.alloc(64 * 1024, 7);
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.on('connect', () => {
          s.write(`POST /upload HTTP/1.1\r\nHost: gw\r\nContent-Length: ${10 * 1024 * 1024}\r\n\r\n`);
          for (let k = 0; k <= i % 8; k++) s.write(chunk);
          setTimeout(() => (i % 2 ? s.resetAndDestroy() : s.destroy()), 5 + (i % 3) * 10);
        });
      });
    }
    await sleep(300);
    alive();
    const r = await request(`${gw.url}/after-uploads`, { method: 'POST', body: Buffer.alloc(300_000, 1) });
    expect(r.status).toBe(200);
    expect(r.json().bytes).toBe(300_000);
  });

  it('leave nothing open toward the upstream: every request of a gone client was cancelled or finished', async () => {
    // 20 /hang requests were sent above; each must have been cancelled (the upstream never answers them).
    expect(await until(() => lab.open() === 0, 3000)).toBe(true);
  });
});
