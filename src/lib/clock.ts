// The hot path's clock (rate limits, verified-token and session cache expiry):
// epoch milliseconds in a Float64Array,
// refreshed every millisecond by a timer while requests use it. Reading it
// costs a typed-array load; Date.now() and performance.now() allocate a
// HeapNumber on every call (16 bytes a request on the hot path).
//
// The timer stops itself after a tick in which nobody read the clock, so an
// idle gateway does not wake up 1000 times a second; the first request after
// idle restarts it (one Date.now()). Time seen by a request lags by up to
// ~1 ms (more while the event loop is busy). Refill is computed from elapsed
// time, so a lagging clock delays tokens, never loses or invents them, and a
// bucket never refills from a time before its last update. All threads read
// the same wall clock, so buckets shared between threads agree within a tick.

/** [0]: epoch ms. */
export const clockTime = new Float64Array(1);
/** [0]: 1 while the timer runs; [1]: 1 when read since the last tick. */
export const clockState = new Int32Array(2);
let timer: NodeJS.Timeout | null = null;

function tick(): void {
  if (clockState[1] === 0) {
    clockState[0] = 0; // unused for a whole tick: sleep until the next read
    return;
  }
  clockState[1] = 0;
  clockTime[0] = Date.now();
  timer!.refresh();
}

/** Starts (or restarts after idle) the ticking; the hot path calls it when clockState[0] is 0. */
export function wakeClock(): void {
  clockTime[0] = Date.now();
  clockState[0] = 1;
  clockState[1] = 0;
  if (timer === null) {
    timer = setTimeout(tick, 1);
    timer.unref();
  } else {
    timer.refresh();
  }
}

/**
 * Marks the clock read (starting it after idle); the caller then reads
 * clockTime[0]. For hot paths: a function that returns a double may box it
 * (a heap number per call) when V8 does not inline it; this one returns nothing.
 */
export function touchClock(): void {
  if (clockState[0] === 0) wakeClock();
  clockState[1] = 1;
}

/**
 * How hot-path caches check a deadline `until` without allocating:
 *
 *   touchClock();
 *   if (clockTime[0]! + EXACT_WITHIN_MS < until || Date.now() < until) { live }
 *
 * The ticking clock decides while the deadline is far; Date.now() (a fresh
 * heap number) is asked only in the deadline's last second. The clock is at
 * least one loop turn old, more after a stall (a long synchronous job, a GC
 * pause, a stopped process: I/O ready on resume is handled before timers), so
 * this is exact unless the loop stalled for over a second, and then late by at
 * most the stall; it never ends anything early (the clock is never ahead).
 * Written out at each site rather than as a function: a double passed to a
 * call V8 does not inline is boxed — the allocation this avoids.
 */
export const EXACT_WITHIN_MS = 1000;

/** The current time as the hot path reads it (cold-path callers). */
export function clockNow(): number {
  if (clockState[0] === 0) wakeClock();
  clockState[1] = 1;
  return clockTime[0]!;
}
