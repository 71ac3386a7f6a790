// Starts the real gateway (`node dist/cli.js start`) on a config written to a
// temp dir, on ephemeral ports, and learns its ports from the "listening" log line.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'dist', 'cli.js');

export interface RunningGateway {
  readonly proc: ChildProcess;
  readonly dir: string;
  readonly configFile: string;
  /** Ports of server.listen, in order. */
  readonly ports: number[];
  /** http://127.0.0.1:PORT of the first listener. */
  readonly url: string;
  /** Every stderr line so far (JSON log lines). */
  readonly logs: string[];
  /** Resolves when a log line matching `re` appears (bounded by timeoutMs). */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends a signal and waits for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** Rewrites the config file (for reload tests). */
  writeConfig(config: object | string): void;
}

export function tempDir(prefix = 'portcullis-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function startGateway(
  config: object | string,
  opts: { dir?: string; env?: NodeJS.ProcessEnv; files?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RunningGateway> {
  const dir = opts.dir ?? tempDir();
  for (const [name, content] of Object.entries(opts.files ?? {})) writeFileSync(path.join(dir, name), content);
  const configFile = path.join(dir, 'portcullis.yaml');
  const write = (c: object | string) => writeFileSync(configFile, typeof c === 'string' ? c : stringify(c));
  write(config);
  const proc = spawn(process.execPath, ['--no-allocation-site-pretenuring', CLI, 'start', '--config', configFile], {
    cwd: dir,
    env: { ...process.env, PORTCULLIS_LOG_FORMAT: 'json', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let buf = '';
  const onChunk = (c: Buffer) => {
    buf += c.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      logs.push(line);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.re.test(line)) { waiters[i]!.resolve(line); waiters.splice(i, 1); }
      }
    }
  };
  proc.stderr!.on('data', onChunk);
  proc.stdout!.on('data', onChunk);
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => { exited = code; resolve(code); }));

  const waitForLog = (re: RegExp, timeoutMs = 15_000): Promise<string> => {
    const found = logs.find((l) => re.test(l));
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no log line matching ${re} within ${timeoutMs} ms; logs:\n${logs.join('\n')}`)), timeoutMs);
      waiters.push({ re, resolve: (l) => { clearTimeout(t); resolve(l); } });
      void exit.then((code) => { clearTimeout(t); reject(new Error(`gateway exited (${code}) before ${re}; logs:\n${logs.join('\n')}`)); });
    });
  };

  const line = await waitForLog(/portcullis listening/, opts.timeoutMs ?? 20_000);
  const listeners = (JSON.parse(line) as { listeners: string[] }).listeners;
  const ports = listeners.map((u) => Number(new URL(u).port));
  return {
    proc, dir, configFile, ports, logs, waitForLog,
    url: `http://127.0.0.1:${ports[0]}`,
    writeConfig: write,
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (exited !== undefined) return exited;
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const code = await exit;
      clearTimeout(t);
      return code;
    },
  };
}

/** Runs `portcullis ARGS…` to completion. */
export function runCli(args: string[], opts: { cwd?: string; input?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => { stdout += c; });
    p.stderr.on('data', (c: Buffer) => { stderr += c; });
    p.stdin.end(opts.input ?? '');
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
