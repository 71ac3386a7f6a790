// A real redis-server for tests: Debian's binary (scripts/test-setup.sh
// installs it), on 127.0.0.1 and a free port, no persistence. kill() and
// restart() let a test take Redis away and bring it back on the same port.
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { freePort } from './ports.js';

export interface RedisServer {
  readonly port: number;
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  /** SIGKILL, as a crash would. Resolves when the process has exited. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: no persistence). */
  restart(): Promise<void>;
  /** Stops it for good. */
  stop(): Promise<void>;
}

/** One PING over a raw socket: true when Redis answers +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

function exited(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => p.once('exit', () => resolve()));
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  let proc: ChildProcess | null = null;
  let stderr = '';

  const launch = async () => {
    stderr = '';
    const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    proc = p;
    const spawnError = new Promise<Error>((resolve) => p.once('error', resolve));
    for (let i = 0; i < 100; i++) {
      const early = await Promise.race([spawnError, new Promise<null>((r) => setTimeout(() => r(null), 50))]);
      if (early) throw new Error(`cannot start redis-server (${early.message}); install it: bash scripts/test-setup.sh`);
      if (p.exitCode !== null) throw new Error(`redis-server exited with ${p.exitCode}: ${stderr}`);
      if (await ping(port)) return;
    }
    p.kill('SIGKILL');
    throw new Error(`redis-server did not answer on 127.0.0.1:${port} within 5 s: ${stderr}`);
  };

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      if (!proc) return;
      const p = proc;
      proc = null;
      p.kill('SIGKILL');
      await exited(p);
    },
    async restart() {
      if (proc) {
        const p = proc;
        proc = null;
        p.kill('SIGKILL');
        await exited(p);
      }
      await launch();
    },
    async stop() {
      if (!proc) return;
      const p = proc;
      proc = null;
      p.kill('SIGTERM');
      await Promise.race([exited(p), new Promise((r) => setTimeout(r, 2000))]);
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    },
  };
}
