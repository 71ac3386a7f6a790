// A real JWKS endpoint on 127.0.0.1 for tests: serves whatever key set the
// test sets, counts requests, and can fail on demand.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
export { freePort } from '../helpers/ports.js';

export type JwksMode = 'ok' | 'error' | 'hang' | 'huge' | 'redirect';

export class JwksServer {
  keys: unknown[] = [];
  mode: JwksMode = 'ok';
  requests = 0;
  private server: Server | null = null;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/.well-known/jwks.json`;
  }

  /** Listens on `port` (0 = ephemeral). */
  async start(port = 0): Promise<this> {
    const s = createServer((req, res) => {
      this.requests++;
      if (this.mode === 'hang') return; // never answers; the client's timeout must fire
      if (this.mode === 'error') {
        res.statusCode = 503;
        res.end('maintenance');
        return;
      }
      if (this.mode === 'redirect') {
        res.statusCode = 302;
        res.setHeader('location', `http://127.0.0.1:${this.port}/elsewhere`);
        res.end();
        return;
      }
      res.setHeader('content-type', 'application/json');
      if (this.mode === 'huge') {
        res.end(JSON.stringify({ keys: this.keys, pad: 'x'.repeat(2 * 1024 * 1024) }));
        return;
      }
      res.end(JSON.stringify({ keys: this.keys }));
      void req;
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = s;
    this.port = (s.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

