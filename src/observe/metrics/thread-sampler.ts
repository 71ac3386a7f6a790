// Per-thread gauges sampled once a second into the thread's own slice:
// event-loop delay (p50, p99, max over the last second) and V8 heap.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { F64 } from './types.js';
import { G_ELD_MAX, G_ELD_P50, G_ELD_P99, G_HEAP_TOTAL, G_HEAP_USED, G_SAMPLED_AT } from './layout.js';

/** Starts sampling into f[g…]; returns the function that stops it. */
export function startThreadSampler(f: F64, g: number): () => void {
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  const sample = () => {
    f[g + G_ELD_P50] = eld.count > 0 ? eld.percentile(50) / 1e9 : 0;
    f[g + G_ELD_P99] = eld.count > 0 ? eld.percentile(99) / 1e9 : 0;
    f[g + G_ELD_MAX] = eld.count > 0 ? eld.max / 1e9 : 0;
    const hs = getHeapStatistics();
    f[g + G_HEAP_USED] = hs.used_heap_size;
    f[g + G_HEAP_TOTAL] = hs.total_heap_size;
    f[g + G_SAMPLED_AT] = Date.now();
    eld.reset();
  };
  sample();
  const timer = setInterval(sample, 1000);
  timer.unref();
  return () => { clearInterval(timer); eld.disable(); };
}
