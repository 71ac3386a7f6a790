// The upstream client's connection lifecycle: connect failures, timeouts,
// upstreams that vanish mid-response, the keep-alive race and its single
// retry, aborts from every callback, backpressure (pause/resume), request
// bodies, the connection limit, and closing the pool.
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  destroyPools, followUpConn, header, makePool, run, sleep, startRawServer, writeSlowly, type RawServer,
} from './harness.js';

let srv: RawServer;
beforeAll(async () => { srv = await startRawServer(); });
afterAll(async () => { await srv.close(); });
afterEach(async () => { await destroyPools(); srv.onAccept = null; });

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('connecting and timeouts', () => {
  it('reports ECONNREFUSED for a dead port', async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const pool = makePool(`http://127.0.0.1:${port}`);
    const out = await run(pool);
    expect(out.completed).toBe(false);
    expect(out.error?.code).toBe('ECONNREFUSED');
    expect(out.violations).toEqual([]);
  });

  it('times out with UND_ERR_CONNECT_TIMEOUT when the upstream never completes the handshake', async () => {
    // A listener whose accept queue (backlog 1) is full and whose event loop
    // is blocked: the kernel drops further SYNs, so connecting hangs.
    const child = spawn(process.execPath, ['-e', `
      const s = require('node:net').createServer();
      s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
        process.stdout.write(s.address().port + '\\n');
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 15000);
        process.exit(0);
      });`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const fillers: net.Socket[] = [];
    try {
      const port = await new Promise<number>((r) => child.stdout!.once('data', (d) => r(Number(String(d).trim()))));
      for (let i = 0; i < 8; i++) fillers.push(net.connect(port, '127.0.0.1').on('error', () => {}));
      await sleep(100);
      const pool = makePool(`http://127.0.0.1:${port}`, { connectTimeout: 200 });
      const out = await run(pool);
      expect(out.completed).toBe(false);
      expect(out.error?.code).toBe('UND_ERR_CONNECT_TIMEOUT');
      expect(out.violations).toEqual([]);
    } finally {
      for (const f of fillers) f.destroy();
      child.kill();
    }
  });

  it('times out with UND_ERR_HEADERS_TIMEOUT when the upstream never answers', async () => {
    srv.handler = () => {};
    const pool = makePool(srv, { headersTimeout: 200 });
    const out = await run(pool);
    expect(out.completed).toBe(false);
    expect(out.status).toBe(0);
    expect(out.error?.code).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect(await srv.waitClosed(srv.requests.at(-1)!.connId)).toBe(true);
  });

  it('times out with UND_ERR_HEADERS_TIMEOUT when the head stalls half-way', async () => {
    srv.handler = (req) => { req.socket.write('HTTP/1.1 200 OK\r\nContent-Le'); };
    const pool = makePool(srv, { headersTimeout: 200 });
    const out = await run(pool);
    expect(out.error?.code).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect(out.status).toBe(0);
  });

  it('times out with UND_ERR_BODY_TIMEOUT when the body stalls after the head', async () => {
    srv.handler = (req) => { req.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'); };
    const pool = makePool(srv, { bodyTimeout: 200 });
    const out = await run(pool);
    expect(out.status).toBe(200);
    expect(out.body.toString()).toBe('abc');
    expect(out.completed).toBe(false);
    expect(out.error?.code).toBe('UND_ERR_BODY_TIMEOUT');
    expect(await srv.waitClosed(srv.requests.at(-1)!.connId)).toBe(true);
  });

  it('closes idle connections after keepAliveTimeout', async () => {
    srv.handler = (req) => { req.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'); };
    const pool = makePool(srv, { keepAliveTimeout: 150 });
    const out = await run(pool);
    expect(out.completed).toBe(true);
    const id = srv.requests.at(-1)!.connId;
    expect(await srv.waitClosed(id)).toBe(true);
    for (let i = 0; i < 50 && pool.stats.connected > 0; i++) await sleep(10);
    expect(pool.stats.connected).toBe(0);
  });
});

describe('upstreams that vanish', () => {
  const cases: Array<[string, string]> = [
    ['mid-head', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n'],
    ['mid Content-Length body', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'],
    ['mid chunk', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab'],
    ['between chunks', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n'],
    ['before the last CRLF of a chunked body', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n'],
    ['in the trailers', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n'],
  ];
  for (const [where, bytes] of cases) {
    it(`reports UND_ERR_SOCKET, not completion, when the upstream closes ${where}`, async () => {
      srv.handler = (req) => { req.socket.end(bytes); };
      const pool = makePool(srv);
      const out = await run(pool);
      expect(out.completed).toBe(false);
      expect(out.error?.code).toBe('UND_ERR_SOCKET');
      expect(out.violations).toEqual([]);
    });
  }

  it('reports an error, not completion, when a read-until-close body ends in a reset', async () => {
    // A reset is not the end of the message: what was in flight may be lost.
    srv.handler = (req) => {
      req.socket.write('HTTP/1.1 200 OK\r\n\r\npart of it');
      setTimeout(() => req.socket.resetAndDestroy(), 30);
    };
    const pool = makePool(srv);
    const out = await run(pool);
    expect(out.status).toBe(200);
    expect(out.completed).toBe(false);
    expect(out.error).not.toBeNull();
  });

  it('retries a GET once on a fresh connection when a reused one was closed before answering (keep-alive race)', async () => {
    srv.handler = (req) => {
      if (req.onConn === 1) req.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst');
      else if (req.path === '/again') req.socket.end(); // the upstream closed the idle connection as the request arrived
      else req.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${req.path.length}\r\n\r\n${req.path}`);
    };
    const pool = makePool(srv);
    const before = srv.accepted();
    expect((await run(pool, { path: '/one' })).body.toString()).toBe('first');
    const out = await run(pool, { path: '/again' });
    expect(out.error).toBeNull();
    expect(out.completed).toBe(true);
    expect(out.body.toString()).toBe('first'); // first request on the fresh connection
    expect(srv.accepted() - before).toBe(2);
  });

  it('does not retry a POST with a body in the keep-alive race', async () => {
    srv.handler = (req) => {
      if (req.onConn === 1) req.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst');
      else req.socket.end();
    };
    const pool = makePool(srv);
    const before = srv.accepted();
    await run(pool, { path: '/one' });
    const out = await run(pool, { method: 'POST', path: '/post', headers: ['host', 'x', 'content-length', '4'], body: Readable.from([Buffer.from('data')]) });
    expect(out.completed).toBe(false);
    expect(out.error?.code).toBe('UND_ERR_SOCKET');
    await sleep(50);
    expect(srv.accepted() - before, 'no second connection for the POST').toBe(1);
    expect(srv.requests.filter((r) => r.path === '/post')).toHaveLength(1);
  });

  it('does not retry a GET whose response had started', async () => {
    srv.handler = (req) => {
      if (req.onConn === 1) req.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst');
      else req.socket.end('HTTP/1.1 200 OK\r\nConte');
    };
    const pool = makePool(srv);
    const before = srv.accepted();
    await run(pool, { path: '/one' });
    const out = await run(pool, { path: '/two' });
    expect(out.error?.code).toBe('UND_ERR_SOCKET');
    await sleep(50);
    expect(srv.accepted() - before).toBe(1);
  });

  it('does not retry a GET on a first-use connection that closes without answering', async () => {
    srv.handler = (req) => { req.socket.end(); };
    const pool = makePool(srv);
    const before = srv.accepted();
    const out = await run(pool);
    expect(out.error?.code).toBe('UND_ERR_SOCKET');
    await sleep(50);
    expect(srv.accepted() - before).toBe(1);
  });
});

describe('abort', () => {
  const long = (req: { socket: net.Socket }): void => {
    void writeSlowly(req.socket, ['HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n', 'aaaaaaaaaa', 'bbbbbbbbbb', 'cccccccccc'], 20);
  };

  it('abort() from onConnect ends the request before anything is sent', async () => {
    srv.handler = long;
    const pool = makePool(srv);
    const reqsBefore = srv.requests.length;
    const out = await run(pool, { onConnect: (abort) => abort() });
    expect(out.completed).toBe(false);
    expect(out.error?.code).toBe('UND_ERR_ABORTED');
    expect(out.events).toEqual(['connect', 'error:UND_ERR_ABORTED']);
    await sleep(30);
    expect(srv.requests.length).toBe(reqsBefore);
  });

  it('abort() from onHeaders stops delivery and closes the connection', async () => {
    srv.handler = long;
    const pool = makePool(srv);
    const out = await run(pool, { onHeaders: (_s, _r, abort) => { abort(); return true; } });
    expect(out.completed).toBe(false);
    expect(out.error?.code).toBe('UND_ERR_ABORTED');
    expect(out.events.filter((e) => e.startsWith('data'))).toEqual([]);
    expect(await srv.waitClosed(srv.requests.at(-1)!.connId)).toBe(true);
    await sleep(80);
    expect(out.violations).toEqual([]);
  });

  it('abort() from onData stops delivery and closes the connection', async () => {
    srv.handler = long;
    const pool = makePool(srv);
    const out = await run(pool, { onData: (_c, _r, abort) => { abort(); return true; } });
    expect(out.error?.code).toBe('UND_ERR_ABORTED');
    expect(out.body.toString()).toBe('aaaaaaaaaa');
    expect(await srv.waitClosed(srv.requests.at(-1)!.connId)).toBe(true);
    await sleep(80);
    expect(out.violations).toEqual([]);
  });

  // The message ends inside the very callback that aborts: the end must not be
  // reported (nor crash the process on a call that is gone).
  const endsInCallback: Array<[string, string, 'headers' | 'data']> = [
    ['onHeaders of a 204', 'HTTP/1.1 204 No Content\r\n\r\n', 'headers'],
    ['onHeaders of a Content-Length: 0 response', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 'headers'],
    ['onData of the last Content-Length bytes', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 'data'],
    ['onData of the last chunk (terminator in the same read)', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n', 'data'],
  ];
  for (const [where, bytes, cb] of endsInCallback) {
    it(`abort() from ${where} reports the abort only`, async () => {
      srv.handler = (req) => { req.socket.write(bytes); };
      const pool = makePool(srv);
      const uncaught: Error[] = [];
      const onUncaught = (e: Error): void => { uncaught.push(e); };
      process.on('uncaughtException', onUncaught);
      try {
        const out = await run(pool, cb === 'headers'
          ? { onHeaders: (_s, _r, abort) => { abort(); return true; } }
          : { onData: (_c, _r, abort) => { abort(); return true; } });
        await sleep(30);
        expect(uncaught).toEqual([]);
        expect(out.completed).toBe(false);
        expect(out.error?.code).toBe('UND_ERR_ABORTED');
        expect(out.violations).toEqual([]);
        expect(await srv.waitClosed(srv.requests.at(-1)!.connId)).toBe(true);
        expect(await followUpConn(pool)).toBeGreaterThan(0);
      } finally {
        process.off('uncaughtException', onUncaught);
      }
    });
  }

  it('abort() while queued never sends the request', async () => {
    srv.handler = (req) => { setTimeout(() => req.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), 50); };
    const pool = makePool(srv, { connections: 1 });
    const first = run(pool, { path: '/first' });
    let abortQueued: () => void = () => {};
    const second = run(pool, { path: '/second', onConnect: (abort) => { abortQueued = () => abort(); } });
    abortQueued();
    const [a, b] = await Promise.all([first, second]);
    expect(a.completed).toBe(true);
    expect(b.error?.code).toBe('UND_ERR_ABORTED');
    expect(srv.requests.some((r) => r.path === '/second')).toBe(false);
  });
});

describe('backpressure', () => {
  const big = Buffer.alloc(5 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);

  for (const framing of ['content-length', 'chunked'] as const) {
    it(`pausing in every onData and resuming later delivers a 5 MB ${framing} body in order`, async () => {
      srv.handler = (req) => {
        if (framing === 'content-length') {
          req.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n`);
          req.socket.write(big);
        } else {
          req.socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
          for (let at = 0; at < big.length; at += 300_000) {
            const part = big.subarray(at, at + 300_000);
            req.socket.write(`${part.length.toString(16)}\r\n`);
            req.socket.write(part);
            req.socket.write('\r\n');
          }
          req.socket.write('0\r\n\r\n');
        }
      };
      const pool = makePool(srv);
      let inPause = false;
      let dataWhilePaused = 0;
      const out = await run(pool, {
        onData: (_c, resume) => {
          if (inPause) dataWhilePaused++;
          inPause = true;
          setTimeout(() => { inPause = false; resume(); }, 0);
          return false;
        },
      });
      expect(out.error).toBeNull();
      expect(out.completed).toBe(true);
      expect(dataWhilePaused).toBe(0);
      expect(out.body.length).toBe(big.length);
      expect(sha(out.body)).toBe(sha(big));
      // The connection must come back usable (not left paused).
      expect(await followUpConn(pool)).toBe(srv.requests.at(-2)!.connId);
    });
  }

  it('pausing on the final chunk and resuming after completion leaves the connection usable', async () => {
    srv.handler = (req) => { req.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'); };
    const pool = makePool(srv);
    let resumeLater: () => void = () => {};
    const out = await run(pool, { onData: (_c, resume) => { resumeLater = resume; return false; } });
    expect(out.completed).toBe(true);
    resumeLater(); // a resume after the end is harmless
    const id = srv.requests.at(-1)!.connId;
    const next = await run(pool, { path: '/follow' });
    expect(next.error).toBeNull();
    expect(header(next, 'x-conn')).toBe(String(id));
  });

  it('onHeaders returning false holds the body until resume()', async () => {
    srv.handler = (req) => { req.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'); };
    const pool = makePool(srv);
    let resumed = false;
    let dataBeforeResume = 0;
    const out = await run(pool, {
      onHeaders: (_s, resume) => { setTimeout(() => { resumed = true; resume(); }, 30); return false; },
      onData: () => { if (!resumed) dataBeforeResume++; return true; },
    });
    expect(out.completed).toBe(true);
    expect(out.body.toString()).toBe('hello');
    expect(dataBeforeResume).toBe(0);
    expect(await followUpConn(pool)).toBe(srv.requests.at(-2)!.connId);
  });

  it('onHeaders returning false on a bodiless response leaves the connection usable', async () => {
    srv.handler = (req) => { req.socket.write('HTTP/1.1 204 No Content\r\n\r\n'); };
    const pool = makePool(srv);
    const out = await run(pool, { onHeaders: () => false });
    expect(out.completed).toBe(true);
    expect(await followUpConn(pool)).toBe(srv.requests.at(-2)!.connId);
  });

  it('a read-until-close body paused across the close is delivered whole', async () => {
    srv.handler = (req) => { void writeSlowly(req.socket, ['HTTP/1.1 200 OK\r\n\r\n', 'one,', 'two,', 'three'], 5).then(() => req.socket.end()); };
    const pool = makePool(srv);
    const out = await run(pool, { onData: (_c, resume) => { setTimeout(resume, 40); return false; } });
    expect(out.completed).toBe(true);
    expect(out.body.toString()).toBe('one,two,three');
  });
});

describe('request bodies', () => {
  const upload = Buffer.alloc(3 * 1024 * 1024 + 7);
  for (let i = 0; i < upload.length; i++) upload[i] = (i * 31 + 7) & 0xff;
  const parts = (): Buffer[] => { const p: Buffer[] = []; for (let i = 0; i < upload.length; i += 65_536) p.push(upload.subarray(i, i + 65_536)); return p; };
  const echo = (req: { body: Buffer; headers: Map<string, string>; socket: net.Socket }): void => {
    const text = `${req.body.length} ${sha(req.body)} ${req.headers.get('transfer-encoding') ?? '-'} ${req.headers.get('content-length') ?? '-'}`;
    req.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
  };

  it('sends a Content-Length upload intact', async () => {
    srv.handler = echo;
    const pool = makePool(srv);
    const out = await run(pool, { method: 'POST', headers: ['host', 'x', 'content-length', String(upload.length)], body: Readable.from(parts()) });
    expect(out.body.toString()).toBe(`${upload.length} ${sha(upload)} - ${upload.length}`);
    expect(await followUpConn(pool)).toBe(srv.requests.at(-2)!.connId);
  });

  it('sends a body without content-length as transfer-encoding: chunked, intact', async () => {
    srv.handler = echo;
    const pool = makePool(srv);
    const out = await run(pool, { method: 'PUT', headers: ['host', 'x'], body: Readable.from(parts()) });
    expect(out.body.toString()).toBe(`${upload.length} ${sha(upload)} chunked -`);
    expect(await followUpConn(pool)).toBe(srv.requests.at(-2)!.connId);
  });

  it('does not reuse a connection answered before the upload ended', async () => {
    srv.handler = () => {};
    srv.onAccept = (socket) => {
      socket.once('data', () => socket.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n'));
    };
    const pool = makePool(srv);
    const body = new Readable({ read() {} });
    body.push(Buffer.from('start'));
    const before = srv.accepted();
    const out = await run(pool, { method: 'POST', headers: ['host', 'x', 'content-length', '1000'], body });
    expect(out.status).toBe(413);
    expect(out.completed).toBe(true);
    srv.onAccept = null;
    const next = await followUpConn(pool);
    expect(next).toBe(before + 2);
  });
});

describe('the pool', () => {
  it('never opens more than `connections` sockets; every queued request completes', async () => {
    let maxOpen = 0;
    srv.handler = (req) => {
      maxOpen = Math.max(maxOpen, srv.open());
      setTimeout(() => req.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${req.path.length}\r\n\r\n${req.path}`), 15);
    };
    const pool = makePool(srv, { connections: 2 });
    const before = srv.accepted();
    const outs = await Promise.all(Array.from({ length: 10 }, (_, i) => run(pool, { path: `/r${i}` })));
    outs.forEach((o, i) => {
      expect(o.completed).toBe(true);
      expect(o.body.toString()).toBe(`/r${i}`);
    });
    expect(srv.accepted() - before).toBeLessThanOrEqual(2);
    expect(maxOpen).toBeLessThanOrEqual(2);
  });

  it('close() waits for in-flight requests, then closes every connection; later dispatches fail', async () => {
    srv.handler = (req) => { setTimeout(() => req.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone'), 80); };
    const pool = makePool(srv);
    let completedWhenClosed: boolean | null = null;
    let outRef: { completed: boolean } | null = null;
    const inflight = run(pool, { onHeaders: (_s, _r, _a, o) => { outRef = o; return true; } });
    await sleep(10);
    await pool.close().then(() => { completedWhenClosed = outRef?.completed ?? false; });
    const out = await inflight;
    expect(out.completed).toBe(true);
    expect(out.body.toString()).toBe('done');
    expect(completedWhenClosed, 'close() resolved only after the in-flight request completed').toBe(true);
    expect(await srv.waitClosed(srv.requests.at(-1)!.connId)).toBe(true);
    const late = await run(pool);
    expect(late.error?.code).toBe('UND_ERR_CLOSED');
  });

  it('destroy() fails in-flight requests with UND_ERR_CLOSED', async () => {
    srv.handler = () => {};
    const pool = makePool(srv);
    const inflight = run(pool);
    await sleep(30);
    await pool.destroy();
    const out = await inflight;
    expect(out.completed).toBe(false);
    expect(out.error?.code).toBe('UND_ERR_CLOSED');
  });
});

describe('the shared read buffer (plain sockets read into one buffer)', () => {
  // Other connections' reads overwrite that buffer: whatever the handler may
  // still hold (the raw head until the end, bytes held back by a pause) must
  // have been copied out of it.
  it('keeps the raw head and paused bytes intact while other connections read', async () => {
    const noise = 'N'.repeat(3000);
    const other = await startRawServer((req) => {
      req.socket.write(`HTTP/1.1 200 OK\r\nX-Other: ${'z'.repeat(300)}\r\nContent-Length: ${noise.length}\r\n\r\n${noise}`);
    });
    try {
      const poolB = makePool(other, { connections: 4 });
      const traffic = async (): Promise<void> => {
        const outs = await Promise.all(Array.from({ length: 4 }, () => run(poolB)));
        for (const o of outs) {
          expect(o.body.toString()).toBe(noise);
          expect(o.headersAtEnd).toEqual(o.headers);
        }
      };
      for (const pauseAt of ['none', 'headers', 'data'] as const) {
        let wrote: () => void = () => {};
        const firstWritten = new Promise<void>((r) => { wrote = r; });
        srv.handler = (req) => {
          // Head and the first body bytes in one read, the rest later.
          req.socket.write('HTTP/1.1 200 OK\r\nX-Mine: mine-value\r\nX-Also: 12345\r\nContent-Length: 6\r\n\r\nabc');
          wrote();
          setTimeout(() => req.socket.write('def'), 60);
        };
        const poolA = makePool(srv);
        let resumeA: () => void = () => {};
        const a = run(poolA, {
          onHeaders: (_s, resume) => { resumeA = resume; return pauseAt !== 'headers'; },
          onData: (_c, resume) => { resumeA = resume; return pauseAt !== 'data'; },
        });
        await firstWritten;
        await sleep(10);
        await traffic(); // overwrites the shared buffer while A holds its head (and maybe paused bytes)
        resumeA();
        await traffic();
        const outA = await a;
        expect(outA.error, pauseAt).toBeNull();
        expect(outA.body.toString(), pauseAt).toBe('abcdef');
        expect(outA.headers).toEqual([['X-Mine', 'mine-value'], ['X-Also', '12345'], ['Content-Length', '6']]);
        expect(outA.headersAtEnd, `raw head views after other reads (pause at ${pauseAt})`).toEqual(outA.headers);
      }
    } finally {
      await other.close();
    }
  });
});
