// Session and login-state cookies are JWE compact serialisations (RFC 7516),
// "dir" + A256GCM, built with node:crypto rather than jose because jose's API
// is asynchronous: a session cookie seen for the first time is then opened
// synchronously on the event loop (a few microseconds), and a forged one is
// refused with no promise, no pool and no cache entry. Interoperable with
// jose's compactDecrypt (the tests check it).
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { parseJsonObject } from '../../lib/json-object.js';

/** base64url of {"alg":"dir","enc":"A256GCM"}: also the GCM additional data. */
export const JWE_HEADER = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM' })).toString('base64url');
const AAD = Buffer.from(JWE_HEADER, 'ascii');
const PREFIX = `${JWE_HEADER}..`;
const IV_CHARS = 16; // 12 bytes
const TAG_CHARS = 22; // 16 bytes

/** A 256-bit key for one purpose of one authenticator, derived from the session secret with HKDF-SHA256. */
export function deriveKey(secret: string, purpose: 'session' | 'login', authenticator: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), 'portcullis-oidc-v1', `${purpose}:${authenticator}`, 32));
}

export function seal(key: Buffer, payload: object): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(AAD);
  const ct = Buffer.concat([c.update(JSON.stringify(payload), 'utf8'), c.final()]);
  return `${PREFIX}${iv.toString('base64url')}.${ct.toString('base64url')}.${c.getAuthTag().toString('base64url')}`;
}

/** The decrypted JSON object, or null for anything that is not a JWE we sealed with this key. */
export function open(key: Buffer, jwe: string): Record<string, unknown> | null {
  if (!jwe.startsWith(PREFIX)) return null;
  const ivEnd = PREFIX.length + IV_CHARS;
  if (jwe.charCodeAt(ivEnd) !== 0x2e /* . */) return null;
  const tagStart = jwe.length - TAG_CHARS;
  if (tagStart <= ivEnd + 1 || jwe.charCodeAt(tagStart - 1) !== 0x2e) return null;
  const iv = Buffer.from(jwe.slice(PREFIX.length, ivEnd), 'base64url');
  const ct = Buffer.from(jwe.slice(ivEnd + 1, tagStart - 1), 'base64url');
  const tag = Buffer.from(jwe.slice(tagStart), 'base64url');
  if (iv.length !== 12 || tag.length !== 16 || ct.length === 0) return null;
  const d = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  d.setAAD(AAD);
  d.setAuthTag(tag);
  let text: string;
  try {
    // GCM verifies the tag in final(), which throws on any tampering: node:crypto offers no other signal.
    text = Buffer.concat([d.update(ct), d.final()]).toString('utf8');
  } catch {
    return null;
  }
  return parseJsonObject(text);
}
