// upstreams.*.tls → the options both upstream clients hand to tls.connect,
// read once at load (files, passphrase), with every problem named by its
// config path. And which client-side errors are TLS handshake failures
// (answered 502 upstream_tls, so an operator sees a trust problem, not a
// generic upstream error).
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { buildConnector } from 'undici';
import type { CompileContext } from '../config/load.js';
import type { UpstreamConfig } from '../config/schema.js';
import { TLS_RESET_AFTER_HANDSHAKE } from './h1/errors.js';

/** What tls.connect (native client) and undici's connect options take. */
export interface UpstreamTlsOptions {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly passphrase?: string;
  readonly servername?: string;
}

export function compileUpstreamTls(cfg: UpstreamConfig, at: string, ctx: CompileContext): UpstreamTlsOptions | null {
  const t = cfg.tls;
  if (t === undefined) return null;
  const where = `${at}.tls`;
  if (!cfg.targets.some((u) => /^https:/i.test(u))) {
    ctx.issue(where, 'tls applies to https:// targets only: write the targets as https://… or remove tls');
  }
  const read = (field: 'ca' | 'cert' | 'key'): string | undefined => {
    const p = t[field];
    if (p === undefined) return undefined;
    const file = ctx.resolvePath(p);
    try {
      return readFileSync(file, 'utf8');
    } catch (e) {
      ctx.issue(`${where}.${field}`, `${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'cannot be read'}`);
      return undefined;
    }
  };
  const ca = read('ca');
  const cert = read('cert');
  const key = read('key');
  if ((t.cert === undefined) !== (t.key === undefined)) {
    ctx.issue(`${where}.${t.cert === undefined ? 'cert' : 'key'}`, 'a client certificate needs both tls.cert and tls.key');
  }
  if (ca !== undefined && !/-----BEGIN CERTIFICATE-----/.test(ca)) ctx.issue(`${where}.ca`, 'no PEM certificate in it (-----BEGIN CERTIFICATE-----)');
  const passphrase = ctx.secret(t, 'passphrase', where, false);
  if (cert !== undefined && key !== undefined) {
    try {
      const c = new X509Certificate(cert);
      if (!c.checkPrivateKey(createPrivateKey({ key, passphrase }))) ctx.issue(`${where}.key`, 'this private key does not belong to the certificate in tls.cert');
    } catch {
      ctx.issue(`${where}.cert`, 'tls.cert must be a PEM certificate and tls.key its PEM private key (encrypted? set tls.passphrase_file)');
    }
  }
  const out: { -readonly [K in keyof UpstreamTlsOptions]: UpstreamTlsOptions[K] } = {};
  if (ca !== undefined) out.ca = ca;
  if (cert !== undefined) out.cert = cert;
  if (key !== undefined) out.key = key;
  if (passphrase !== undefined) out.passphrase = passphrase;
  if (t.server_name !== undefined) out.servername = t.server_name;
  return Object.freeze(out);
}

/**
 * A handshake failure: the upstream's certificate not trusted or not for the
 * name (OpenSSL verify codes, node's ERR_TLS_*), or the upstream refusing
 * ours (an alert: ERR_SSL_*, e.g. TLSV13_ALERT_CERTIFICATE_REQUIRED).
 */
export function isTlsFailure(code: string): boolean {
  return code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.startsWith('UNABLE_TO_') ||
    code.includes('CERT') || code === 'HOSTNAME_MISMATCH';
}

/**
 * undici's connector for an https:// target, reporting the upstream's refusal
 * of our client certificate as a TLS failure. Under TLS 1.3 that refusal is an
 * alert read after the handshake; undici, seeing the socket end next, reported
 * "other side closed" instead. Ending the socket on the TLS error keeps it as
 * the request's error; a reset before any response byte is renamed likewise
 * (TLS_RESET_AFTER_HANDSHAKE).
 */
export function undiciTlsConnector(options: buildConnector.BuildOptions): buildConnector.connector {
  const connect = buildConnector(options);
  return (opts, callback) => connect(opts, (err, socket) => {
    if (err === null && socket) socket.prependListener('error', (e: NodeJS.ErrnoException) => refusal(socket, e));
    (callback as (e: Error | null, s: Socket | null) => void)(err, socket);
  });
}

function refusal(socket: Socket, e: NodeJS.ErrnoException): void {
  if (e.code === 'ECONNRESET' && socket.bytesRead === 0) e.code = TLS_RESET_AFTER_HANDSHAKE;
  if (isTlsFailure(e.code ?? '')) socket.destroy();
}
