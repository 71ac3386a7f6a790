// The JSON Schema for editors (yaml-language-server, VS Code): generated from
// the zod schema, made to compile under ajv's strict mode (draft 2020-12), and
// given what an editor shows: a description of every field (field-docs.ts), an
// example, enums for closed sets and patterns for durations and sizes.
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ALGORITHMS, configSchema } from './schema.js';
import { FIELD_DOCS } from './field-docs.js';

export const SCHEMA_ID = 'https://portcullis.dev/schema/portcullis.schema.json';
export const DURATION_PATTERN = '^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$';
export const SIZE_PATTERN = '^[0-9]+(\\.[0-9]+)?\\s*([Bb]|[KkMmGg][Bb]|[KkMmGg]i[Bb])?$';

export type JsonNode = { [k: string]: unknown };

/** One visited field: its path as field-docs.ts names it, and its schema node. */
export interface Field {
  readonly path: string;
  readonly node: JsonNode;
  readonly required: boolean;
  /** Inside one of several alternative forms (`from: { header } | { cookie } | { query }`). */
  readonly alternative: boolean;
}

/** Every field of the schema, parents before children, in schema order. */
export function fields(schema: JsonNode): Field[] {
  const out: Field[] = [];
  const visit = (n: JsonNode, p: string, alternative = false) => {
    const props = n.properties as Record<string, JsonNode> | undefined;
    const req = new Set((n.required as string[] | undefined) ?? []);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        const cp = `${p}${p ? '.' : ''}${k}`;
        out.push({ path: cp, node: v, required: req.has(k), alternative });
        visit(v, cp);
      }
    }
    if (n.items && typeof n.items === 'object') visit(n.items as JsonNode, `${p}[]`);
    if (n.additionalProperties && typeof n.additionalProperties === 'object') visit(n.additionalProperties as JsonNode, `${p}.*`);
    for (const k of ['anyOf', 'oneOf'] as const) {
      const branches = n[k] as JsonNode[] | undefined;
      branches?.forEach((b) => {
        const tag = ((b.properties as Record<string, JsonNode> | undefined)?.type?.const);
        const objects = branches.filter((x) => x.properties).length;
        visit(b, typeof tag === 'string' && k === 'oneOf' ? `${p}<${tag}>` : p, k === 'anyOf' && objects > 1);
      });
    }
  };
  visit(schema, '');
  return out;
}

/** The docs entry of a path: exact, else without the `<type>` tags. */
export function docFor(p: string): (typeof FIELD_DOCS)[string] | undefined {
  return FIELD_DOCS[p] ?? FIELD_DOCS[p.replace(/<[^>]+>/g, '')];
}

const isUnit = (n: JsonNode, what: 'Duration' | 'Size') =>
  typeof n.description === 'string' && n.description.startsWith(what) && Array.isArray(n.type);

export function editorSchema(): JsonNode {
  const base = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as JsonNode;
  const missing: string[] = [];
  for (const f of fields(base)) {
    const n = f.node;
    const unit = isUnit(n, 'Duration') ? 'duration' : isUnit(n, 'Size') ? 'size' : null;
    if (unit) {
      // Strict mode refuses union types (type: [string, number]): say it with anyOf.
      delete n.type;
      n.anyOf = [
        { type: 'string', pattern: unit === 'duration' ? DURATION_PATTERN : SIZE_PATTERN },
        { type: 'integer', minimum: 0 },
      ];
    }
    if (n.format === 'starts_with') {
      delete n.format; // zod's name for startsWith; the pattern it also emits says it
      if (n.pattern === undefined) n.pattern = '^/';
    }
    if (/\.algorithms$/.test(f.path) && n.items) (n.items as JsonNode).enum = [...ALGORITHMS];
    const doc = docFor(f.path);
    if (!doc) missing.push(f.path);
    const unitText = unit === 'duration' ? ' A duration: 250ms, 1s, 5m, 1h, 1d, or integer milliseconds.'
      : unit === 'size' ? ' A size: 512B, 16KiB, 1MiB (KB/MB are powers of 1000), or integer bytes.' : '';
    n.description = `${doc?.description ?? (typeof n.description === 'string' ? n.description : '')}${unitText}`.trim();
    if (doc?.example !== undefined) n.examples = [parseYaml(doc.example) as unknown];
    // ajv's strictTypes wants a type beside keywords of one type.
    if (n.type === undefined && n.anyOf === undefined && n.oneOf === undefined && n.const === undefined && n.enum === undefined && (n.properties || n.additionalProperties)) n.type = 'object';
  }
  fixConstTypes(base);
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: SCHEMA_ID,
    title: 'Portcullis gateway configuration',
    description: 'The config file of the Portcullis API gateway (docs/configuration.md). Check a file with: portcullis check --config FILE',
    ...Object.fromEntries(Object.entries(base).filter(([k]) => k !== '$schema')),
    ...(missing.length ? { 'x-undocumented': missing } : {}),
  };
}

/** `const` without a type trips strictTypes in anyOf branches; add the JSON type. Union types become anyOf. */
function fixConstTypes(n: unknown): void {
  if (Array.isArray(n)) { n.forEach(fixConstTypes); return; }
  if (!n || typeof n !== 'object') return;
  const o = n as JsonNode;
  if (o.const !== undefined && o.type === undefined) o.type = typeof o.const === 'number' ? 'number' : typeof o.const;
  if (Array.isArray(o.type)) {
    // Strict mode refuses union types; scalar unions become anyOf branches.
    o.anyOf = (o.type as string[]).map((t) => ({ type: t }));
    delete o.type;
  }
  for (const v of Object.values(o)) fixConstTypes(v);
}

/** Fields of the schema with no entry in field-docs.ts. */
export function undocumented(): string[] {
  const base = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as JsonNode;
  return fields(base).map((f) => f.path).filter((p) => !docFor(p));
}
