// portcullis keygen assertion: the private JWKS identity_assertion.keys_file
// names (ES256: EC P-256, EdDSA: Ed25519), each key with a kid. --add appends
// a key to an existing file: published at the next reload, signing only once
// it is moved first (the rotation order of docs/mtls.md).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { flag, one, UsageError, type Parsed } from './args.js';
import type { Command } from './common.js';

const ALGS = ['ES256', 'EdDSA'] as const;
type Alg = (typeof ALGS)[number];

export const keygen: Command = {
  spec: {
    name: 'keygen assertion',
    summary: 'Make the private JWKS for identity_assertion.keys_file (ES256 or EdDSA, with a kid).',
    options: [
      { name: 'alg', value: 'ES256|EdDSA', help: 'identity_assertion.algorithm the key is for (default ES256)' },
      { name: 'kid', value: 'KID', help: 'key id (default assertion-YYYY-MM-DD-<random>)' },
      { name: 'out', value: 'FILE', help: 'write the JWKS here (mode 0600; its folder is made 0700); default: standard output' },
      { name: 'add', help: 'append the new key to the existing --out file (published, not signing: move it first to sign)' },
    ],
    args: [],
    details: `Examples:
  portcullis keygen assertion --out keys/assertion.jwks.json
  portcullis keygen assertion --alg EdDSA --out keys/assertion.jwks.json
  portcullis keygen assertion --add --out keys/assertion.jwks.json   # rotation, step 1
An existing --out file is never overwritten: give --add, or remove it first.
The file holds private keys: keep it out of version control.`,
  },
  async run(p: Parsed) {
    const alg = one(p, 'alg') ?? 'ES256';
    if (!(ALGS as readonly string[]).includes(alg)) throw new UsageError(keygen.spec, `--alg must be ES256 or EdDSA (got "${alg}")`);
    const out = one(p, 'out');
    const add = flag(p, 'add');
    if (add && out === undefined) throw new UsageError(keygen.spec, '--add needs --out FILE (the JWKS to add the key to)');
    const kid = one(p, 'kid') ?? `assertion-${new Date().toISOString().slice(0, 10)}-${randomBytes(3).toString('hex')}`;
    if (kid === '') throw new UsageError(keygen.spec, '--kid must not be empty');
    const key = { ...privateJwk(alg as Alg), kid, alg };
    if (out === undefined) {
      process.stdout.write(`${JSON.stringify({ keys: [key] }, null, 2)}\n`);
      return 0;
    }
    const file = path.resolve(out);
    let keys: Record<string, unknown>[] = [];
    if (existsSync(file)) {
      if (!add) {
        process.stderr.write(`portcullis keygen assertion: ${out} exists; nothing written. To rotate, add a key with --add; to start over, remove the file first\n`);
        return 1;
      }
      const existing = readJwks(file);
      if (typeof existing === 'string') { process.stderr.write(`portcullis keygen assertion: ${out}: ${existing}\n`); return 1; }
      if (existing.some((k) => k.kid === kid)) { process.stderr.write(`portcullis keygen assertion: ${out} already has a key with kid "${kid}"; give another --kid\n`); return 1; }
      keys = existing;
    } else if (add) {
      process.stderr.write(`portcullis keygen assertion: ${out} does not exist; without --add it is created\n`);
      return 1;
    }
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${JSON.stringify({ keys: [...keys, key] }, null, 2)}\n`, { mode: 0o600 });
    process.stderr.write(add
      ? `added ${alg} key "${kid}" to ${out} (key ${keys.length + 1}: published after a reload; move it first to sign with it)\n`
      : `wrote ${out}: one ${alg} key, kid "${kid}". Set identity_assertion.keys_file: ${out} and algorithm: ${alg}\n`);
    return 0;
  },
};

function privateJwk(alg: Alg): Record<string, unknown> {
  const pair = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  return pair.privateKey.export({ format: 'jwk' }) as Record<string, unknown>;
}

/** The keys of an existing JWKS file, or what is wrong with it. */
function readJwks(file: string): Record<string, unknown>[] | string {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    return `not a JSON file (${(e as Error).message}); nothing written`;
  }
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) return 'expected a JWKS {"keys": [ … ]}; nothing written';
  return keys as Record<string, unknown>[];
}
