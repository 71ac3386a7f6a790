#!/usr/bin/env -S node --no-allocation-site-pretenuring
// The flag: V8's allocation-site pretenuring sees objects of the requests in
// flight survive a scavenge and starts allocating them in old space, which
// then fills with per-request garbage (JWT pass-through: scavenges of 5–16 ms
// and mark-compacts, ~1 ms and none without). It must be given to node itself
// (not allowed in NODE_OPTIONS, ignored by v8.setFlagsFromString once running).
// portcullis start | check | hash-password — the command-line face of the gateway.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from './config/load.js';
import { ConfigError, formatIssue } from './config/errors.js';
import { log } from './observe/log.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const DEFAULT_CONFIG = path.join(ROOT, 'native-config', 'portcullis.yaml');

const HELP = `portcullis ${VERSION} — a security-first API gateway

Usage:
  portcullis start [--config FILE]     run the gateway (default: ${path.relative(process.cwd(), DEFAULT_CONFIG) || DEFAULT_CONFIG})
  portcullis check [--config FILE]     validate a config without starting; exit 0, or 1 listing every problem
  portcullis hash-password [PASSWORD]  print an scrypt hash for a Basic users_file line (reads stdin when no argument)
  portcullis --version | --help

Signals (start): SIGHUP reloads the config (a bad file keeps the running one),
SIGTERM/SIGINT drain in-flight requests and exit, SIGUSR1 reopens the access log.
`;

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i >= 0) return args[i + 1];
  const eq = args.find((a) => a.startsWith(`${name}=`));
  return eq?.slice(name.length + 1);
}

function configPath(args: string[]): string {
  return path.resolve(arg(args, '--config') ?? arg(args, '-c') ?? process.env.PORTCULLIS_CONFIG ?? DEFAULT_CONFIG);
}

function printConfigError(e: ConfigError): void {
  process.stderr.write(`portcullis: ${e.file}: ${e.issues.length} problem${e.issues.length === 1 ? '' : 's'}:\n`);
  for (const i of e.issues) process.stderr.write(`  ${formatIssue(i)}\n`);
}

async function check(args: string[]): Promise<number> {
  const file = configPath(args);
  try {
    const plan = loadConfigFile(file);
    const { buildRuntime } = await import('./server/build.js');
    const rt = await buildRuntime(plan, { threadSlot: 0, threads: 1, checkOnly: true });
    await rt.close();
    process.stdout.write(`portcullis: ${file}: ok (${plan.config.routes.length} routes, ${Object.keys(plan.config.upstreams).length} upstreams)\n`);
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) { printConfigError(e); return 1; }
    process.stderr.write(`portcullis: ${file}: ${(e as Error).message}\n`);
    return 1;
  }
}

async function start(args: string[]): Promise<number> {
  const file = configPath(args);
  if (!existsSync(file)) {
    process.stderr.write(`portcullis: config file not found: ${file}\n  pass --config FILE, or run from the project directory\n`);
    return 1;
  }
  const { startGateway } = await import('./server/main.js');
  let running;
  try {
    running = await startGateway(file);
  } catch (e) {
    if (e instanceof ConfigError) { printConfigError(e); return 1; }
    log.error('failed to start', { error: (e as Error).message });
    return 1;
  }
  const r = running;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping: draining in-flight requests', { signal });
    void r.stop().then(() => {
      log.info('stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => { void r.reload(); });
  process.on('SIGUSR1', () => r.reopenLogs());
  return -1; // keep running
}

async function hashPasswordCmd(args: string[]): Promise<number> {
  let pw = args[0];
  if (pw === undefined) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    pw = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  if (!pw) { process.stderr.write('portcullis hash-password: empty password\n'); return 1; }
  const { hashPassword } = await import('./auth/basic/index.js');
  process.stdout.write(`${await hashPassword(pw)}\n`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'start': return start(rest);
    case 'check': return check(rest);
    case 'hash-password': return hashPasswordCmd(rest);
    case '--version': case '-v': case 'version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case undefined: case '--help': case '-h': case 'help':
      process.stdout.write(HELP);
      return 0;
    default:
      process.stderr.write(`portcullis: unknown command "${cmd}"\n\n${HELP}`);
      return 2;
  }
}

void main(process.argv.slice(2)).then((code) => {
  if (code >= 0) process.exitCode = code;
});

export { loadConfigFile };
