// The machine and its tools: install the Debian packages the bench drives
// (wrk, nginx, haproxy) when missing, report versions, spawn pinned processes.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';

const which = (cmd) => {
  const r = spawnSync('bash', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
};

const DEB = { wrk: 'wrk', nginx: 'nginx-light', haproxy: 'haproxy', taskset: 'util-linux', openssl: 'openssl' };
let aptUpdated = false;

/**
 * Makes sure each command exists, installing its Debian package with apt-get
 * when we are root. Returns { cmd: path | '' } and logs what it could not get.
 */
export function ensureTools(cmds, log, { install = true } = {}) {
  const out = {};
  const missing = cmds.filter((c) => !(out[c] = which(c)));
  if (!missing.length) return out;
  const canInstall = install && process.getuid?.() === 0 && which('apt-get');
  if (!canInstall) {
    for (const c of missing) log(`! ${c} not found and cannot be installed here (not root or no apt-get): scenarios needing it are skipped`);
    return out;
  }
  const pkgs = [...new Set(missing.map((c) => DEB[c] ?? c))];
  log(`installing ${pkgs.join(', ')} with apt-get (missing: ${missing.join(', ')}) …`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env, timeout: 300_000 });
    aptUpdated = true;
  }
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { encoding: 'utf8', env, timeout: 600_000 });
  if (r.status !== 0) log(`! apt-get install ${pkgs.join(' ')} failed: ${(r.stderr || '').trim().split('\n').pop()}`);
  for (const c of missing) {
    out[c] = which(c);
    if (!out[c]) log(`! ${c} is still missing: scenarios needing it are skipped`);
  }
  // Debian starts the system nginx/haproxy services on install; the bench runs
  // its own instances on its own ports, so the system ones only add noise.
  for (const svc of ['nginx', 'haproxy']) {
    if (missing.includes(svc)) spawnSync('bash', ['-c', `command -v systemctl >/dev/null && systemctl stop ${svc} 2>/dev/null; command -v service >/dev/null && service ${svc} stop 2>/dev/null; true`], { stdio: 'ignore' });
  }
  return out;
}

function firstLine(cmd, args) {
  try {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
    return `${r.stdout}${r.stderr}`.trim().split('\n')[0] ?? '';
  } catch { return ''; }
}

/** Version of an installed npm package ('' when it is not installed). */
function pkgVersion(name) {
  try {
    return JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8')).version;
  } catch { return ''; }
}
const withVersion = (name) => { const v = pkgVersion(name); return v ? `${name} ${v}` : ''; };

export function versions(tools) {
  const uws = pkgVersion('@btc-vision/uwebsockets.js');
  return {
    node: process.version,
    uWebSockets: uws ? `@btc-vision/uwebsockets.js ${uws}` : '',
    fastify: ['fastify', '@fastify/reply-from', '@fastify/jwt'].map(withVersion).filter(Boolean).join(' + '),
    fastGateway: ['fast-gateway', 'fast-jwt'].map(withVersion).filter(Boolean).join(' + '),
    nginx: tools.nginx ? firstLine(tools.nginx, ['-v']).replace(/^nginx version: nginx\//, '') : '',
    haproxy: tools.haproxy ? firstLine(tools.haproxy, ['-v']).replace(/ - https.*$/, '').replace(/^HAProxy version (\S+).*/, 'HAProxy $1') : '',
    wrk: tools.wrk ? firstLine(tools.wrk, ['--version']).replace(/ Copyright.*$/, '') : '',
    kernel: os.release(),
  };
}

export function machine() {
  let model = '';
  try {
    const m = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    model = m ? m[1].trim() : '';
  } catch { /* no /proc */ }
  let nofile = '';
  try { nofile = execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim(); } catch { /* ignore */ }
  return {
    nproc: os.availableParallelism(),
    cpu: model || os.cpus()[0]?.model || 'unknown',
    memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    nofile_hard: nofile,
  };
}

/**
 * Where things run. Defaults: the 2-core layout of the issues (load + upstream
 * on CPU 0, system under test on CPU 1, one thread each). On a bigger machine:
 * --load-cpus 0-7 --sut-cpus 8-15 --threads 8 --wrk-threads 4 --upstream-workers 4.
 */
export const CPUS = { load: '0', sut: '1', threads: 1, wrkThreads: 1, upstreamWorkers: 1 };
export function setLayout(o) { for (const [k, v] of Object.entries(o)) if (v !== undefined) CPUS[k] = v; }
/** 'all' = the load and SUT sets together (the scaling rows let the gateway use every core). */
export const cpuSet = (c) => (c === 'all' ? `${CPUS.load},${CPUS.sut}` : c === 'sut' ? CPUS.sut : c === 'load' ? CPUS.load : c);

let niceness = 0;
/** Runs every process the bench starts at this nice level (negative needs root): less interference on a shared machine. */
export function setNice(n) { niceness = n; }
/** The shell prefix that applies the nice level and the CPU pinning. */
export function launchPrefix(cpus) {
  const nice = niceness ? `nice -n ${niceness} ` : '';
  const pin = cpus && which('taskset') ? `taskset -c ${cpus} ` : '';
  return `${nice}${pin}`;
}

/**
 * Spawns `cmd args` pinned to `cpus` (taskset list like "1" or "0,1"), with the
 * open-file limit raised to the hard limit (10k idle connections need it).
 */
export function spawnPinned(cpus, cmd, args, opts = {}) {
  const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
  const line = `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${launchPrefix(cpus)}${[cmd, ...args].map(q).join(' ')}`;
  return spawn('bash', ['-c', line], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

/** Pins an already running process (and its threads) to cpus. */
export function pinPid(pid, cpus) {
  if (!which('taskset')) return;
  spawnSync('taskset', ['-a', '-cp', cpus, String(pid)], { stdio: 'ignore' });
}

/** Resolves when something accepts TCP connections on 127.0.0.1:port (bounded). */
export async function waitPort(port, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** True when nothing listens on the port (so a fixed bench port is free). */
export function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Stops a child (SIGTERM, then SIGKILL after graceMs) and waits for it. */
export async function stopChild(child, graceMs = 3000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(t);
}

export const isFile = (p) => existsSync(p);
