// docs/configuration.md is generated from the schema and must be current: a
// field added to src/config/schema.ts without its entry in field-docs.ts, or
// without `npm run docs`, fails here (in CI) with the command that fixes it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fields, editorSchema, undocumented } from '../../src/config/editor-schema.js';
import { renderReference } from '../../src/config/reference.js';
import { ROOT } from '../helpers/gateway.js';

describe('docs/configuration.md', () => {
  it('documents every field of the schema (src/config/field-docs.ts)', () => {
    expect(undocumented(), 'add these paths to src/config/field-docs.ts').toEqual([]);
  });

  it('is the generated reference, current with the schema (run: npm run docs)', () => {
    const committed = readFileSync(path.join(ROOT, 'docs/configuration.md'), 'utf8');
    expect(committed === renderReference(), 'docs/configuration.md is stale: run npm run docs and commit it').toBe(true);
  });

  it('has a row for every field, with its type and default', () => {
    const text = renderReference();
    const shown = new Set(fields(editorSchema()).map((f) => f.path.replace(/<[^>]+>/g, '').replace(/\.\*/g, '.NAME')));
    for (const p of shown) expect(text, p).toContain(`| \`${p}\` |`);
    expect(text).toMatch(/\| `server\.limits\.request_timeout` \| duration \| `30s` \|/);
    expect(text).toMatch(/\| `upstreams\.NAME\.client` \| `native` \\\| `undici` \| `native` \|/);
  });

  it('the editor schema shipped is the one the build emits', () => {
    const shipped = JSON.parse(readFileSync(path.join(ROOT, 'native-config/portcullis.schema.json'), 'utf8')) as unknown;
    const fresh = editorSchema();
    delete fresh['x-undocumented'];
    expect(shipped).toEqual(JSON.parse(JSON.stringify(fresh)));
  });
});
