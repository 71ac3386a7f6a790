// The in-flight list the timeout sweep and the drain walk: members removed
// in any order (and during the walk) leave exactly the others, each once.
import { describe, expect, it } from 'vitest';
import { Inflight } from '../../src/server/inflight.js';

const item = (id: number) => ({ id, slot: -1 });

describe('Inflight', () => {
  it('keeps exactly the members added and not deleted, whatever the order', () => {
    const set = new Inflight<ReturnType<typeof item>>();
    const all = Array.from({ length: 50 }, (_, i) => item(i));
    for (const x of all) set.add(x);
    // delete every third, from the middle outwards
    const gone = all.filter((x) => x.id % 3 === 0).sort((a, b) => Math.abs(a.id - 25) - Math.abs(b.id - 25));
    for (const x of gone) set.delete(x);
    for (const x of gone) set.delete(x); // twice: no effect
    const seen: number[] = [];
    set.forEach((x) => seen.push(x.id));
    expect(seen.sort((a, b) => a - b)).toEqual(all.filter((x) => x.id % 3 !== 0).map((x) => x.id));
    expect(set.size).toBe(seen.length);
    for (const x of gone) expect(x.slot).toBe(-1);
  });

  it('lets the walk delete the member it is visiting (the sweep failing an exchange)', () => {
    const set = new Inflight<ReturnType<typeof item>>();
    const all = Array.from({ length: 20 }, (_, i) => item(i));
    for (const x of all) set.add(x);
    const visited: number[] = [];
    set.forEach((x) => { visited.push(x.id); if (x.id % 2 === 0) set.delete(x); });
    expect(visited.sort((a, b) => a - b)).toEqual(all.map((x) => x.id));
    const left: number[] = [];
    set.forEach((x) => left.push(x.id));
    expect(left.sort((a, b) => a - b)).toEqual(all.filter((x) => x.id % 2 === 1).map((x) => x.id));
  });

  it('ignores a member of another list', () => {
    const a = new Inflight<ReturnType<typeof item>>();
    const b = new Inflight<ReturnType<typeof item>>();
    const x = item(1);
    const y = item(2);
    a.add(x);
    b.add(y); // same slot index 0 in another list
    a.delete(y);
    expect(a.size).toBe(1);
  });
});
