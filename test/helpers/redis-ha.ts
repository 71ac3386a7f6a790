// Redis for a fleet, for tests: a Sentinel set (master, replica, one
// sentinel) that can fail over, and a three-master Redis Cluster — Debian's
// redis-server (run as `redis-server --sentinel` for the sentinel) and
// redis-cli, on 127.0.0.1 and free ports, no persistence, in a temp dir.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../e2e/util.js';

const run = promisify(execFile);

export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
  return stdout.trim();
}

async function until(what: string, cond: () => Promise<boolean>, tries = 200, gapMs = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    try { if (await cond()) return; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, gapMs));
  }
  throw new Error(`${what}: not within ${(tries * gapMs) / 1000} s`);
}

function exited(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => p.once('exit', () => resolve()));
}

interface Proc { readonly port: number; readonly proc: ChildProcess }

function launch(dir: string, name: string, port: number, args: string[]): Proc {
  const conf = path.join(dir, `${name}.conf`);
  writeFileSync(conf, `port ${port}\nbind 127.0.0.1\nsave ""\nappendonly no\ndir ${dir}\n`);
  const proc = spawn('redis-server', [conf, ...args], { stdio: ['ignore', 'ignore', 'ignore'] });
  return { port, proc };
}

export interface SentinelSet {
  readonly name: string;
  readonly sentinelPort: number;
  readonly masterPort: number;
  readonly replicaPort: number;
  /** `cluster.redis` for the gateway. */
  readonly config: { sentinels: string[]; name: string };
  /** The port the sentinel names as master now. */
  currentMaster(): Promise<number>;
  /** Waits until the replica has every write, SIGKILLs the master, waits for the sentinel to promote the replica. */
  failover(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSentinelSet(name = 'mymaster'): Promise<SentinelSet> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-sentinel-'));
  const [mp, rp, sp] = [await freePort(), await freePort(), await freePort()];
  const procs: Proc[] = [];
  procs.push(launch(dir, 'master', mp, []));
  procs.push(launch(dir, 'replica', rp, ['--replicaof', '127.0.0.1', String(mp)]));
  await until('master up', async () => (await redisCli(mp, 'PING')) === 'PONG');
  await until('replica in sync', async () => /master_link_status:up/.test(await redisCli(rp, 'INFO', 'replication')));
  const sconf = path.join(dir, 'sentinel.conf');
  writeFileSync(sconf, [
    `port ${sp}`, 'bind 127.0.0.1', `dir ${dir}`,
    `sentinel monitor ${name} 127.0.0.1 ${mp} 1`,
    `sentinel down-after-milliseconds ${name} 1000`,
    `sentinel failover-timeout ${name} 10000`,
    `sentinel parallel-syncs ${name} 1`, '',
  ].join('\n'));
  const sentinel = spawn('redis-server', [sconf, '--sentinel'], { stdio: ['ignore', 'ignore', 'ignore'] });
  procs.push({ port: sp, proc: sentinel });
  const currentMaster = async () => Number((await redisCli(sp, 'SENTINEL', 'get-master-addr-by-name', name)).split('\n')[1]);
  await until('sentinel knows the master and its replica', async () =>
    (await currentMaster()) === mp && /^\d+$/.test(await redisCli(sp, 'SENTINEL', 'replicas', name).then((s) => (s.includes(String(rp)) ? '1' : 'x'))));
  return {
    name, sentinelPort: sp, masterPort: mp, replicaPort: rp,
    config: { sentinels: [`127.0.0.1:${sp}`], name },
    currentMaster,
    async failover() {
      expect1(await redisCli(mp, 'WAIT', '1', '5000'));
      const master = procs[0]!.proc;
      master.kill('SIGKILL');
      await exited(master);
      await until('sentinel promoted the replica', async () => (await currentMaster()) === rp, 300);
      await until('replica answers as master', async () => /role:master/.test(await redisCli(rp, 'INFO', 'replication')));
    },
    async stop() {
      for (const p of procs) { p.proc.kill('SIGKILL'); await exited(p.proc); }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function expect1(waitReply: string): void {
  if (Number(waitReply) < 1) throw new Error(`the replica did not acknowledge the writes (WAIT answered ${waitReply})`);
}

export interface RedisClusterSet {
  readonly ports: number[];
  /** `cluster.redis` for the gateway. */
  readonly config: { cluster: string[] };
  stop(): Promise<void>;
}

/** Three masters, no replicas, slots spread by redis-cli --cluster create. */
export async function startRedisCluster(): Promise<RedisClusterSet> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-rcluster-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const procs = ports.map((p, i) => launch(dir, `node${i}`, p, ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${i}.conf`), '--cluster-node-timeout', '2000']));
  for (const p of ports) await until(`cluster node ${p} up`, async () => (await redisCli(p, 'PING')) === 'PONG');
  await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 20_000 });
  for (const p of ports) await until(`cluster state ok at ${p}`, async () => /cluster_state:ok/.test(await redisCli(p, 'CLUSTER', 'INFO')));
  return {
    ports,
    config: { cluster: ports.map((p) => `127.0.0.1:${p}`) },
    async stop() {
      for (const p of procs) { p.proc.kill('SIGKILL'); await exited(p.proc); }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
