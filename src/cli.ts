#!/usr/bin/env -S node --no-allocation-site-pretenuring
// The flag: V8's allocation-site pretenuring sees objects of the requests in
// flight survive a scavenge and starts allocating them in old space, which
// then fills with per-request garbage (JWT pass-through: scavenges of 5–16 ms
// and mark-compacts, ~1 ms and none without). It must be given to node itself
// (not allowed in NODE_OPTIONS, ignored by v8.setFlagsFromString once running).
// The command-line face of the gateway: one strict parser, one module per command.
import { HelpRequested, helpText, parseArgs, UsageError, usageLine } from './cli/args.js';
import { VERSION, type Command } from './cli/common.js';
import { start } from './cli/start.js';
import { check } from './cli/check.js';
import { hashPasswordCmd } from './cli/hash-password.js';
import { healthcheck } from './cli/healthcheck.js';
import { route } from './cli/route.js';
import { token } from './cli/token.js';
import { configPrint } from './cli/config-print.js';
import { keygen } from './cli/keygen.js';

const COMMANDS: readonly Command[] = [start, check, route, configPrint, token, hashPasswordCmd, keygen, healthcheck];

function overview(): string {
  const w = Math.max(...COMMANDS.map((c) => c.spec.name.length));
  return `portcullis ${VERSION} — a security-first API gateway

Usage: portcullis COMMAND [OPTIONS]

Commands:
${COMMANDS.map((c) => `  ${c.spec.name.padEnd(w)}  ${c.spec.summary.split('\n')[0]}`).join('\n')}
  ${'help COMMAND'.padEnd(w)}  the options of one command (also: portcullis COMMAND --help)

portcullis --version prints the version. Exit codes: 0 ok, 1 failure (a bad
config, an unhealthy gateway), 2 a usage mistake.
`;
}

function find(argv: readonly string[]): { cmd: Command; rest: readonly string[] } | null {
  for (const c of COMMANDS) {
    const words = c.spec.name.split(' ');
    if (words.every((w, i) => argv[i] === w)) return { cmd: c, rest: argv.slice(words.length) };
  }
  return null;
}

async function main(argv: readonly string[]): Promise<number> {
  const [first] = argv;
  if (first === '--version' || first === '-V' || first === 'version') {
    if (argv.length > 1) { process.stderr.write(`portcullis: --version takes no arguments\n`); return 2; }
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (first === undefined || first === '--help' || first === '-h') {
    if (argv.length > 1) { process.stderr.write(`portcullis: unexpected argument "${argv[1]}"\n\n${overview()}`); return 2; }
    process.stdout.write(overview());
    return 0;
  }
  if (first === 'help') {
    if (argv.length === 1) { process.stdout.write(overview()); return 0; }
    const f = find(argv.slice(1));
    if (!f || f.rest.length) { process.stderr.write(`portcullis help: no command "${argv.slice(1).join(' ')}"\n\n${overview()}`); return 2; }
    process.stdout.write(helpText(f.cmd.spec));
    return 0;
  }
  const f = find(argv);
  if (!f) {
    const partial = COMMANDS.find((c) => c.spec.name.split(' ')[0] === first);
    const hint = partial ? `; did you mean "portcullis ${partial.spec.name}"?` : '';
    process.stderr.write(`portcullis: unknown command "${argv.slice(0, partial ? 2 : 1).join(' ')}"${hint}\n\n${overview()}`);
    return 2;
  }
  try {
    return await f.cmd.run(parseArgs(f.cmd.spec, f.rest));
  } catch (e) {
    if (e instanceof HelpRequested) { process.stdout.write(helpText(e.command)); return 0; }
    if (e instanceof UsageError) {
      process.stderr.write(`portcullis ${e.command.name}: ${e.message}\nusage: ${usageLine(e.command)}\n(see: portcullis ${e.command.name} --help)\n`);
      return 2;
    }
    throw e;
  }
}

void main(process.argv.slice(2)).then((code) => {
  if (code >= 0) process.exitCode = code;
}, (e: unknown) => {
  process.stderr.write(`portcullis: ${(e as Error).message ?? String(e)}\n`);
  process.exitCode = 1;
});
