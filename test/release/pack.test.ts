// The npm tarball is installable on a machine without dev tools: it ships
// dist/ (built by prepack), postinstall only patches uWS, and the installed
// `portcullis` runs. The install uses npm's cache first (--prefer-offline):
// in CI `npm ci` has just filled it with every production dependency, so no
// tarball is downloaded again (package metadata may still be asked for).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers/gateway.js';

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  version: string; files: string[]; scripts: Record<string, string>; devDependencies: Record<string, string>;
};

describe('the npm package', () => {
  it('builds dist at pack time and needs no dev dependency to install', () => {
    expect(pkg.scripts.prepack).toBe('npm run build');
    expect(pkg.files).toContain('dist/');
    const post = pkg.scripts.postinstall ?? '';
    for (const dev of Object.keys(pkg.devDependencies)) expect(post, `postinstall uses ${dev}`).not.toMatch(new RegExp(`\\b${dev}\\b`));
    expect(post).not.toMatch(/\btsc\b|npm run build/);
  });

  it('packs, installs into a fresh prefix, and runs: --version, check of the shipped skeleton, start', async () => {
    const dir = tempDir('portcullis-pack-');
    // dist is built by the test run (npm test builds first); pack it as it is.
    const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(pack.status, pack.stderr).toBe(0);
    const tgz = path.join(dir, `portcullis-${pkg.version}.tgz`);
    expect(existsSync(tgz)).toBe(true);
    const list = spawnSync('tar', ['-tzf', tgz], { encoding: 'utf8' }).stdout.split('\n');
    expect(list).toContain('package/dist/cli.js');
    expect(list).toContain('package/LICENSE');
    expect(list).toContain('package/native-config/production.yaml');
    expect(list.some((f) => f.startsWith('package/src/') || f.startsWith('package/test/'))).toBe(false);

    const prefix = path.join(dir, 'prefix');
    // PATH without the repo's node_modules/.bin: no tsc can be found by accident.
    const env = { ...process.env, PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, npm_config_update_notifier: 'false' };
    const inst = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts', tgz], { cwd: dir, encoding: 'utf8', env, timeout: 300_000 });
    expect(inst.status, inst.stdout + inst.stderr).toBe(0);
    const lib = path.join(prefix, 'lib', 'node_modules', 'portcullis');
    expect(readdirSync(path.join(lib, 'node_modules'))).not.toContain('typescript');
    const bin = path.join(prefix, 'bin', 'portcullis');
    const v = spawnSync(bin, ['--version'], { encoding: 'utf8', env, timeout: 30_000 });
    expect(v.stdout.trim()).toBe(pkg.version);
    expect(v.status).toBe(0);
    const c = spawnSync(bin, ['check', '--config', path.join(lib, 'native-config', 'production.yaml')], { encoding: 'utf8', env, timeout: 30_000 });
    expect(c.stderr).toBe('');
    expect(c.status).toBe(0);

    // The installed gateway serves (its uWS binary loads here: patched by postinstall on glibc < 2.38).
    const cfg = path.join(dir, 'serve.yaml');
    writeFileSync(cfg, 'server: { listen: [{ host: 127.0.0.1, port: 0 }] }\nroutes: [{ name: ping, match: { path: /ping }, respond: { status: 200, body: pong } }]\n');
    const gw = spawn(bin, ['start', '--config', cfg], { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
      const r = await fetch(`${url}/ping`);
      expect(await r.text()).toBe('pong');
    } finally {
      gw.kill('SIGTERM');
    }
  }, 420_000);
});
