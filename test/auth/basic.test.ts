// HTTP Basic against a users file written by the real `htpasswd -B` (Debian
// apache2-utils) and by our scrypt hasher.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_ABSENT, AUTH_OK, AUTH_REJECT, type AuthResult } from '../../src/contracts.js';
import { R } from '../../src/reasons.js';
import { compileBasic, hashPassword, parseHash, verifyPassword, type BasicAuthenticator } from '../../src/auth/basic/index.js';
import { Clock, contextFor, TestView } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-basic-'));
const htpasswd = (...args: string[]) => execFileSync('htpasswd', args, { encoding: 'utf8' }).trim();
const basic = (user: string, pass: string) =>
  new TestView({ headers: { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` } });

async function settle(r: number | Promise<AuthResult>, v: TestView): Promise<[number, number, string | undefined]> {
  if (typeof r === 'number') return [r, r === AUTH_REJECT ? v.reason : 0, v.identity?.consumer];
  const a = await r;
  return [a.outcome, a.reason, a.identity?.consumer];
}

/** Cheaper scrypt parameters for tests that are not about the default cost. */
const FAST = { ln: 11, r: 8, p: 1 };
let file = '';
let clock: Clock;
let auth: BasicAuthenticator;

function compile(users: string, extra: Record<string, unknown> = {}) {
  const f = path.join(dir, `users-${Math.random().toString(36).slice(2)}.htpasswd`);
  writeFileSync(f, users);
  const { ctx, issues, config } = contextFor({ partners: { type: 'basic', realm: 'partners', users_file: f, ...extra } });
  const a = compileBasic('partners', config.authenticators['partners'] as never, 'authenticators.partners', ctx, { now: clock.now });
  return { auth: a, issues, file: f };
}

beforeAll(async () => {
  clock = new Clock();
  const lines = [
    '# partners',
    htpasswd('-nbB', 'alice', 'correct horse'),
    htpasswd('-nbB', '-C', '6', 'dora', 'pa:ss wörd'),
    `bob:${await hashPassword('battery staple', FAST)}`,
    '',
  ].join('\n');
  ({ auth, file } = compile(lines));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('basic authentication', () => {
  it('accepts a bcrypt password from htpasswd -B, first asynchronously, then from the cache', async () => {
    const v = basic('alice', 'correct horse');
    const r = auth.authenticate(v);
    expect(typeof r).not.toBe('number');
    expect(await settle(r, v)).toEqual([AUTH_OK, R.ok, 'alice']);
    const again = basic('alice', 'correct horse');
    expect(auth.authenticate(again)).toBe(AUTH_OK);
    expect(again.identity?.consumer).toBe('alice');
    expect(again.identity?.authenticator).toBe('partners');
  });

  it('accepts a password with a colon and non-ASCII characters (charset UTF-8)', async () => {
    const v = basic('dora', 'pa:ss wörd');
    expect(await settle(auth.authenticate(v), v)).toEqual([AUTH_OK, R.ok, 'dora']);
  });

  it('accepts an scrypt password from hash-password', async () => {
    const v = basic('bob', 'battery staple');
    expect(await settle(auth.authenticate(v), v)).toEqual([AUTH_OK, R.ok, 'bob']);
  });

  it('rejects a wrong password', async () => {
    const v = basic('alice', 'Correct horse');
    expect(await settle(auth.authenticate(v), v)).toEqual([AUTH_REJECT, R.bad_credentials, undefined]);
  });

  it('rejects an unknown user after checking a dummy hash, like a wrong password', async () => {
    const before = auth.stats.checks;
    const v = basic('mallory', 'correct horse');
    const r = auth.authenticate(v);
    expect(typeof r).not.toBe('number'); // same slow path as a known user
    expect(await settle(r, v)).toEqual([AUTH_REJECT, R.bad_credentials, undefined]);
    expect(auth.stats.checks).toBe(before + 1);
  });

  it('answers a replayed wrong password from the negative cache', async () => {
    const v = basic('bob', 'wrong');
    await settle(auth.authenticate(v), v);
    const again = basic('bob', 'wrong');
    expect(auth.authenticate(again)).toBe(AUTH_REJECT);
    expect(again.reason).toBe(R.bad_credentials);
  });

  it('shares one check between identical concurrent requests', async () => {
    const { auth: a } = compile(htpasswd('-nbB', 'erin', 'pw'));
    const views = Array.from({ length: 5 }, () => basic('erin', 'pw'));
    const results = await Promise.all(views.map((v) => settle(a.authenticate(v), v)));
    expect(results.every(([o]) => o === AUTH_OK)).toBe(true);
    expect(a.stats.checks).toBe(1);
  });

  it('checks the password again once the cache ttl has passed', async () => {
    const { auth: a } = compile(htpasswd('-nbB', 'fred', 'pw'), { cache: { ttl: '1m' } });
    const v = basic('fred', 'pw');
    await settle(a.authenticate(v), v);
    expect(a.authenticate(basic('fred', 'pw'))).toBe(AUTH_OK);
    clock.advance(61_000);
    const later = basic('fred', 'pw');
    const r = a.authenticate(later);
    expect(typeof r).not.toBe('number');
    expect(await settle(r, later)).toEqual([AUTH_OK, R.ok, 'fred']);
  });

  it('rejects malformed Basic credentials synchronously', () => {
    for (const value of ['Basic !!!notbase64', `Basic ${Buffer.from('no-colon').toString('base64')}`, 'Basic', `Basic ${Buffer.from(':pw').toString('base64')}`]) {
      const v = new TestView({ headers: { authorization: value } });
      expect(auth.authenticate(v)).toBe(AUTH_REJECT);
      expect(v.reason).toBe(R.bad_credentials);
    }
  });

  it('does not see other schemes or other headers', () => {
    expect(auth.authenticate(new TestView({ headers: { authorization: 'Bearer abc.def.ghi' } }))).toBe(AUTH_ABSENT);
    expect(auth.authenticate(new TestView({ headers: { 'x-authorization': `Basic ${Buffer.from('a:b').toString('base64')}` } }))).toBe(AUTH_ABSENT);
    expect(auth.authenticate(new TestView())).toBe(AUTH_ABSENT);
  });

  it('offers an RFC 7617 challenge with the realm and charset', () => {
    expect(auth.challenge).toBe('Basic realm="partners", charset="UTF-8"');
    expect(auth.challengeFor(R.bad_credentials)).toBe(auth.challenge);
  });
});

describe('users file', () => {
  it('reports weak or unknown hash formats with the line and a fix', () => {
    const { issues } = compile([htpasswd('-nbm', 'carol', 'pw'), 'dave:plaintext', 'nocolon', htpasswd('-nbB', 'alice', 'x')].join('\n'));
    expect(issues).toHaveLength(3);
    expect(issues[0]!.path).toBe('authenticators.partners.users_file');
    expect(issues[0]!.message).toMatch(/line 1: user "carol" has an Apache MD5 \(\$apr1\$\).*htpasswd -nB carol/);
    expect(issues[1]!.message).toMatch(/line 2: user "dave"/);
    expect(issues[2]!.message).toMatch(/line 3: expected "name:hash"/);
  });
  it('reports a missing file', () => {
    const { ctx, issues, config } = contextFor({ p: { type: 'basic', users_file: path.join(dir, 'nope') } });
    compileBasic('p', config.authenticators['p'] as never, 'authenticators.p', ctx);
    expect(issues[0]!.message).toMatch(/cannot read .*nope: ENOENT/);
  });
  it('was written where the test expects', () => expect(file).toContain(dir));
});

describe('hash-password', () => {
  it('writes a self-describing scrypt hash that verifies', async () => {
    const h = await hashPassword('s3cret');
    expect(h).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    const parsed = parseHash(h);
    expect(typeof parsed).not.toBe('string');
    expect(await verifyPassword('s3cret', parsed as never)).toBe(true);
    expect(await verifyPassword('s3cret!', parsed as never)).toBe(false);
  });
  it('salts every hash', async () => expect(await hashPassword('same', FAST)).not.toBe(await hashPassword('same', FAST)));
  it('refuses scrypt parameters that would cost gigabytes', () => {
    expect(parseHash('$scrypt$ln=30,r=8,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5')).toMatch(/out of range/);
  });
});
