// A throwaway PKI for mutual-TLS tests, made with openssl (as docs/mtls.md
// tells users to): a CA, and leaf certificates it signs with chosen subject
// CN, SAN URIs / DNS names, and extended key usage (client or server).
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface CaFiles {
  readonly dir: string;
  readonly name: string;
  readonly key: string;
  readonly cert: string;
  readonly pem: string;
}

export interface LeafFiles {
  readonly key: string;
  readonly cert: string;
  readonly pem: string;
  readonly keyPem: string;
  /** SHA-256 of the DER, lower-case hex (what deny_fingerprints and the fingerprint claim hold). */
  readonly fingerprint: string;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA certificate (EC P-256, basicConstraints CA:TRUE) in dir as NAME.key / NAME.crt. */
export function makeCa(dir: string, name: string): CaFiles {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.crt`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', key, '-out', cert]);
  return { dir, name, key, cert, pem: readFileSync(cert, 'utf8') };
}

export interface LeafOptions {
  readonly cn: string;
  /** Subject parts before CN (less specific), e.g. '/O=Example'. */
  readonly subjectPrefix?: string;
  readonly uris?: readonly string[];
  readonly dns?: readonly string[];
  readonly ips?: readonly string[];
  /** clientAuth (default) or serverAuth. */
  readonly usage?: 'client' | 'server';
  /** Validity in days (default 2). */
  readonly days?: number;
}

/** A leaf certificate signed by `ca`, in ca.dir as NAME.key / NAME.crt. */
export function makeLeaf(ca: CaFiles, name: string, o: LeafOptions): LeafFiles {
  const dir = ca.dir;
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.crt`);
  const ext = path.join(dir, `${name}.ext`);
  const sans = [...(o.uris ?? []).map((u) => `URI:${u}`), ...(o.dns ?? []).map((d) => `DNS:${d}`), ...(o.ips ?? []).map((i) => `IP:${i}`)];
  writeFileSync(ext, [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${o.usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
    ...(sans.length ? [`subjectAltName=${sans.join(',')}`] : []),
  ].join('\n') + '\n');
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-subj', `${o.subjectPrefix ?? ''}/CN=${o.cn}`, '-keyout', key, '-out', csr]);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', String(o.days ?? 2),
    '-extfile', ext, '-out', cert]);
  const pem = readFileSync(cert, 'utf8');
  return { key, cert, pem, keyPem: readFileSync(key, 'utf8'), fingerprint: fingerprintOf(pem) };
}

export function fingerprintOf(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}
