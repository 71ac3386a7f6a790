// Keys and tokens for the JWT scenarios, made with node:crypto and kept in
// bench/results/cache/ so a second run does not sign 10k RS256 tokens again.
// The same files feed Portcullis, HAProxy and wrk's Lua scripts.
import crypto from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const ISSUER = 'https://issuer.bench.portcullis.test/';
export const AUDIENCE = 'bench-api';
const DISTINCT = 10_000;
const VERSION = 2; // bump when the claims or the files change

const b64 = (b) => Buffer.from(b).toString('base64url');
const json64 = (o) => b64(JSON.stringify(o));

function sign(alg, header, claims, key) {
  const input = `${json64({ alg, typ: 'JWT', ...header })}.${json64(claims)}`;
  let sig;
  if (alg === 'RS256') sig = crypto.sign('sha256', Buffer.from(input), key);
  else if (alg === 'ES256') sig = crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  else if (alg === 'HS256') sig = crypto.createHmac('sha256', key).update(input).digest();
  else if (alg === 'none') sig = Buffer.alloc(0);
  else throw new Error(`unsupported alg ${alg}`);
  return `${input}.${b64(sig)}`;
}

function claimsFor(i, now, extra = {}) {
  return {
    iss: ISSUER, aud: AUDIENCE, sub: `user-${i}`, iat: now, exp: now + 90 * 86400,
    scope: 'orders:read orders:write', roles: ['buyer'], region: 'eu', ...extra,
  };
}

/**
 * Returns paths and strings of every key and token the scenarios use.
 * Cached in `dir`; regenerated when older tokens would expire within 7 days.
 */
export function prepareTokens(dir, log) {
  mkdirSync(dir, { recursive: true });
  const metaFile = path.join(dir, 'meta.json');
  const now = Math.floor(Date.now() / 1000);
  if (existsSync(metaFile)) {
    const meta = JSON.parse(readFileSync(metaFile, 'utf8'));
    if (meta.version === VERSION && meta.expires - now > 7 * 86400 && existsSync(meta.files.rsDistinct)) return meta;
  }
  log(`generating keys and ${DISTINCT} RS256 + ${DISTINCT} ES256 tokens (cached in ${path.relative(process.cwd(), dir)}) …`);
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const hsSecret = crypto.randomBytes(32).toString('base64url');
  const files = {
    rsKey: path.join(dir, 'rs256.key'), rsPub: path.join(dir, 'rs256.pub.pem'),
    esKey: path.join(dir, 'es256.key'), esPub: path.join(dir, 'es256.pub.pem'),
    rsDistinct: path.join(dir, 'rs256-distinct.txt'), esDistinct: path.join(dir, 'es256-distinct.txt'),
    garbage: path.join(dir, 'garbage.txt'),
  };
  const rsPub = rsa.publicKey.export({ type: 'spki', format: 'pem' });
  const esPub = ec.publicKey.export({ type: 'spki', format: 'pem' });
  writeFileSync(files.rsKey, rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(files.esKey, ec.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(files.rsPub, rsPub);
  writeFileSync(files.esPub, esPub);

  const rs = Array.from({ length: DISTINCT }, (_, i) => sign('RS256', {}, claimsFor(i, now), rsa.privateKey));
  const es = Array.from({ length: DISTINCT }, (_, i) => sign('ES256', {}, claimsFor(i, now), ec.privateKey));
  writeFileSync(files.rsDistinct, `${rs.join('\n')}\n`);
  writeFileSync(files.esDistinct, `${es.join('\n')}\n`);

  // 401 flood: what an attacker sprays — random text, three random segments,
  // a valid-looking header with a junk payload, oversized junk.
  const garbage = [];
  for (let i = 0; i < 1000; i++) {
    const r = crypto.randomBytes(24 + (i % 40)).toString('base64url');
    if (i % 4 === 0) garbage.push(r);
    else if (i % 4 === 1) garbage.push(`${r.slice(0, 12)}.${r.slice(12, 30)}.${r.slice(30)}`);
    else if (i % 4 === 2) garbage.push(`${json64({ alg: 'RS256', typ: 'JWT' })}.${r}.${r}`);
    else garbage.push(`${r}${r}${r}${r}`);
  }
  writeFileSync(files.garbage, `${garbage.join('\n')}\n`);

  const good = rs[0];
  const expiredClaims = claimsFor(0, now - 7200, { exp: now - 3600 });
  const tamperedPayload = json64(claimsFor(1, now, { sub: 'admin' }));
  const [gh, , gs] = good.split('.');
  const meta = {
    version: VERSION,
    created: now,
    expires: now + 90 * 86400,
    files,
    hsSecret,
    rsPubPem: rsPub,
    esPubPem: esPub,
    tokens: {
      rs256: good,
      es256: es[0],
      hs256: sign('HS256', {}, claimsFor(0, now), hsSecret),
      // scopes/roles/region present (claimsFor sets them); route_by maps region eu.
      rs256Scoped: good,
    },
    hostile: {
      none: sign('none', {}, claimsFor(0, now), null),
      expired: sign('RS256', {}, expiredClaims, rsa.privateKey),
      badSignature: `${gh}.${tamperedPayload}.${gs}`,
      // Alg confusion: HS256 keyed with the RSA public key's PEM text.
      algConfusion: sign('HS256', {}, claimsFor(0, now), rsPub),
      wrongIssuer: sign('RS256', {}, claimsFor(0, now, { iss: 'https://evil.example/' }), rsa.privateKey),
    },
  };
  writeFileSync(metaFile, JSON.stringify(meta, null, 1));
  return meta;
}
