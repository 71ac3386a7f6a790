// Process-wide families: memory, CPU, start time, threads.
import { family } from '../prom.js';

const startedAt = Date.now() - process.uptime() * 1000;

export function processFamilies(threads: number): string {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  let s = family('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', [[null, mem.rss]]);
  s += family('process_heap_bytes', 'gauge', 'V8 heap used by the thread answering the scrape, plus external memory.', [[null, mem.heapUsed + mem.external]]);
  s += family('process_cpu_seconds_total', 'counter', 'User and system CPU time spent, in seconds.', [[null, (cpu.user + cpu.system) / 1e6]]);
  s += family('process_start_time_seconds', 'gauge', 'Start time of the process since the Unix epoch, in seconds.', [[null, Math.floor(startedAt / 1000)]]);
  s += family('portcullis_threads', 'gauge', 'Event-loop threads.', [[null, threads]]);
  return s;
}
