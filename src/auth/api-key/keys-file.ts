// The API keys file: a YAML (or JSON) list of
//   - { consumer: NAME, key_sha256: HEX, metadata: { ... } }
// Only hashes are stored, so the file is not a secret that grants access.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export interface ApiKeyEntry {
  readonly consumer: string;
  /** SHA-256 of the key, 32 bytes. */
  readonly hash: Buffer;
  readonly metadata: Record<string, unknown>;
}

const HEX64 = /^[0-9a-fA-F]{64}$/;

export function loadKeys(file: string, report: (msg: string) => void): ApiKeyEntry[] {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'), { maxAliasCount: 100 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    report(err.code ? `cannot read ${file}: ${err.code}` : `${file} is not valid YAML: ${err.message.split('\n')[0]}`);
    return [];
  }
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc)) {
    report(`${file}: expected a list of { consumer, key_sha256, metadata }`);
    return [];
  }
  const out: ApiKeyEntry[] = [];
  const seen = new Set<string>();
  doc.forEach((item: unknown, i) => {
    const at = `${file} [${i}]`;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      report(`${at}: expected { consumer, key_sha256, metadata }`);
      return;
    }
    const o = item as Record<string, unknown>;
    const unknown = Object.keys(o).filter((k) => k !== 'consumer' && k !== 'key_sha256' && k !== 'metadata');
    if (unknown.length) report(`${at}: unknown field ${unknown.map((k) => `"${k}"`).join(', ')}; known fields: consumer, key_sha256, metadata`);
    if (typeof o['consumer'] !== 'string' || o['consumer'] === '') {
      report(`${at}: consumer must be a non-empty name`);
      return;
    }
    const hex = o['key_sha256'];
    if (typeof hex !== 'string' || !HEX64.test(hex)) {
      report(`${at} (${o['consumer']}): key_sha256 must be 64 hex digits; compute it with \`printf %s "$KEY" | sha256sum\``);
      return;
    }
    const meta = o['metadata'] ?? {};
    if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
      report(`${at} (${o['consumer']}): metadata must be a mapping`);
      return;
    }
    const lower = hex.toLowerCase();
    if (seen.has(lower)) {
      report(`${at} (${o['consumer']}): the same key_sha256 is listed twice`);
      return;
    }
    seen.add(lower);
    out.push({ consumer: o['consumer'], hash: Buffer.from(lower, 'hex'), metadata: meta as Record<string, unknown> });
  });
  return out;
}
