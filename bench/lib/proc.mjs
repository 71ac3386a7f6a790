// What the kernel knows about a process: CPU time (utime+stime, all threads)
// and resident memory, read from /proc. The figure of merit of the bench is
// the gateway's CPU time per request, so this is read just before and just
// after each timed run.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

let hz = 100;
try { hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { /* keep 100 */ }
export const CLK_TCK = hz;

/** utime+stime of one process (all its threads) in microseconds, or 0 when gone. */
export function cpuMicros(pid) {
  let s;
  try { s = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return 0; }
  // Field 2 (comm) may contain spaces and parentheses: split after the last ')'.
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  return ((utime + stime) * 1e6) / hz;
}

/** Sum of cpuMicros over a set of pids. */
export function cpuMicrosOf(pids) {
  let t = 0;
  for (const p of pids) t += cpuMicros(p);
  return t;
}

/** User and system time (µs) summed over a set of pids. */
export function cpuSplitOf(pids) {
  let user = 0;
  let sys = 0;
  for (const pid of pids) {
    let s;
    try { s = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { continue; }
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    user += (Number(f[11]) * 1e6) / hz;
    sys += (Number(f[12]) * 1e6) / hz;
  }
  return { user, sys };
}

/** Resident set size in KiB (VmRSS), 0 when gone. */
export function rssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
}

/** A pid and all its descendants (nginx master + workers, haproxy master + worker). */
export function processTree(root) {
  const parent = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(d), Number(f[1]));
    } catch { /* exited */ }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    for (const [pid, pp] of parent) if (pp === out[i]) out.push(pid);
  }
  return out;
}

/** Busy and total jiffies of the whole machine (all CPUs) from /proc/stat. */
export function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = f[3] + f[4];
  return { busy: total - idle, total };
}

/** Share (0–1) of the machine's CPU time that was busy during `ms` — with our servers idle, that is other people's load. */
export async function backgroundLoad(ms = 500) {
  const a = machineTicks();
  await new Promise((r) => setTimeout(r, ms));
  const b = machineTicks();
  return b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0;
}
