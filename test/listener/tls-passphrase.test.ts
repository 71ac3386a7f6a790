// An encrypted TLS key with its passphrase from a file (*_file secrets work for TLS too).
import { execFileSync } from 'node:child_process';
import https from 'node:https';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, tempDir, type RunningGateway } from '../helpers/gateway.js';

describe('TLS key with passphrase_file', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    const dir = tempDir();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-subj', '/CN=localhost', '-days', '1',
      '-passout', 'pass:s3cret-pass', '-keyout', path.join(dir, 'enc.key'), '-out', path.join(dir, 'enc.crt')], { stdio: 'ignore' });
    writeFileSync(path.join(dir, 'pass.txt'), 's3cret-pass\n');
    gw = await startGateway({
      server: { listen: [{ host: '127.0.0.1', port: 0, tls: { cert: 'enc.crt', key: 'enc.key', passphrase_file: 'pass.txt' } }] },
      routes: [{ name: 'ping', match: { path: '/ping' }, anonymous: true, respond: { status: 200, body: 'pong' } }],
    }, { dir });
  });
  afterAll(async () => { await gw?.stop(); });

  it('serves HTTPS with the decrypted key', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port: gw.ports[0], path: '/ping', rejectUnauthorized: false }, (res) => {
        let t = '';
        res.on('data', (c: Buffer) => { t += c; });
        res.on('end', () => resolve(t));
      }).on('error', reject);
    });
    expect(body).toBe('pong');
  });
});
