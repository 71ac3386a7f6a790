// Every example config in native-config/ passes `portcullis check`.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
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
    expect(r.stdout).toContain('ok (5 routes, 2 upstreams)');
  }, 60_000);

  it('native-config/examples/zero-trust.yaml passes check with the certificates docs/mtls.md makes', async () => {
    const dir = tempDir();
    copyFileSync(path.join(ROOT, 'native-config/examples/zero-trust.yaml'), path.join(dir, 'portcullis.yaml'));
    const tls = path.join(dir, 'tls');
    mkdirSync(tls);
    const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: tls, stdio: 'ignore' });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    for (const ca of ['clients-ca', 'internal-ca']) {
      ssl(['req', '-x509', ...ec, '-days', '30', '-subj', `/CN=${ca}`, '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', `${ca}.key`, '-out', `${ca}.pem`]);
    }
    for (const [leaf, ca, ext] of [['server', 'clients-ca', 'subjectAltName=DNS:localhost'], ['gateway-client', 'internal-ca', 'extendedKeyUsage=clientAuth']] as const) {
      writeFileSync(path.join(tls, `${leaf}.ext`), `${ext}\n`);
      ssl(['req', '-new', ...ec, '-subj', `/CN=${leaf}`, '-keyout', `${leaf}.key`, '-out', `${leaf}.csr`]);
      ssl(['x509', '-req', '-in', `${leaf}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '30', '-extfile', `${leaf}.ext`, '-out', `${leaf}.crt`]);
    }
    mkdirSync(path.join(dir, 'keys'));
    // The docs' one-liner for the assertion keys.
    writeFileSync(path.join(dir, 'keys/assertion.jwks.json'), execFileSync(process.execPath, ['-e', "const c=require('crypto');const k=c.generateKeyPairSync('ec',{namedCurve:'P-256'}).privateKey.export({format:'jwk'});console.log(JSON.stringify({keys:[{...k,kid:'assertion-'+new Date().toISOString().slice(0,10)}]}))"]));
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
