// `portcullis check` names the field and the fix for mTLS, SNI, upstream
// TLS and identity-assertion mistakes, before anything listens.
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/gateway.js';
import { makeCa, makeLeaf } from '../helpers/pki.js';

describe('check: zero-trust fields', () => {
  it('lists every mistake with its config path', async () => {
    const dir = tempDir('portcullis-mtls-check-');
    const ca = makeCa(dir, 'ca');
    makeLeaf(ca, 'server', { cn: 'localhost', dns: ['localhost'], usage: 'server' });
    makeLeaf(ca, 'leaf', { cn: 'leaf' });
    makeLeaf(ca, 'other', { cn: 'other' });
    copyFileSync(path.join(dir, 'leaf.crt'), path.join(dir, 'not-a-ca.pem'));
    writeFileSync(path.join(dir, 'keys.json'), JSON.stringify({ keys: [{ kty: 'oct', k: 'AAAA', kid: 'x' }] }));
    writeFileSync(path.join(dir, 'p.yaml'), [
      'server:',
      '  listen:',
      '    - { host: 127.0.0.1, port: 8443, tls: { cert: server.crt, key: server.key, client_ca: not-a-ca.pem, sni: [{ server_name: a.example.com, cert: leaf.crt, key: other.key }] } }',
      '    - { host: 127.0.0.1, port: 8444, tls: { cert: server.crt, key: server.key, client_cert: optional } }',
      'identity_assertion: { issuer: https://gw.example, keys_file: keys.json }',
      'upstreams:',
      '  plain: { targets: [http://127.0.0.1:9001], tls: { ca: ca.crt } }',
      '  half: { targets: [https://127.0.0.1:9002], tls: { cert: leaf.crt } }',
      '  mismatched: { targets: [https://127.0.0.1:9003], tls: { cert: leaf.crt, key: other.key } }',
      'authenticators:',
      '  devices: { type: mtls, consumer_from: san_uri, deny_fingerprints: [nothex] }',
      'routes: [{ name: r, match: { path: / }, authenticate: [devices], identity_assertion: true, upstream: plain }]',
    ].join('\n'));
    const r = await runCli(['check', '--config', path.join(dir, 'p.yaml')]);
    expect(r.code).toBe(1);
    // Schema errors are reported first, on their own; fix them and check again.
    expect(r.stderr).toContain('authenticators.devices.deny_fingerprints[0]: must be a SHA-256 fingerprint');
    writeFileSync(path.join(dir, 'p.yaml'), (await import('node:fs')).readFileSync(path.join(dir, 'p.yaml'), 'utf8').replace('deny_fingerprints: [nothex]', 'deny_fingerprints: []'));
    const r2 = await runCli(['check', '--config', path.join(dir, 'p.yaml')]);
    expect(r2.code).toBe(1);
    for (const want of [
      'server.listen[0].tls.client_ca: ', 'is not a CA certificate',
      'server.listen[0].tls.sni[0].key: this private key does not belong to the certificate',
      'server.listen[1].tls.client_cert: client_cert needs tls.client_ca',
      'identity_assertion.keys_file: ', 'algorithm ES256 needs an EC P-256 key',
      'upstreams.plain.tls: tls applies to https:// targets only',
      'upstreams.half.tls.key: a client certificate needs both tls.cert and tls.key',
      'upstreams.mismatched.tls.key: this private key does not belong to the certificate in tls.cert',
    ]) expect(r2.stderr).toContain(want);
  }, 60_000);
});
