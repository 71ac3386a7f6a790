// Only canonical base64url is accepted in a JWT (issue 13, finding 10): the
// unused low bits of a segment's last character must be zero. Otherwise one
// signed token has several spellings that all verify, and an exact-string
// deny list, cache or log search sees a different token for each.
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_OK, AUTH_REJECT } from '../../src/contracts.js';
import { R } from '../../src/reasons.js';
import { compileJwt } from '../../src/auth/jwt/index.js';
import { JwsShape } from '../../src/auth/jwt/shape.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { bearer, contextFor, nowSec, signature } from './helpers.js';
import { request } from '../e2e/util.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const SECRET = Buffer.from(`canonical-test-secret-${Math.random()}-made-at-test-time`);
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** A JSON object whose base64url has length ≡ `mod` (mod 4), by padding a field. */
function segmentOfLength(base: Record<string, unknown>, mod: 2 | 3): string {
  for (let k = 0; k < 6; k++) {
    const s = b64({ ...base, pad: 'x'.repeat(k) });
    if (s.length % 4 === mod) return s;
  }
  throw new Error('unreachable: three paddings cover every length mod 3');
}

function signed(header: string, payload: string, alg: 'HS256' | 'RS256' | 'ES256'): string {
  const input = `${header}.${payload}`;
  const key = alg === 'HS256' ? SECRET : alg === 'RS256' ? rsa.privateKey : ec.privateKey;
  return `${input}.${signature(input, key, alg).toString('base64url')}`;
}

/** Every other spelling of the last character of t[start, end): same decoded bytes, nonzero unused bits. */
function siblings(t: string, start: number, end: number): string[] {
  const mask = (end - start) % 4 === 2 ? 0x0f : (end - start) % 4 === 3 ? 0x03 : 0;
  const v = ALPHABET.indexOf(t[end - 1]!);
  expect(v & mask).toBe(0); // our encoder writes canonical text
  const out: string[] = [];
  for (let x = 1; x <= mask; x++) out.push(t.slice(0, end - 1) + ALPHABET[v | x] + t.slice(end));
  for (const s of out) expect(Buffer.from(s.slice(start, end), 'base64url')).toEqual(Buffer.from(t.slice(start, end), 'base64url'));
  return out;
}

function segments(t: string): { name: string; start: number; end: number }[] {
  const d1 = t.indexOf('.');
  const d2 = t.indexOf('.', d1 + 1);
  return [
    { name: 'header', start: 0, end: d1 },
    { name: 'payload', start: d1 + 1, end: d2 },
    { name: 'signature', start: d2 + 1, end: t.length },
  ];
}

const HS_KEY = { kty: 'oct', k: SECRET.toString('base64url'), kid: 'hs', alg: 'HS256' };
const RS_KEY = { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rs' };

/** HS* and public-key algorithms may not share an authenticator (key confusion): one per family. */
function compile(alg: 'HS256' | 'RS256' | 'ES256') {
  const cfg = alg === 'HS256'
    ? { type: 'jwt', algorithms: ['HS256'], required_claims: ['sub'], keys: [HS_KEY] }
    : { type: 'jwt', algorithms: ['RS256', 'ES256'], required_claims: ['sub'], keys: [RS_KEY, { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec' }] };
  const { ctx, issues, config } = contextFor({ c: cfg });
  const a = compileJwt('c', config.authenticators['c'] as never, 'authenticators.c', ctx);
  expect(issues).toEqual([]);
  return a;
}

const claims = () => ({ sub: 'alice', exp: nowSec() + 600 });

describe('JWS shape: canonical base64url only', () => {
  // HS256: 32-byte MAC → 43 characters (4k+3, 2 unused bits); RS256 → 342 (4k+2, 4 bits); ES256 → 86 (4k+2).
  for (const [alg, kid] of [['HS256', 'hs'], ['RS256', 'rs'], ['ES256', 'ec']] as const) {
    for (const hmod of [2, 3] as const) {
      for (const pmod of [2, 3] as const) {
        const token = signed(segmentOfLength({ alg, kid }, hmod), segmentOfLength(claims(), pmod), alg);
        it(`${alg}, header ≡${hmod} and payload ≡${pmod} (mod 4): the canonical token is accepted, every sibling refused as token_malformed`, () => {
          const a = compile(alg);
          const v = bearer(token);
          expect(a.authenticate(v)).toBe(AUTH_OK);
          let tried = 0;
          for (const seg of segments(token)) {
            for (const s of siblings(token, seg.start, seg.end)) {
              tried++;
              expect(new JwsShape().scan(s), `${seg.name} sibling ${s.slice(seg.end - 3, seg.end)}`).toBe(false);
              const sv = bearer(s);
              expect(a.authenticate(sv), `${seg.name} sibling`).toBe(AUTH_REJECT);
              expect(sv.reason).toBe(R.token_malformed);
              expect(sv.identity).toBeNull();
            }
          }
          // header 3 or 15 siblings, payload 3 or 15, signature 3 (HS256) or 15: none are skipped.
          expect(tried).toBeGreaterThanOrEqual(9);
        });
      }
    }
  }

  it('scanned in place after "Bearer ": the canonical token passes, a signature sibling does not', () => {
    const t = signed(segmentOfLength({ alg: 'HS256', kid: 'hs' }, 2), segmentOfLength(claims(), 3), 'HS256');
    const sig = segments(t)[2]!;
    const sh = new JwsShape();
    expect(sh.scan(`Bearer ${t}`, 7)).toBe(true);
    for (const s of siblings(t, sig.start, sig.end)) expect(sh.scan(`Bearer ${s}`, 7)).toBe(false);
  });
});

describe('JWS canonical form through the gateway', () => {
  let up: TestUpstream;
  let gw: RunningGateway;
  beforeAll(async () => {
    up = await startUpstream();
    gw = await startGateway({
      server: { listen: [{ host: '127.0.0.1', port: 0 }] },
      upstreams: { up: { targets: [up.url] } },
      authenticators: {
        rs: { type: 'jwt', algorithms: ['RS256'], keys: [RS_KEY] },
        hs: { type: 'jwt', algorithms: ['HS256'], keys: [HS_KEY] },
      },
      routes: [
        { name: 'rs', match: { path_prefix: '/RS256' }, authenticate: ['rs'], upstream: 'up' },
        { name: 'hs', match: { path_prefix: '/HS256' }, authenticate: ['hs'], upstream: 'up' },
      ],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  for (const alg of ['RS256', 'HS256'] as const) {
    it(`${alg}: a cached token's non-canonical siblings never reach the upstream (no cache hit, no verification)`, async () => {
      const token = signed(segmentOfLength({ alg, kid: alg === 'RS256' ? 'rs' : 'hs' }, 3), segmentOfLength(claims(), 2), alg);
      // Twice: the second answer is a cache hit.
      for (let i = 0; i < 2; i++) expect((await request(gw.url, `/${alg}/x`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      const seen = up.requests.length;
      const sig = segments(token)[2]!;
      const all = [...siblings(token, sig.start, sig.end), ...segments(token).slice(0, 2).flatMap((s) => siblings(token, s.start, s.end))];
      for (const s of all) {
        const r = await request(gw.url, `/${alg}/x`, { headers: { authorization: `Bearer ${s}` } });
        expect(r.status, s.slice(-4)).toBe(401);
        expect(r.json?.['reason']).toBe('token_malformed');
      }
      expect(up.requests.length).toBe(seen);
      // The canonical token is still served.
      expect((await request(gw.url, `/${alg}/x`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    });
  }
});
