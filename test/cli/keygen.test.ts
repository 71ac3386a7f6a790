// portcullis keygen assertion: the private JWKS identity_assertion.keys_file
// needs, which the gateway loads and `check` passes; --add appends a key for
// rotation; an existing file is never overwritten.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli, tempDir } from '../helpers/gateway.js';

const { loadSigningKeys } = await import(path.join(ROOT, 'dist', 'proxy', 'assertion', 'keys.js')) as typeof import('../../src/proxy/assertion/keys.js');

interface Jwks { keys: { kid: string; kty: string; crv: string; d?: string }[] }
const read = (f: string): Jwks => JSON.parse(readFileSync(f, 'utf8')) as Jwks;

function loads(file: string, alg: 'ES256' | 'EdDSA'): { kid: string; problems: string[] } {
  const problems: string[] = [];
  const k = loadSigningKeys(file, alg, (m) => problems.push(m));
  return { kid: k?.kid ?? '', problems };
}

function configUsing(dir: string, keysFile: string, alg: string): string {
  const file = path.join(dir, 'portcullis.yaml');
  writeFileSync(path.join(dir, 'api-keys.yaml'), `- { consumer: c1, key_sha256: "${'ab'.repeat(32)}" }\n`);
  writeFileSync(file, `server:\n  listen: [{ host: 127.0.0.1, port: 0 }]\nupstreams:\n  up: { targets: [http://127.0.0.1:9] }\nauthenticators:\n  keys: { type: api_key, from: { header: x-api-key }, keys_file: api-keys.yaml }\nidentity_assertion:\n  issuer: https://gw.test\n  algorithm: ${alg}\n  keys_file: ${keysFile}\nroutes:\n  - { name: r, match: { path_prefix: / }, authenticate: [keys], identity_assertion: true, upstream: up }\n`);
  return file;
}

describe('portcullis keygen assertion', () => {
  it('writes an ES256 JWKS (mode 0600, a kid) that the gateway loads and check passes', async () => {
    const dir = tempDir('portcullis-keygen-');
    const r = await runCli(['keygen', 'assertion', '--out', 'keys/assertion.jwks.json'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/wrote keys\/assertion\.jwks\.json: one ES256 key, kid "assertion-\d{4}-\d\d-\d\d-[0-9a-f]{6}"/);
    const file = path.join(dir, 'keys', 'assertion.jwks.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const jwks = read(file);
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256' });
    expect(loads(file, 'ES256')).toEqual({ kid: jwks.keys[0]!.kid, problems: [] });
    const check = await runCli(['check', '--config', configUsing(dir, 'keys/assertion.jwks.json', 'ES256')], { cwd: dir });
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
  });

  it('never overwrites; --add appends a second key (published, the first still signs)', async () => {
    const dir = tempDir('portcullis-keygen-');
    const file = path.join(dir, 'a.json');
    expect((await runCli(['keygen', 'assertion', '--out', file, '--kid', 'old'])).code).toBe(0);
    const before = readFileSync(file, 'utf8');
    const again = await runCli(['keygen', 'assertion', '--out', file]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists; nothing written.*--add/);
    expect(readFileSync(file, 'utf8')).toBe(before);
    const dup = await runCli(['keygen', 'assertion', '--add', '--out', file, '--kid', 'old']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/already has a key with kid "old"/);
    const add = await runCli(['keygen', 'assertion', '--add', '--out', file, '--kid', 'new']);
    expect(add.code).toBe(0);
    expect(read(file).keys.map((k) => k.kid)).toEqual(['old', 'new']);
    expect(loads(file, 'ES256')).toEqual({ kid: 'old', problems: [] });
    const check = await runCli(['check', '--config', configUsing(dir, 'a.json', 'ES256')], { cwd: dir });
    expect(check.code).toBe(0);
  });

  it('--alg EdDSA makes an Ed25519 key; without --out the JWKS goes to standard output', async () => {
    const dir = tempDir('portcullis-keygen-');
    const r = await runCli(['keygen', 'assertion', '--alg', 'EdDSA', '--kid', 'ed-1']);
    expect(r.code).toBe(0);
    const file = path.join(dir, 'ed.json');
    writeFileSync(file, r.stdout);
    expect(read(file).keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: 'ed-1' });
    expect(loads(file, 'EdDSA')).toEqual({ kid: 'ed-1', problems: [] });
    expect(loads(file, 'ES256').problems.join()).toMatch(/needs an EC P-256 key/);
  });

  it('usage mistakes exit 2 and say what to give', async () => {
    const alg = await runCli(['keygen', 'assertion', '--alg', 'RS256']);
    expect(alg.code).toBe(2);
    expect(alg.stderr).toMatch(/--alg must be ES256 or EdDSA/);
    const add = await runCli(['keygen', 'assertion', '--add']);
    expect(add.code).toBe(2);
    expect(add.stderr).toMatch(/--add needs --out FILE/);
    const bare = await runCli(['keygen']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/did you mean "portcullis keygen assertion"/);
  });
});
