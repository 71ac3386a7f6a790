// The systemd side: the unit passes `systemd-analyze verify`, install-service
// --dry-run plans the documented steps, and readiness notifications reach a
// real notify socket (a unix datagram socket, served by python3 as systemd
// would; Node cannot bind one itself).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { notifyReady, notifyReloading, notifyStopping } from '../../src/observe/sd-notify.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const UNIT = path.join(ROOT, 'native-config/portcullis.service');
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

const cleanup: (() => void)[] = [];
afterEach(() => { while (cleanup.length) cleanup.pop()!(); });

function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'portcullis-sd-'));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Runs `systemd-analyze verify` on a copy of `text`; /usr/bin/node is swapped for this node when absent. */
function verify(text: string): { code: number; output: string } {
  const dir = tmp();
  const file = path.join(dir, 'portcullis.service');
  writeFileSync(file, existsSync('/usr/bin/node') ? text : text.replaceAll('/usr/bin/node ', `${process.execPath} `));
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, output: (r.stdout + r.stderr).trim() };
}

describe('systemd unit', () => {
  it.skipIf(!has('systemd-analyze'))('passes systemd-analyze verify without a single warning', () => {
    const r = verify(readFileSync(UNIT, 'utf8'));
    expect(r.output).toBe('');
    expect(r.code).toBe(0);
  });

  it.skipIf(!has('systemd-analyze'))('would be caught by the verification if it were wrong', () => {
    const unit = readFileSync(UNIT, 'utf8');
    expect(verify(unit.replace('NoNewPrivileges=yes', 'NoNewPrivilegs=yes')).output).toMatch(/Unknown key/);
    expect(verify(unit.replace(/^Type=notify$/m, 'Type=notfy')).output).toMatch(/service type/);
  });

  it('is hardened, notifies readiness, and reloads with a check then SIGHUP', () => {
    const unit = readFileSync(UNIT, 'utf8');
    const directives = new Map<string, string[]>();
    for (const line of unit.split('\n')) {
      const m = /^([A-Za-z]+)=(.*)$/.exec(line);
      if (m) directives.set(m[1]!, [...(directives.get(m[1]!) ?? []), m[2]!]);
    }
    const one = (k: string) => directives.get(k)?.join(' | ');
    expect(one('Type')).toBe('notify');
    expect(one('NotifyAccess')).toBe('all');
    expect(one('User')).toBe('portcullis');
    expect(one('ExecStart')).toBe('/usr/bin/node --no-allocation-site-pretenuring /opt/portcullis/dist/cli.js start --config /etc/portcullis/portcullis.yaml');
    expect(directives.get('ExecReload')).toEqual([
      '/usr/bin/node /opt/portcullis/dist/cli.js check --config /etc/portcullis/portcullis.yaml',
      '/bin/kill -HUP $MAINPID',
    ]);
    for (const [k, v] of [
      ['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'],
      ['CapabilityBoundingSet', 'CAP_NET_BIND_SERVICE'], ['AmbientCapabilities', 'CAP_NET_BIND_SERVICE'],
      ['LimitNOFILE', '1048576'], ['Restart', 'on-failure'],
    ]) expect(one(k!), k).toBe(v);
    expect(directives.has('MemoryDenyWriteExecute')).toBe(false); // V8's JIT needs W+X pages
  });
});

