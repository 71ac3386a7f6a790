// API keys: hashed in the keys file, presented in a header or query parameter.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AUTH_ABSENT, AUTH_OK, AUTH_REJECT } from '../../src/contracts.js';
import { R } from '../../src/reasons.js';
import { compileApiKey } from '../../src/auth/api-key/index.js';
import { contextFor, TestView } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (k: string) => createHash('sha256').update(k).digest('hex');
const acmeKey = randomBytes(24).toString('base64url');
const globexKey = randomBytes(24).toString('base64url');

function compile(yaml: string, from?: Record<string, string>) {
  const f = path.join(dir, `keys-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(f, yaml);
  const { ctx, issues, config } = contextFor({ keys: { type: 'api_key', keys_file: f, ...(from ? { from } : {}) } });
  return { auth: compileApiKey('keys', config.authenticators['keys'] as never, 'authenticators.keys', ctx), issues };
}

const FILE = `
- consumer: acme
  key_sha256: ${sha(acmeKey)}
  metadata: { tier: gold, tenant: acme, scope: "orders:read" }
- consumer: globex
  key_sha256: ${sha(globexKey).toUpperCase()}
`;

describe('api keys', () => {
  const { auth, issues } = compile(FILE);
  it('loads the keys file without problems', () => expect(issues).toEqual([]));

  it('accepts a known key from the x-api-key header; the consumer becomes the identity', () => {
    const v = new TestView({ headers: { 'x-api-key': acmeKey } });
    expect(auth.authenticate(v)).toBe(AUTH_OK);
    expect(v.identity?.consumer).toBe('acme');
    expect(v.identity?.authenticator).toBe('keys');
    expect(v.identity?.claims).toEqual({ tier: 'gold', tenant: 'acme', scope: 'orders:read' });
    expect([...v.identity!.scopes]).toEqual(['orders:read']);
  });

  it('accepts a key whose hash is written in upper-case hex', () => {
    const v = new TestView({ headers: { 'x-api-key': globexKey } });
    expect(auth.authenticate(v)).toBe(AUTH_OK);
    expect(v.identity?.consumer).toBe('globex');
  });

  it('hands out the same identity object on every request', () => {
    const a = new TestView({ headers: { 'x-api-key': acmeKey } });
    const b = new TestView({ headers: { 'x-api-key': acmeKey } });
    auth.authenticate(a);
    auth.authenticate(b);
    expect(a.identity).toBe(b.identity);
  });

  it('rejects an unknown key', () => {
    const v = new TestView({ headers: { 'x-api-key': acmeKey + 'x' } });
    expect(auth.authenticate(v)).toBe(AUTH_REJECT);
    expect(v.reason).toBe(R.unknown_key);
  });

  it('rejects the hash itself presented as the key', () => {
    const v = new TestView({ headers: { 'x-api-key': sha(acmeKey) } });
    expect(auth.authenticate(v)).toBe(AUTH_REJECT);
  });

  it('rejects an oversized key', () => {
    const v = new TestView({ headers: { 'x-api-key': 'k'.repeat(5000) } });
    expect(auth.authenticate(v)).toBe(AUTH_REJECT);
    expect(v.reason).toBe(R.unknown_key);
  });

  it('does not see a key elsewhere', () => {
    expect(auth.authenticate(new TestView())).toBe(AUTH_ABSENT);
    expect(auth.authenticate(new TestView({ headers: { 'x-api-key': '' } }))).toBe(AUTH_ABSENT);
    expect(auth.authenticate(new TestView({ query: { 'x-api-key': acmeKey } }))).toBe(AUTH_ABSENT);
    expect(auth.authenticate(new TestView({ headers: { authorization: `Bearer ${acmeKey}` } }))).toBe(AUTH_ABSENT);
  });

  it('reads the key from a query parameter when configured', () => {
    const { auth: q } = compile(FILE, { query: 'api_key' });
    const v = new TestView({ query: { api_key: acmeKey } });
    expect(q.authenticate(v)).toBe(AUTH_OK);
    expect(q.authenticate(new TestView({ headers: { 'x-api-key': acmeKey } }))).toBe(AUTH_ABSENT);
    expect(q.challenge).toBe('ApiKey realm="keys", query="api_key"');
  });

  it('offers a challenge naming where the key goes', () => expect(auth.challenge).toBe('ApiKey realm="keys", header="x-api-key"'));

  it('reports bad entries with their position and a fix', () => {
    const { issues: bad } = compile(`
- { consumer: a, key_sha256: nothex }
- { key_sha256: ${sha('x')} }
- { consumer: c, key_sha256: ${sha('y')}, metadata: [1] }
- { consumer: d, key_sha256: ${sha('y')}, metdata: {} }
- { consumer: e, key_sha256: ${sha('y')} }
`);
    const msgs = bad.map((i) => i.message);
    expect(bad.every((i) => i.path === 'authenticators.keys.keys_file')).toBe(true);
    expect(msgs[0]).toMatch(/\[0\] \(a\): key_sha256 must be 64 hex digits.*sha256sum/);
    expect(msgs[1]).toMatch(/\[1\]: consumer must be a non-empty name/);
    expect(msgs[2]).toMatch(/\[2\] \(c\): metadata must be a mapping/);
    expect(msgs[3]).toMatch(/\[3\]: unknown field "metdata"/);
    expect(msgs[4]).toMatch(/\[4\] \(e\): the same key_sha256 is listed twice/);
  });
});
