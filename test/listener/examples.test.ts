// Every example config in native-config/ passes `portcullis check`.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli, tempDir } from '../helpers/gateway.js';

describe('example configs', () => {
  it('native-config/examples/everything.yaml passes check once its files exist', async () => {
    const dir = tempDir();
    copyFileSync(path.join(ROOT, 'native-config/examples/everything.yaml'), path.join(dir, 'portcullis.yaml'));
    mkdirSync(path.join(dir, 'secrets'));
    mkdirSync(path.join(dir, 'tls'));
    writeFileSync(path.join(dir, 'secrets/admin-token'), 'a'.repeat(32));
    writeFileSync(path.join(dir, 'secrets/oidc'), 'client-secret');
    writeFileSync(path.join(dir, 'secrets/session'), 's'.repeat(48));
    writeFileSync(path.join(dir, 'users.htpasswd'), execFileSync('htpasswd', ['-nbB', 'partner', 'pw'], { encoding: 'utf8' }));
    writeFileSync(path.join(dir, 'api-keys.yaml'), `- consumer: acme\n  key_sha256: ${'ab'.repeat(32)}\n`);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1',
      '-keyout', path.join(dir, 'tls/server.key'), '-out', path.join(dir, 'tls/server.crt')], { stdio: 'ignore' });
    process.env.INTROSPECT_SECRET = 'introspection-client-secret';
    const r = await runCli(['check', '--config', path.join(dir, 'portcullis.yaml')], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ok (6 routes, 2 upstreams)');
  }, 60_000);

  it('native-config/examples/zero-trust.yaml passes check with the certificates and keys docs/mtls.md makes', async () => {
    const dir = tempDir();
    copyFileSync(path.join(ROOT, 'native-config/examples/zero-trust.yaml'), path.join(dir, 'portcullis.yaml'));
    const tls = path.join(dir, 'tls');
    mkdirSync(tls);
    // The docs' own commands, as written: every sh block of section 1, run in tls/.
    const doc = readFileSync(path.join(ROOT, 'docs/mtls.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## 1. Make the certificates'), doc.indexOf('## 2.'));
    const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    execFileSync('bash', ['-euc', blocks.join('\n')], { cwd: tls, stdio: 'ignore' });
    expect(execFileSync('openssl', ['verify', '-CAfile', 'clients-ca.pem', 'device42.crt', 'server.crt'], { cwd: tls, encoding: 'utf8' })).toBe('device42.crt: OK\nserver.crt: OK\n');
    expect(execFileSync('openssl', ['verify', '-CAfile', 'internal-ca.pem', 'gateway-client.crt'], { cwd: tls, encoding: 'utf8' })).toBe('gateway-client.crt: OK\n');
    // And the docs' command for the assertion keys.
    expect(doc).toContain('portcullis keygen assertion --out keys/assertion.jwks.json');
    expect((await runCli(['keygen', 'assertion', '--out', 'keys/assertion.jwks.json'], { cwd: dir })).code).toBe(0);
    const r = await runCli(['check', '--config', path.join(dir, 'portcullis.yaml')], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ok (3 routes, 2 upstreams)');
  }, 60_000);

  it('check refuses a TLS key that does not belong to the certificate', async () => {
    const dir = tempDir();
    for (const n of ['a', 'b']) {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1',
        '-keyout', path.join(dir, `${n}.key`), '-out', path.join(dir, `${n}.crt`)], { stdio: 'ignore' });
    }
    writeFileSync(path.join(dir, 'p.yaml'), [
      'server: { listen: [{ host: 127.0.0.1, port: 8443, tls: { cert: a.crt, key: b.key } }, { host: 127.0.0.1, port: 8444, tls: { cert: missing.crt, key: a.key } }] }',
      'routes: [{ name: ping, match: { path: /ping }, anonymous: true, respond: { status: 200 } }]',
    ].join('\n'));
    const r = await runCli(['check', '--config', path.join(dir, 'p.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('server.listen[0].tls.key: this private key does not belong to the certificate in tls.cert');
    expect(r.stderr).toMatch(/server\.listen\[1\]\.tls\.cert: .*missing\.crt: file not found/);
  }, 60_000);

  it('check refuses port 0 with several event-loop threads', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'p.yaml'), 'server: { listen: [{ host: 127.0.0.1, port: 0 }], threads: 2 }\nroutes: [{ name: p, match: { path: /p }, anonymous: true, respond: { status: 200 } }]\n');
    const r = await runCli(['check', '--config', path.join(dir, 'p.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('server.listen[0].port: port 0 (a port the kernel picks) cannot be shared by 2 event-loop threads; give a fixed port');
  });

  it('the embedded default config passes check', async () => {
    const r = await runCli(['check']);
    // It needs the demo key set that `npm start` makes; say so when it is absent.
    if (r.code !== 0) expect(r.stderr).toMatch(/jwks_file|\.demo/);
    else expect(r.stdout).toContain('ok (4 routes, 2 upstreams)');
  });
});
