// Reading the shared buffer from the scrape side: one thread's slice, or a
// region summed over every thread's slice. Allocates; never on the hot path.
import type { Layout } from './layout.js';
import type { F64 } from './types.js';

/** What the scrape side needs to know about a registry. */
export interface Slices {
  readonly buffer: SharedArrayBuffer;
  readonly l: Layout;
  readonly threads: number;
  readonly routes: readonly string[];
  readonly upstreams: readonly string[];
  readonly authenticators: readonly string[];
  readonly limits: readonly string[];
}

export function slice(s: Slices, t: number): F64 {
  return new Float64Array(s.buffer, t * s.l.sliceBytes, s.l.f64Words);
}

/** Sum of [off, off+len) over all threads. */
export function sum(s: Slices, off: number, len: number, out: F64 = new Float64Array(len)): F64 {
  out.fill(0);
  for (let t = 0; t < s.threads; t++) {
    const f = slice(s, t);
    for (let i = 0; i < len; i++) out[i]! += f[off + i]!;
  }
  return out;
}
