// The CLI refuses what it does not understand: an unknown option, a missing
// value or a stray argument is a usage error (exit 2) and never falls back to
// the embedded demo config — in CI, `check --confg broken.yaml` must fail.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, ROOT, runCli, tempDir } from '../helpers/gateway.js';

const dir = tempDir('portcullis-cli-');
const BROKEN = path.join(dir, 'broken.yaml');
writeFileSync(BROKEN, 'routes: []\n');
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('usage mistakes exit 2 with the command\'s usage, and nothing runs', () => {
  const cases: [string, string[], RegExp][] = [
    ['a mistyped option', ['check', '--confg', BROKEN], /unknown option --confg \(did you mean "--config"\?\)/],
    ['a file given without --config', ['check', BROKEN], /unexpected argument ".*broken\.yaml"; to use a config file, write --config/],
    ['--config without a value', ['check', '--config'], /--config needs a value/],
    ['--config followed by another option', ['check', '--config', '--help'], /--config needs a value/],
    ['--config given twice', ['check', '--config', BROKEN, '--config', BROKEN], /--config given twice/],
    ['an unknown option to start', ['start', '--port', '80'], /unknown option --port/],
    ['a stray argument to start', ['start', BROKEN], /unexpected argument/],
    ['two passwords', ['hash-password', 'a', 'b'], /unexpected argument "b"/],
    ['route without a URL', ['route', 'GET'], /missing URL/],
    ['a bad --format', ['config', 'print', '--format', 'xml'], /--format xml: yaml or json/],
    ['a claim that is not NAME=VALUE', ['token', '--claim', 'region'], /--claim "region" is not NAME=VALUE/],
    ['a bad --timeout', ['healthcheck', '--url', 'http://127.0.0.1:1/readyz', '--timeout', 'soon'], /--timeout "soon" is not a duration/],
    ['a switch given a value', ['hash-password', '--stdin=yes'], /--stdin takes no value/],
  ];
  for (const [what, args, message] of cases) {
    it(`${what}: portcullis ${args.map((a) => path.basename(a)).join(' ')}`, async () => {
      const r = await runCli(args, { cwd: dir });
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/usage: portcullis /);
      expect(r.stdout).toBe('');
      expect(r.code).toBe(2);
    });
  }

  it('an unknown command, and a sub-command without its verb', async () => {
    const a = await runCli(['chek']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/unknown command "chek"/);
    const b = await runCli(['config']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/did you mean "portcullis config print"/);
  });
});

describe('the forms that are accepted', () => {
  const good = path.join(dir, 'good.yaml');
  writeFileSync(good, 'routes: [{ name: p, match: { path: /p }, respond: { status: 200 } }]\n');
  for (const args of [['check', '--config', good], ['check', `--config=${good}`], ['check', '-c', good], ['check', `-c${good}`]]) {
    it(`portcullis ${args.map((a) => a.replace(dir, 'DIR')).join(' ')}`, async () => {
      const r = await runCli(args);
      expect(r.stdout).toContain(`${good}: ok`);
      expect(r.code).toBe(0);
    });
  }
  it('-- ends the options, so a password may start with a dash', async () => {
    const r = await runCli(['hash-password', '--', '--not-an-option']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\$scrypt\$/);
  });
});

describe('every command has its own --help, which runs nothing', () => {
  for (const cmd of [['start'], ['check'], ['route'], ['config', 'print'], ['token'], ['hash-password'], ['healthcheck']]) {
    it(`portcullis ${cmd.join(' ')} --help`, async () => {
      const r = await runCli([...cmd, '--help'], { cwd: dir });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: portcullis ${cmd.join(' ')}`);
      expect(r.stdout).toMatch(/-h, --help/);
      expect(r.stdout).not.toMatch(/\$scrypt|listening|ok \(/);
      expect(r.stderr).toBe('');
    });
  }
  it('portcullis help check is the same text', async () => {
    const a = await runCli(['help', 'check']);
    const b = await runCli(['check', '-h']);
    expect(a.stdout).toBe(b.stdout);
  });
  it('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    expect(r.stdout.trim()).toBe(VERSION);
  });
});

describe('hash-password', () => {
  it('reads the password from stdin when it is not a terminal', async () => {
    const r = await runCli(['hash-password'], { input: 'hunter2\n' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\$scrypt\$/);
  });

  const python = spawnSync('sh', ['-c', 'command -v python3']).status === 0;
  it.skipIf(!python)('prompts twice without echo on a terminal', () => {
    // A real pseudo-terminal (python's pty), answering each prompt as a person would.
    const script = `
import os, pty, sys, select
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], sys.argv[2], 'hash-password'])
out = b''
answered = 0
for _ in range(400):
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    if answered < 2 and out.count(b': ') > answered:
        os.write(fd, b'pa55word\\r')
        answered += 1
os.waitpid(pid, 0)
sys.stdout.write(out.decode('utf8', 'replace'))
`;
    const r = spawnSync('python3', ['-c', script, process.execPath, CLI], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stdout).toMatch(/Password: /);
    expect(r.stdout).toMatch(/Again: /);
    expect(r.stdout).toMatch(/\$scrypt\$/);
    expect(r.stdout).not.toContain('pa55word');
  });
});
