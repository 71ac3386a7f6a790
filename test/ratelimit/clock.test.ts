// The default clock: read without allocation, ticks while used, sleeps when idle.
import { expect, test } from 'vitest';
import { clockNow, clockState } from '../../src/lib/clock.js';
import { sleep } from '../helpers/time.js';


test('the ticking clock follows the wall clock while used and sleeps when idle', async () => {
  const t0 = clockNow();
  expect(Math.abs(t0 - Date.now())).toBeLessThan(1000);
  let t1 = t0;
  for (let i = 0; i < 200 && t1 === t0; i++) {
    await sleep(5);
    t1 = clockNow(); // a read keeps it ticking
  }
  expect(t1).toBeGreaterThan(t0);
  // nobody reads: the timer stops (no wake-ups on an idle gateway)
  let asleep = false;
  for (let i = 0; i < 200 && !asleep; i++) {
    await sleep(5);
    asleep = clockState[0] === 0;
  }
  expect(asleep).toBe(true);
  const t2 = clockNow(); // the next read wakes it with the current time
  expect(clockState[0]).toBe(1);
  expect(t2).toBeGreaterThanOrEqual(t1);
  expect(Math.abs(t2 - Date.now())).toBeLessThan(1000);
});
