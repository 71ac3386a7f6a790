// The systemd side: the unit passes `systemd-analyze verify`, install-service
// --dry-run plans the documented steps, and readiness notifications reach a
// real notify socket (a unix datagram socket, served by python3 as systemd
// would; Node cannot bind one itself).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
  it('plans user, config, build, unit, logrotate and enable in --dry-run, changing nothing', () => {
    const r = spawnSync('bash', [path.join(ROOT, 'scripts/install-service'), '--dry-run', '--prefix', '/opt/pc-test-never-created'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = r.stdout;
    const order = [
      /\+ (useradd --system .* portcullis|.*)/, /install -d -m 0750 -o root -g portcullis \/etc\/portcullis/,
      /npm ci/, /npm prune --omit=dev/, /mv \/opt\/pc-test-never-created.staging \/opt\/pc-test-never-created/,
      /cli.js check --config \/etc\/portcullis\/portcullis.yaml/, /\/etc\/systemd\/system\/portcullis.service/,
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

