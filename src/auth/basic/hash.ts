// Password hashes accepted in a users file, and the one we write:
//   bcrypt  $2y$/$2b$/$2a$, as Apache `htpasswd -B` writes (checked with bcryptjs)
//   scrypt  $scrypt$ln=15,r=8,p=1$<salt b64>$<key b64>   (node:crypto; made by
//           `portcullis hash-password`; ln = log2 N, base64 without padding)
// Checks are asynchronous so the event loop keeps serving, and constant-time.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';

export type PasswordHash =
  | { readonly kind: 'bcrypt'; readonly text: string; readonly cost: number }
  | { readonly kind: 'scrypt'; readonly ln: number; readonly r: number; readonly p: number; readonly salt: Buffer; readonly key: Buffer };

const BCRYPT_RE = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const SCRYPT_RE = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

/** Parameters for new hashes: N = 2^15, r = 8 (32 MiB, ~50–100 ms on one core). */
export const SCRYPT_DEFAULT = { ln: 15, r: 8, p: 1, saltBytes: 16, keyBytes: 32 } as const;

/** The parsed hash, or a sentence saying what it is and how to replace it. */
export function parseHash(text: string): PasswordHash | string {
  const b = BCRYPT_RE.exec(text);
  if (b) {
    const cost = Number(b[1]);
    if (cost < 4 || cost > 17) return `bcrypt cost ${cost} is outside 4–17`;
    return { kind: 'bcrypt', text, cost };
  }
  const s = SCRYPT_RE.exec(text);
  if (s) {
    const ln = Number(s[1]);
    const r = Number(s[2]);
    const p = Number(s[3]);
    // Bounds keep a hostile or mistyped file from making one check cost gigabytes.
    if (ln < 10 || ln > 20 || r < 1 || r > 32 || p < 1 || p > 16) return 'scrypt parameters out of range (ln 10–20, r 1–32, p 1–16)';
    const salt = Buffer.from(s[4]!, 'base64');
    const key = Buffer.from(s[5]!, 'base64');
    if (salt.length < 8 || key.length < 16) return 'scrypt salt or key too short';
    return { kind: 'scrypt', ln, r, p, salt, key };
  }
  if (text.startsWith('$apr1$')) return 'an Apache MD5 ($apr1$) hash, which is too weak to accept';
  if (text.startsWith('{SHA}')) return 'a SHA-1 ({SHA}) hash, which is too weak to accept';
  if (text.startsWith('$2')) return 'a malformed bcrypt hash';
  if (text.startsWith('$scrypt$')) return 'a malformed scrypt hash';
  return 'not a bcrypt or scrypt hash (plain text or crypt(3) are not accepted)';
}

function scryptAsync(password: string, salt: Buffer, keylen: number, ln: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** ln;
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, { N, r, p, maxmem: 128 * N * r * p + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** True when `password` matches. Never rejects for a parsed hash. */
export async function verifyPassword(password: string, h: PasswordHash): Promise<boolean> {
  if (h.kind === 'bcrypt') return bcrypt.compare(password, h.text); // bcryptjs compares in constant time
  const key = await scryptAsync(password, h.salt, h.key.length, h.ln, h.r, h.p);
  return timingSafeEqual(key, h.key);
}

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');

/** A new scrypt hash in our self-describing format (for `portcullis hash-password`). */
export async function hashPassword(password: string, params: { readonly ln: number; readonly r: number; readonly p: number } = SCRYPT_DEFAULT): Promise<string> {
  const { ln, r, p } = params;
  const { saltBytes, keyBytes } = SCRYPT_DEFAULT;
  const salt = randomBytes(saltBytes);
  const key = await scryptAsync(password, salt, keyBytes, ln, r, p);
  return `$scrypt$ln=${ln},r=${r},p=${p}$${b64(salt)}$${b64(key)}`;
}

const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A random hash with the same algorithm and cost as `like`: checking an
 * unknown user against it costs what a wrong password costs, so response
 * time does not tell which user names exist.
 */
export function dummyLike(like: PasswordHash | undefined): PasswordHash {
  if (like === undefined || like.kind === 'bcrypt') {
    const cost = like?.cost ?? 10;
    const rnd = randomBytes(53);
    let tail = '';
    for (let i = 0; i < 53; i++) tail += BCRYPT_ALPHABET[rnd[i]! & 63];
    // bcrypt's last salt character carries only 2 significant bits; keep it canonical.
    tail = tail.slice(0, 21) + '.' + tail.slice(22);
    return { kind: 'bcrypt', text: `$2b$${String(cost).padStart(2, '0')}$${tail}`, cost };
  }
  return { ...like, salt: randomBytes(like.salt.length), key: randomBytes(like.key.length) };
}
