// scripts/release makes a Debian package that works unpacked: it depends on a
// supported Node, ships the unit and the production skeleton as a conffile,
// enables the service only after `check` passes, and its app (with the
// production dependencies and the patched uWS binary) checks and serves.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers/gateway.js';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('scripts/release', () => {
  it.skipIf(!has('dpkg-deb'))('makes the tarball, a .deb that works unpacked, and SHA256SUMS', async () => {
    const out = tempDir('portcullis-release-');
    const r = spawnSync('bash', [path.join(ROOT, 'scripts/release'), '--out', out, '--prebuilt'], { cwd: ROOT, encoding: 'utf8', timeout: 400_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const deb = readdirSync(out).find((f) => f.endsWith('.deb'))!;
    expect(deb).toMatch(new RegExp(`^portcullis_${version.replace(/\./g, '\\.')}_[a-z0-9]+\\.deb$`));
    expect(readFileSync(path.join(out, 'SHA256SUMS'), 'utf8')).toContain(deb);

    const info = spawnSync('dpkg-deb', ['-I', path.join(out, deb)], { encoding: 'utf8' }).stdout;
    expect(info).toMatch(/Depends: nodejs \(>= (2\d|[3-9]\d)\), nodejs \(<< \d+\), systemd/);
    const field = (f: string) => spawnSync('dpkg-deb', ['-f', path.join(out, deb), f], { encoding: 'utf8' }).stdout.trim();
    expect(field('Package')).toBe('portcullis');
    const ctl = tempDir('portcullis-deb-ctl-');
    spawnSync('dpkg-deb', ['-e', path.join(out, deb), ctl]);
    expect(readFileSync(path.join(ctl, 'conffiles'), 'utf8')).toContain('/etc/portcullis/portcullis.yaml');
    const postinst = readFileSync(path.join(ctl, 'postinst'), 'utf8');
    expect(postinst.indexOf('check --config /etc/portcullis/portcullis.yaml')).toBeGreaterThan(0);
    expect(postinst.indexOf('check --config')).toBeLessThan(postinst.indexOf('systemctl enable'));

    const root = tempDir('portcullis-deb-root-');
    expect(spawnSync('dpkg-deb', ['-x', path.join(out, deb), root]).status).toBe(0);
    expect(readFileSync(path.join(root, 'lib/systemd/system/portcullis.service'), 'utf8')).toBe(readFileSync(path.join(ROOT, 'native-config/portcullis.service'), 'utf8'));
    const app = path.join(root, 'opt/portcullis');
    expect(readdirSync(path.join(app, 'node_modules'))).not.toContain('typescript');
    const cli = path.join(app, 'dist/cli.js');
    const etc = path.join(root, 'etc/portcullis/portcullis.yaml');
    expect(readFileSync(etc, 'utf8')).toMatch(/^# yaml-language-server: \$schema=\/opt\/portcullis\/native-config\/portcullis\.schema\.json/);
    const check = spawnSync(process.execPath, [cli, 'check', '--config', etc], { encoding: 'utf8', timeout: 30_000 });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);

    // The packaged app serves with the uWS binary it ships.
    const cfg = path.join(root, 'serve.yaml');
    writeFileSync(cfg, 'server: { listen: [{ host: 127.0.0.1, port: 0 }] }\nroutes: [{ name: ping, match: { path: /ping }, respond: { status: 200, body: pong } }]\n');
    const gw = spawn(process.execPath, [cli, 'start', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let buf = '';
        const t = setTimeout(() => reject(new Error(`no listening line: ${buf}`)), 20_000);
        gw.stderr.on('data', (d: Buffer) => {
          buf += d.toString();
          const m = /\{[^\n]*portcullis listening[^\n]*\}/.exec(buf);
          if (m) { clearTimeout(t); resolve(m[0]); }
        });
        gw.once('exit', (code) => { clearTimeout(t); reject(new Error(`exited ${code}: ${buf}`)); });
      });
      const url = (JSON.parse(line) as { listeners: string[] }).listeners[0]!;
      expect(await (await fetch(`${url}/ping`)).text()).toBe('pong');
    } finally {
      gw.kill('SIGTERM');
    }
  }, 420_000);

  it('refuses a usage mistake with exit 2', () => {
    const r = spawnSync('bash', [path.join(ROOT, 'scripts/release'), '--out'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--out needs a directory/);
  });
});
