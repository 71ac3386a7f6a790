// Helpers for the end-to-end tests: a node:http client that opens a fresh
// connection per request and never rewrites the path, keys and tokens made at
// test time with jose, free ports, bounded polling. Only 127.0.0.1.
import http from 'node:http';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import * as jose from 'jose';
export { freePort } from '../helpers/ports.js';
import { sleep } from '../helpers/time.js';
export { sleep };

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Header lines as received: [name, value, …] (repeated names kept apart). */
  rawHeaders: string[];
  body: string;
  /** Parsed body when it is JSON, else undefined. */
  json: Record<string, unknown> | undefined;
}

/**
 * One request on a new connection (agent: false), path sent as given
 * (`/public/../internal/x` stays as is). Resolves with status, headers, body.
 */
export function request(
  base: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string | string[]>; body?: string | Buffer; timeoutMs?: number } = {},
): Promise<Reply> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname, port: Number(u.port), method: opts.method ?? 'GET', path, headers: opts.headers, agent: false,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> | undefined;
        try { json = JSON.parse(body) as Record<string, unknown>; } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body, json });
      });
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error(`no answer to ${path} within ${opts.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}


/** True when something accepts connections on 127.0.0.1:port. */
export function portBusy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(true));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
  });
}

/** Every value of one header, as separate lines. */
export function headerLines(r: Reply, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < r.rawHeaders.length; i += 2) if (r.rawHeaders[i]!.toLowerCase() === name) out.push(r.rawHeaders[i + 1]!);
  return out;
}


/** Calls `fn` until it returns a truthy value, at most `tries` times `gapMs` apart; returns the last value. */
export async function poll<T>(fn: () => Promise<T>, tries = 40, gapMs = 250): Promise<T> {
  let v = await fn();
  for (let i = 1; i < tries && !v; i++) {
    await sleep(gapMs);
    v = await fn();
  }
  return v;
}

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  /** Public JWK with kid, alg and use. */
  readonly jwk: jose.JWK;
  /** SPKI PEM of the public key. */
  readonly pem: string;
}

export async function rsaKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, jwk, pem: await jose.exportSPKI(publicKey) };
}

export const ISSUER = 'https://issuer.e2e.test/';
export const AUDIENCE = 'e2e-api';

/** A signed RS256 token; `claims` may override iss/aud/exp; `header` adds to the protected header. */
export async function sign(
  key: SigningKey,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new jose.SignJWT({ iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 3600, jti: randomBytes(6).toString('hex'), ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT', ...header })
    .sign(key.privateKey);
}

export const b64u = (s: string | Buffer) => Buffer.from(s).toString('base64url');

export const sha256hex = (s: string) => createHash('sha256').update(s).digest('hex');

/** A random secret of `n` bytes as base64url (never committed: made per test run). */
export const randomSecret = (n = 24) => randomBytes(n).toString('base64url');

export const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

/** Base gateway config: one listener on an ephemeral port, quiet access log unless asked. */
export function baseServer(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { listen: [{ host: '127.0.0.1', port: 0 }], ...extra };
}
