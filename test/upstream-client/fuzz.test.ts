// Seeded fuzzing of the whole client over real sockets: random valid responses
// (random headers, Content-Length/chunked/read-until-close framing, random
// chunk sizes and write splits) must decode exactly; random single-byte
// mutations of them must either decode exactly as the reference reading says
// (for most harmless places: the original status and body) or end in an
// error — never a different body reported as complete, never a second
// callback, never an exception escaping.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { destroyPools, makePool, run, startRawServer, writeSlowly, type Outcome, type RawServer } from './harness.js';
import { genResponse, mutate, pick, prng, randomSplits, refDecode, type Generated, type Rng } from './reference.js';

const MAX = 16 * 1024;
let srv: RawServer;
/** What to answer to GET /case/<n>. */
const answers = new Map<number, Buffer[]>();
const uncaught: Error[] = [];
const onUncaught = (e: Error): void => { uncaught.push(e); };

beforeAll(async () => {
  process.on('uncaughtException', onUncaught);
  srv = await startRawServer((req) => {
    const pieces = answers.get(Number(req.path.slice('/case/'.length)));
    if (!pieces) { req.socket.destroy(); return; }
    void writeSlowly(req.socket, pieces, 1).then(() => req.socket.end());
  });
});
afterAll(async () => {
  process.off('uncaughtException', onUncaught);
  await srv.close();
});
afterEach(async () => { await destroyPools(); });

let nextCase = 0;
async function send(bytes: Buffer, r: Rng): Promise<Outcome> {
  const n = nextCase++;
  answers.set(n, randomSplits(r, bytes, pick(r, [0, 0, 1, 3])));
  const pool = makePool(srv, { headersTimeout: 4000, bodyTimeout: 4000 });
  const out = await run(pool, { path: `/case/${n}` });
  answers.delete(n);
  void pool.destroy();
  return out;
}

/** Runs `count` cases, `width` at a time. */
async function batch(count: number, width: number, one: (i: number) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: width }, async () => { while (i < count) await one(i++); }));
}

function show(b: Buffer): string {
  const s = JSON.stringify(b.toString('latin1'));
  return s.length > 400 ? `${s.slice(0, 400)}…` : s;
}

describe('fuzz over real sockets (seeded)', () => {
  it('decodes 800 random valid responses exactly', async () => {
    const r = prng(20240601);
    const cases: Generated[] = Array.from({ length: 800 }, () => genResponse(r, true)).filter((g) => !g.head);
    await batch(cases.length, 8, async (i) => {
      const g = cases[i]!;
      const out = await send(g.bytes, r);
      const what = `${g.framing} response ${show(g.bytes)}`;
      expect(out.violations, what).toEqual([]);
      expect(out.error, what).toBeNull();
      expect(out.completed, what).toBe(true);
      expect(out.status, what).toBe(g.status);
      expect(out.body.equals(g.body), what).toBe(true);
    });
    expect(uncaught).toEqual([]);
  });

  it('3000 single-byte mutations: the reference reading, or an error — never a wrong body reported complete', async () => {
    const r = prng(777);
    const cases = Array.from({ length: 3000 }, () => {
      let g = genResponse(r, true);
      while (g.head) g = genResponse(r, true);
      return { g, m: mutate(r, g.bytes) };
    });
    let same = 0;
    let changedBody = 0;
    let refused = 0;
    await batch(cases.length, 8, async (i) => {
      const { g, m } = cases[i]!;
      const ref = refDecode(m.bytes, false, MAX);
      const out = await send(m.bytes, r);
      const what = `mutation at ${m.at} of ${show(g.bytes)} → ${show(m.bytes)}`;
      expect(out.violations, what).toEqual([]);
      expect(out.error?.code, what).not.toBe('TEST_TIMEOUT');
      expect(out.completed && out.error !== null, what).toBe(false);
      if (ref.kind === 'no') {
        expect(out.completed, `accepted what must be refused: ${what}`).toBe(false);
        expect(out.error, what).not.toBeNull();
        refused++;
        return;
      }
      expect(out.error, `refused what is valid: ${what}`).toBeNull();
      expect(out.completed, what).toBe(true);
      expect(out.status, what).toBe(ref.status);
      expect(out.body.equals(ref.body), `body differs from the reference: ${what}`).toBe(true);
      expect(out.headers, what).toEqual(ref.headers);
      if (out.status === g.status && out.body.equals(g.body)) { same++; return; }
      // Complete with another status or body: the mutation hit the body data,
      // a length/size digit or the status, and the reference read it alike.
      changedBody++;
    });
    expect(uncaught).toEqual([]);
    // The mix is meaningful: plenty of harmless, body-changing and fatal mutations.
    expect(same).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
    expect(changedBody).toBeGreaterThan(20);
  });
});
