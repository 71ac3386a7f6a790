// Bytes an upstream sends on a keep-alive connection when no request of ours
// is waiting (a misbehaving or hostile upstream: an extra "response" after the
// real one) must never be read as the answer to a later request. The gateway
// is stopped (SIGSTOP) while the stray bytes and a client's request arrive, so
// that both are read in the same turn of its event loop — the turn in which
// upstream reads are held back until after the poll phase — in either order.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { gatewayConfig } from '../core/util.js';
import { CLIENTS, download, echo, sleep, startRawUpstream, stopProcess, type RawUpstream } from './harness.js';

const STRAY = 'HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nEVIL';

/** A keep-alive client connection to the gateway, opened (and accepted) before the gateway is stopped. */
async function openClient(port: number): Promise<{ send(path: string): void; response(ms: number): Promise<string>; close(): void }> {
  const s = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => s.once('connect', () => r()));
  let raw = '';
  s.on('data', (c: Buffer) => { raw += c.toString('latin1'); });
  s.on('error', () => {});
  // One request first: the connection is accepted and served before the stop.
  s.write('GET /warm HTTP/1.1\r\nhost: gw\r\n\r\n');
  const end = Date.now() + 5000;
  while (!/\r\n\r\n[^]*warm/.test(raw) && Date.now() < end) await sleep(10);
  raw = '';
  return {
    send: (path) => { s.write(`GET ${path} HTTP/1.1\r\nhost: gw\r\n\r\n`); },
    async response(ms) {
      const until = Date.now() + ms;
      for (;;) {
        const at = raw.indexOf('\r\n\r\n');
        const m = /content-length: (\d+)/i.exec(raw);
        if (at >= 0 && m && raw.length >= at + 4 + Number(m[1])) {
          const body = raw.slice(at + 4, at + 4 + Number(m[1]));
          raw = raw.slice(at + 4 + Number(m[1]));
          return body;
        }
        if (Date.now() > until || s.destroyed) return `<no response: ${JSON.stringify(raw)}>`;
        await sleep(10);
      }
    },
    close: () => s.destroy(),
  };
}

describe.each(CLIENTS)('stray upstream bytes with client: %s', (client) => {
  let up: RawUpstream;
  let gw: RunningGateway;

  beforeAll(async () => {
    up = await startRawUpstream(echo);
    gw = await startGateway(gatewayConfig(
      { up: { targets: [up.url], client, connections: 1, timeout: '5s' } },
      [{ name: 'all', match: { path_prefix: '/' }, upstream: 'up' }],
    ));
  });
  afterAll(async () => {
    if (gw) process.kill(gw.proc.pid!, 'SIGCONT');
    await gw?.stop();
    await up?.close();
  });

  /** Stops the gateway, lets `during` put bytes on the wire, resumes it. */
  async function whileStopped(during: () => Promise<void>): Promise<void> {
    try {
      await stopProcess(gw.proc.pid!);
      await during();
    } finally {
      process.kill(gw.proc.pid!, 'SIGCONT');
    }
  }

  const orders = client === 'native'
    ? ['stray bytes first', 'request first'] as const
    // undici writes the request at once: stray bytes read after it are, on the
    // wire, its response — only the idle case can be told apart.
    : ['stray bytes first'] as const;

  for (const order of orders) {
    it(`never relays stray bytes as the answer to the next request (${order}, same event-loop turn)`, async () => {
      const c = await openClient(gw.ports[0]!);
      try {
        for (let round = 0; round < 3; round++) {
          const r0 = await download(`${gw.url}/before-${round}`, { guardMs: 5000 });
          expect(r0.status).toBe(200);
          const idle = up.requests.at(-1)!; // its connection is now idle in the pool
          expect(idle.path).toBe(`/before-${round}`);
          await whileStopped(async () => {
            if (order === 'stray bytes first') {
              idle.socket.write(STRAY);
              await sleep(40);
              c.send(`/victim-${round}`);
            } else {
              c.send(`/victim-${round}`);
              await sleep(40);
              idle.socket.write(STRAY);
            }
            await sleep(40);
          });
          const body = await c.response(5000);
          expect(body).not.toBe('EVIL');
          expect(body).toContain(`GET /victim-${round} `);
          // The connection that carried stray bytes is never used again.
          expect(await up.waitClosed(idle.connId, 3000)).toBe(true);
        }
      } finally {
        c.close();
      }
      expect(gw.proc.exitCode).toBeNull();
    });
  }
});
