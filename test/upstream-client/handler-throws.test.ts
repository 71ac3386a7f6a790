// A handler that throws (a bug in the gateway, not the upstream) costs its own
// request and connection, never the process nor the other responses handled
// in the same event-loop turn: the batches of deferred reads and head writes
// must go on being scheduled.
import { afterAll, describe, expect, it } from 'vitest';
import { destroyPools, makePool, run, startRawServer, type RawServer } from './harness.js';

let srv: RawServer;
afterAll(async () => {
  await destroyPools();
  await srv?.close();
});

describe('a throwing handler', () => {
  it('fails only its own request; requests in the same turn and later ones complete', async () => {
    srv = await startRawServer((req) => req.socket.write(`HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok`));
    const pool = makePool(srv, { connections: 8 });
    const boom = run(pool, { path: '/boom', onHeaders: () => { throw new Error('handler bug'); } });
    const others = Array.from({ length: 5 }, (_, i) => run(pool, { path: `/ok${i}` }));
    const bad = await boom;
    expect(bad.completed).toBe(false);
    expect(bad.error?.code).toBe('UND_ERR_SOCKET');
    for (const o of await Promise.all(others)) {
      expect(o.completed).toBe(true);
      expect(o.body.toString()).toBe('ok');
    }
    // The batches keep being scheduled after the throw.
    for (let i = 0; i < 3; i++) {
      const later = await run(pool, { path: `/later${i}` });
      expect(later.completed).toBe(true);
    }
  });
});
