// The rate limiter's default clock: epoch milliseconds in a Float64Array,
// refreshed every millisecond by an unref'd timer on each thread that uses
// it. Reading it costs one typed-array load; Date.now() and
// performance.now() allocate a HeapNumber on every call (16 bytes a request
// on the hot path). The price: time seen by a request lags by up to ~1 ms
// (more while the event loop is busy). Refill is computed from elapsed time,
// so a lagging clock only delays tokens, never loses or invents them.
// Every thread reads the same wall clock, so buckets shared between threads
// agree to within a tick; a bucket never refills from a time before its last
// update.

const cell = new Float64Array(1);
let timer: NodeJS.Timeout | null = null;

function tick(): void {
  cell[0] = Date.now();
}

/** This thread's ticking clock (started on first use). Read `clock[0]`. */
export function tickingClock(): Float64Array {
  if (timer === null) {
    tick();
    timer = setInterval(tick, 1);
    timer.unref();
  }
  return cell;
}

/** Stops this thread's ticking (shutdown); the next tickingClock() restarts it. */
export function stopTickingClock(): void {
  if (timer !== null) {
    clearInterval(timer);
    timer = null;
  }
}
