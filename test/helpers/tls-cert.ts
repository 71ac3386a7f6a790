// A throwaway self-signed certificate for localhost / 127.0.0.1 (openssl is
// installed by scripts/test-setup.sh), for TLS listener and upstream tests.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** Writes NAME.key and NAME.crt into dir; returns their paths. */
export function selfSignedCert(dir: string, name: string): { key: string; cert: string } {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.crt`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { key, cert };
}