describe('install-service', () => {
  it('plans user, config, build, check, swap, unit, logrotate and enable in --dry-run, changing nothing', () => {
    const r = spawnSync('bash', [path.join(ROOT, 'scripts/install-service'), '--dry-run', '--prefix', '/opt/pc-test-never-created'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = r.stdout;
    const order = [
      /\+ (useradd --system .* portcullis|.*)/, /install -d -m 0750 -o root -g portcullis \/etc\/portcullis/,
      /npm ci/, /npm run build/, /npm prune --omit=dev/,
      // The config is checked with the new build before it is swapped in.
      /pc-test-never-created.staging\/dist\/cli.js check --config \/etc\/portcullis\/portcullis.yaml/,
      /mv \/opt\/pc-test-never-created.staging \/opt\/pc-test-never-created/,
      /\/etc\/systemd\/system\/portcullis.service/,
      /write \/etc\/logrotate.d\/portcullis/, /systemctl daemon-reload/, /systemctl enable portcullis.service/, /systemctl restart portcullis.service/,
    ];
    let at = 0;
    for (const re of order) {
      const m = re.exec(out.slice(at));
      expect(m, String(re)).not.toBeNull();
      at += m!.index + m![0].length;
    }
    expect(out).toMatch(/systemctl kill --signal=USR1 --kill-who=main portcullis.service/);
    expect(existsSync('/opt/pc-test-never-created')).toBe(false);
    expect(existsSync('/opt/pc-test-never-created.staging')).toBe(false);
  });

  it('installs the production skeleton, never the demo config', () => {
    const r = spawnSync('bash', [path.join(ROOT, 'scripts/install-service'), '--dry-run', '--config-dir', '/etc/pc-test-never-created'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/install -m 0640 -o root -g portcullis \S*native-config\/production.yaml \/etc\/pc-test-never-created\/portcullis.yaml/);
    expect(r.stdout).not.toMatch(/native-config\/portcullis.yaml/);
    expect(r.stdout).toMatch(/next step: .*portcullis check --config/);
  });

  it('--destdir stages every file under DIR, the config passes check with the staged build, and a bad config swaps nothing in', () => {
    const dest = tmp();
    const script = path.join(ROOT, 'scripts/install-service');
    const etc = path.join(dest, 'etc/portcullis');
    // First a config the new build refuses: nothing is swapped in, no unit is written.
    mkdirSync(etc, { recursive: true });
    writeFileSync(path.join(etc, 'portcullis.yaml'), 'routes:\n  - { name: x, match: { path: /x }, upstream: nowhere, anonymous: true }\n');
    const systemBefore = existsSync('/opt/portcullis.staging');
    const bad = spawnSync('bash', [script, '--destdir', dest], { encoding: 'utf8', timeout: 300_000 });
    expect(bad.status, bad.stdout + bad.stderr).toBe(1);
    expect(bad.stderr).toMatch(/routes\[0\]\.upstream: unknown upstream "nowhere"/);
    expect(bad.stderr).toMatch(/nothing was swapped in/);
    expect(existsSync(path.join(dest, 'opt/portcullis'))).toBe(false);
    expect(existsSync(path.join(dest, 'etc/systemd/system/portcullis.service'))).toBe(false);

    // A fresh destination: the skeleton is installed and passes.
    rmSync(path.join(dest, 'etc'), { recursive: true, force: true });
    rmSync(path.join(dest, 'opt'), { recursive: true, force: true });
    const good = spawnSync('bash', [script, '--destdir', dest], { encoding: 'utf8', timeout: 300_000 });
    expect(good.status, good.stdout + good.stderr).toBe(0);
    for (const f of ['opt/portcullis/dist/cli.js', 'etc/portcullis/portcullis.yaml', 'etc/systemd/system/portcullis.service', 'etc/logrotate.d/portcullis']) {
      expect(existsSync(path.join(dest, f)), f).toBe(true);
    }
    expect(existsSync(path.join(dest, 'opt/portcullis/node_modules/typescript'))).toBe(false);
    const cfg = readFileSync(path.join(etc, 'portcullis.yaml'), 'utf8');
    expect(cfg).toBe(readFileSync(path.join(ROOT, 'native-config/production.yaml'), 'utf8')
      .replace(/^# yaml-language-server: .*$/m, '# yaml-language-server: $schema=/opt/portcullis/native-config/portcullis.schema.json'));
    expect(cfg).not.toMatch(/demo/);
    const check = spawnSync(process.execPath, [path.join(dest, 'opt/portcullis/dist/cli.js'), 'check', '--config', path.join(etc, 'portcullis.yaml')], { encoding: 'utf8', timeout: 30_000 });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    expect(good.stdout).toMatch(/skipped \(--destdir\): systemctl enable/);
    expect(existsSync('/opt/portcullis.staging')).toBe(systemBefore);
  }, 620_000);

  it('refuses node older than 20 and a node under a home directory, saying how to get one', () => {
    const script = path.join(ROOT, 'scripts/install-service');
    const bin = tmp();
    writeFileSync(path.join(bin, 'node'), '#!/bin/sh\necho 18\n', { mode: 0o755 });
    const old = spawnSync('bash', [script, '--dry-run'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, PATH: `${bin}:/usr/bin:/bin` } });
    expect(old.status).toBe(1);
    expect(old.stderr).toMatch(/too old: Portcullis needs Node.js 20 or newer/);
    expect(old.stderr).toMatch(/deb\.nodesource\.com/);
    expect(old.stderr).toMatch(/Debian 12's own nodejs package is 18/);

    const home = homedir();
    if (!/^\/(home|root)(\/|$)/.test(home)) return;
    const inHome = mkdtempSync(path.join(home, '.portcullis-test-node-'));
    cleanup.push(() => rmSync(inHome, { recursive: true, force: true }));
    symlinkSync(process.execPath, path.join(inHome, 'node'));
    const r = spawnSync('bash', [script, '--dry-run'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, PATH: `${inHome}:/usr/bin:/bin` } });
    // The symlink resolves to this node: refused only when that is itself under a home directory.
    if (/^\/(home|root)\//.test(process.execPath)) expect(r.status).toBe(1);
    const fake = path.join(inHome, 'fake-node');
    writeFileSync(fake, '#!/bin/sh\necho 20\n', { mode: 0o755 });
    rmSync(path.join(inHome, 'node'));
    symlinkSync(fake, path.join(inHome, 'node'));
    const h = spawnSync('bash', [script, '--dry-run'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, PATH: `${inHome}:/usr/bin:/bin` } });
    expect(h.status).toBe(1);
    expect(h.stderr).toMatch(/under a home directory: the unit runs with ProtectHome=yes/);
  });

  it('refuses unknown options with usage', () => {
    const r = spawnSync('bash', [path.join(ROOT, 'scripts/install-service'), '--frobnicate'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown option --frobnicate/);
  });
});

describe('sd_notify', () => {
  it('does nothing without NOTIFY_SOCKET', async () => {
    const saved = process.env.NOTIFY_SOCKET;
    delete process.env.NOTIFY_SOCKET;
    try {
      expect(await notifyReady()).toBe(false);
    } finally {
      if (saved !== undefined) process.env.NOTIFY_SOCKET = saved;
    }
  });

  it.skipIf(!has('python3') || !has('systemd-notify'))('sends READY=1, RELOADING=1 and STOPPING=1 to the notify socket', async () => {
    const dir = tmp();
    const sock = path.join(dir, 'notify.sock');
    const receiver = path.join(dir, 'receiver.py');
    // Receives datagrams like systemd does, closing any passed fd (systemd-notify's BARRIER=1 waits for that).
    writeFileSync(receiver, [
      'import socket, sys, os, array',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      's.bind(sys.argv[1])',
      'print("bound", flush=True)',
      's.settimeout(20)',
      'while True:',
      '    try:',
      '        msg, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(16 * 4))',
      '    except socket.timeout:',
      '        break',
      '    for level, typ, data in anc:',
      '        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:',
      '            fds = array.array("i"); fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])',
      '            for fd in fds: os.close(fd)',
      '    print("MSG " + msg.decode().replace("\\n", "|"), flush=True)',
    ].join('\n'));
    const py: ChildProcess = spawn('python3', [receiver, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanup.push(() => { if (py.exitCode === null) py.kill(); });
    let out = '';
    py.stdout!.setEncoding('utf8');
    py.stdout!.on('data', (c: string) => (out += c));
    const deadline = Date.now() + 10_000;
    while (!out.includes('bound') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(out).toContain('bound');

    const saved = process.env.NOTIFY_SOCKET;
    process.env.NOTIFY_SOCKET = sock;
    try {
      expect(await notifyReady('listening on :8080')).toBe(true);
      expect(await notifyReloading()).toBe(true);
      expect(await notifyStopping()).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.NOTIFY_SOCKET; else process.env.NOTIFY_SOCKET = saved;
    }
    const until = Date.now() + 10_000;
    while (!out.includes('STOPPING=1') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const msgs = out.split('\n').filter((l) => l.startsWith('MSG ') && !l.includes('BARRIER=1'));
    expect(msgs[0]).toMatch(/READY=1/);
    expect(msgs[0]).toMatch(/STATUS=listening on :8080/);
    expect(msgs[1]).toMatch(/RELOADING=1/);
    expect(msgs[2]).toMatch(/STOPPING=1/);
  });
});

