// The JSON Schema editors use: compiles under ajv's strict mode (draft
// 2020-12), has an $id, a title and a description on every property, closed
// sets as enums, patterns for durations and sizes — and accepts every config
// we ship while refusing what `check` refuses.
// ajv is a dev dependency of this test (ajv@8.20.0).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { fields, type JsonNode } from '../../src/config/editor-schema.js';
import { ROOT } from '../helpers/gateway.js';

const schema = JSON.parse(readFileSync(path.join(ROOT, 'native-config/portcullis.schema.json'), 'utf8')) as JsonNode;
const ajv = new Ajv2020({ strict: true, allErrors: true });
const validate = ajv.compile(schema);

/** Every YAML config the repository ships or documents as a whole file. */
export function shippedConfigs(): string[] {
  const nc = path.join(ROOT, 'native-config');
  const ex = path.join(nc, 'examples');
  return [
    ...readdirSync(nc).filter((f) => f.endsWith('.yaml')).map((f) => path.join(nc, f)),
    ...readdirSync(ex).filter((f) => f.endsWith('.yaml')).map((f) => path.join(ex, f)),
  ];
}

describe('the editor JSON Schema', () => {
  it('compiles under ajv strict mode, draft 2020-12, with $id and title', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toMatch(/^https:\/\//);
    expect(schema.title).toBeTruthy();
    expect(typeof validate).toBe('function');
  });

  it('describes every property', () => {
    const bare = fields(schema).filter((f) => typeof f.node.description !== 'string' || f.node.description.length < 8).map((f) => f.path);
    expect(bare).toEqual([]);
  });

  it('closes the closed sets and patterns durations and sizes', () => {
    const text = JSON.stringify(schema);
    expect(text).toContain('"RS256"');
    expect(text).not.toContain('"format":"starts_with"');
    expect(text).not.toMatch(/"type":\[/);
    const bad = (cfg: object) => { expect(validate(cfg), JSON.stringify(cfg)).toBe(false); };
    const route = { name: 'r', match: { path: '/r' }, anonymous: true, respond: { status: 200 } };
    bad({ routes: [route], authenticators: { j: { type: 'jwt', algorithms: ['RS265'], jwks_file: 'k.json' } } });
    bad({ routes: [route], upstreams: { u: { targets: ['http://127.0.0.1:1'], timeout: '10 parsecs' } } });
    bad({ routes: [route], server: { limits: { max_body: 'lots' } } });
    bad({ routes: [route], server: { treads: 2 } });
    bad({ routes: [route], upstreams: { u: { targets: ['http://127.0.0.1:1'], client: 'curl' } } });
    expect(validate({ routes: [route], upstreams: { u: { targets: ['http://127.0.0.1:1'], timeout: '1.5s' } }, server: { limits: { max_body: '16KiB' } } })).toBe(true);
  });

  it('accepts every YAML snippet in the docs (a fragment is checked with a placeholder route)', () => {
    const docs = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    let n = 0;
    for (const d of docs) {
      for (const m of readFileSync(path.join(ROOT, d), 'utf8').matchAll(/^```yaml\n([\s\S]*?)^```$/gm)) {
        const c = parse(m[1]!) as Record<string, unknown>;
        c.routes ??= [{ name: 'placeholder', match: { path: '/placeholder' }, respond: { status: 200 } }];
        expect(validate(c), `${d}: ${m[1]!.slice(0, 60)}… ${JSON.stringify(validate.errors)}`).toBe(true);
        n++;
      }
    }
    expect(n).toBeGreaterThanOrEqual(9);
  });

  for (const f of shippedConfigs()) {
    it(`accepts ${path.relative(ROOT, f)}, which carries the yaml-language-server modeline`, () => {
      const text = readFileSync(f, 'utf8');
      expect(text.split('\n')[0]).toMatch(/^# yaml-language-server: \$schema=\S*portcullis\.schema\.json$/);
      const ok = validate(parse(text));
      expect(ok, JSON.stringify(validate.errors)).toBe(true);
    });
  }
});
