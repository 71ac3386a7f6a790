// The authenticator chain: the first authenticator that finds its credential
// decides; a present-but-invalid credential never falls through to the next.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AUTH_ABSENT, AUTH_OK, AUTH_REJECT, type AuthResult, type Authenticator, type RequestView } from '../../src/contracts.js';
import { R } from '../../src/reasons.js';
import { compileChain } from '../../src/auth/chain.js';
import { compileJwt } from '../../src/auth/jwt/index.js';
import { compileApiKey } from '../../src/auth/api-key/index.js';
import { compileBasic } from '../../src/auth/basic/index.js';
import { contextFor, nowSec, signJws, TestView } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-chain-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const apiKey = randomBytes(24).toString('base64url');
const keysFile = path.join(dir, 'keys.yaml');
writeFileSync(keysFile, `- { consumer: robot, key_sha256: ${createHash('sha256').update(apiKey).digest('hex')} }\n`);
const usersFile = path.join(dir, 'users');
writeFileSync(usersFile, execFileSync('htpasswd', ['-nbB', 'ann', 'pw'], { encoding: 'utf8' }));

const { ctx, issues, config } = contextFor({
  jwt: { type: 'jwt', algorithms: ['ES256'], keys: [{ ...ec.publicKey.export({ format: 'jwk' }), kid: 'e' }], audience: 'api' },
  keys: { type: 'api_key', keys_file: keysFile },
  basic: { type: 'basic', realm: 'team', users_file: usersFile },
});
const jwt = compileJwt('jwt', config.authenticators['jwt'] as never, 'authenticators.jwt', ctx);
const keys = compileApiKey('keys', config.authenticators['keys'] as never, 'authenticators.keys', ctx);
const basic = compileBasic('basic', config.authenticators['basic'] as never, 'authenticators.basic', ctx);
const good = signJws({ alg: 'ES256', kid: 'e' }, { sub: 'jo', aud: 'api', exp: nowSec() + 60 }, ec.privateKey);
const wrongAud = signJws({ alg: 'ES256', kid: 'e' }, { sub: 'jo', aud: 'other', exp: nowSec() + 60 }, ec.privateKey);

const view = (headers: Record<string, string>) => new TestView({ headers });

async function settle(r: number | Promise<AuthResult>, v: TestView): Promise<{ outcome: number; reason: number; who?: string }> {
  if (typeof r === 'number') return { outcome: r, reason: r === AUTH_REJECT ? v.reason : 0, who: v.identity?.authenticator };
  const a = await r;
  return { outcome: a.outcome, reason: a.reason, who: a.identity?.authenticator };
}

/** An authenticator that always answers later (as introspection or external authn would). */
class Later implements Authenticator {
  readonly challenge = 'Later realm="later"';
  constructor(readonly name: string, private readonly answer: AuthResult, private readonly header = 'x-later') {}
  hasCredential(view: RequestView): boolean {
    return view.header(this.header) !== '';
  }
  authenticate(view: RequestView): number | Promise<AuthResult> {
    if (view.header(this.header) === '') return AUTH_ABSENT;
    return new Promise((r) => setTimeout(() => r(this.answer), 5));
  }
  challengeFor(reason: number): string {
    return `${this.challenge}, reason=${reason}`;
  }
}

describe('the authenticator chain', () => {
  const chain = compileChain([jwt, keys]);
  it('compiles the three authenticators without problems', () => expect(issues).toEqual([]));

  it('accepts with the first authenticator that finds a valid credential', async () => {
    const v = view({ authorization: `Bearer ${good}` });
    expect(await settle(chain.run(v), v)).toEqual({ outcome: AUTH_OK, reason: 0, who: 'jwt' });
  });

  it('moves on to the next authenticator when the first finds nothing', async () => {
    const v = view({ 'x-api-key': apiKey });
    expect(await settle(chain.run(v), v)).toEqual({ outcome: AUTH_OK, reason: 0, who: 'keys' });
  });

  it('never treats a present-but-invalid token as missing (CVE-2021-21378)', async () => {
    const v = view({ authorization: `Bearer ${wrongAud}`, 'x-api-key': apiKey });
    expect(await settle(chain.run(v), v)).toEqual({ outcome: AUTH_REJECT, reason: R.bad_audience, who: undefined });
    expect(v.identity).toBeNull();
    expect(chain.challenges(v, v.reason)).toEqual(['Bearer realm="jwt", error="invalid_token", error_description="the token audience is not accepted"']);
  });

  it('does not fall through on a garbage token either', async () => {
    const v = view({ authorization: 'Bearer garbage', 'x-api-key': apiKey });
    expect(await settle(chain.run(v), v)).toEqual({ outcome: AUTH_REJECT, reason: R.token_malformed, who: undefined });
  });

  it('answers no_credentials with every challenge when nothing is found', async () => {
    const v = view({ cookie: 'a=b' });
    expect(await settle(chain.run(v), v)).toEqual({ outcome: AUTH_REJECT, reason: R.no_credentials, who: undefined });
    expect(chain.challenges(v, v.reason)).toEqual(['Bearer realm="jwt"', 'ApiKey realm="keys", header="x-api-key"']);
  });

  it('refuses with the slow authenticator that decided, without trying the next one', async () => {
    const c = compileChain([basic, keys]);
    const v = view({ authorization: `Basic ${Buffer.from('ann:wrong').toString('base64')}`, 'x-api-key': apiKey });
    const r = c.run(v);
    expect(typeof r).not.toBe('number');
    expect(await settle(r, v)).toEqual({ outcome: AUTH_REJECT, reason: R.bad_credentials, who: undefined });
    expect(c.challenges(v, R.bad_credentials)).toEqual(['Basic realm="team", charset="UTF-8"']);
  });

  it('continues with the next authenticator after an asynchronous AUTH_ABSENT', async () => {
    const absent = new Later('later', { outcome: AUTH_ABSENT, identity: null, reason: 0 });
    const c = compileChain([absent, jwt, keys]);
    const v = view({ 'x-later': '1', 'x-api-key': apiKey });
    expect(await settle(c.run(v), v)).toEqual({ outcome: AUTH_OK, reason: 0, who: 'keys' });
  });

  it('fails closed after an asynchronous AUTH_ABSENT when the view cannot be kept', async () => {
    const absent = new Later('later', { outcome: AUTH_ABSENT, identity: null, reason: 0 });
    const c = compileChain([absent, keys]);
    const v = view({ 'x-later': '1', 'x-api-key': apiKey });
    (v as { detachView?: unknown }).detachView = undefined;
    expect(await settle(c.run(v), v)).toEqual({ outcome: AUTH_REJECT, reason: R.no_credentials, who: undefined });
  });

  it('reports the asynchronous decider\'s challenge for its reason', async () => {
    const refuse = new Later('later', { outcome: AUTH_REJECT, identity: null, reason: R.token_inactive });
    const c = compileChain([jwt, refuse]);
    const v = view({ 'x-later': '1' });
    expect(await settle(c.run(v), v)).toEqual({ outcome: AUTH_REJECT, reason: R.token_inactive, who: undefined });
    expect(c.challenges(v, R.token_inactive)).toEqual([`Later realm="later", reason=${R.token_inactive}`]);
  });

  it('returns the same challenge array each time (built at compile time)', () => {
    const v = view({});
    expect(chain.challenges(v, R.no_credentials)).toBe(chain.challenges(v, R.no_credentials));
  });
});
