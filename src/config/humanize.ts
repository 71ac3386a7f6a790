// The effective config in the units users write: the schema knows which
// fields are durations and sizes (their descriptions say so), so a parsed
// 30000 goes back out as "30s" and 1048576 as "1MiB".
import { z } from 'zod';
import { formatDuration } from './units.js';

type Def = { type: string; innerType?: z.ZodType; shape?: Record<string, z.ZodType>; element?: z.ZodType; valueType?: z.ZodType; options?: z.ZodType[]; in?: z.ZodType; discriminator?: string };
const def = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

export function formatSize(n: number): string {
  for (const [unit, f] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (n >= f && n % f === 0) return `${n / f}${unit}`;
  }
  return `${n}B`;
}

function unitOf(s: z.ZodType): 'duration' | 'size' | null {
  let cur: z.ZodType | undefined = s;
  for (let i = 0; cur && i < 8; i++) {
    const d = z.globalRegistry.get(cur)?.description ?? '';
    if (d.startsWith('Duration')) return 'duration';
    if (d.startsWith('Size')) return 'size';
    const t = def(cur).type;
    if (t === 'optional' || t === 'default' || t === 'prefault' || t === 'nullable' || t === 'readonly') cur = def(cur).innerType;
    else if (t === 'pipe') cur = def(cur).in;
    else return null;
  }
  return null;
}

function unwrap(s: z.ZodType): z.ZodType {
  let cur = s;
  for (let i = 0; i < 8; i++) {
    const t = def(cur).type;
    if ((t === 'optional' || t === 'default' || t === 'prefault' || t === 'nullable' || t === 'readonly') && def(cur).innerType) cur = def(cur).innerType!;
    else break;
  }
  return cur;
}

export function humanize(schema: z.ZodType, value: unknown): unknown {
  const unit = unitOf(schema);
  if (unit && typeof value === 'number') return unit === 'duration' ? formatDuration(value) : formatSize(value);
  const s = unwrap(schema);
  const d = def(s);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return d.type === 'array' && d.element ? value.map((v) => humanize(d.element!, v)) : value;
  const o = value as Record<string, unknown>;
  if (d.type === 'object' && d.shape) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) out[k] = d.shape[k] ? humanize(d.shape[k]!, v) : v;
    return out;
  }
  if (d.type === 'record' && d.valueType) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) out[k] = humanize(d.valueType, v);
    return out;
  }
  if (d.type === 'union' && d.options) {
    // The option that owns every key of the value (and its discriminator literal).
    const fit = d.options.find((opt) => {
      const od = def(unwrap(opt));
      if (od.type !== 'object' || !od.shape) return false;
      if (!Object.keys(o).every((k) => k in od.shape!)) return false;
      if (d.discriminator) {
        const lit = def(unwrap(od.shape[d.discriminator]!)) as Def & { values?: unknown[] };
        return !lit.values || lit.values.includes(o[d.discriminator]);
      }
      return true;
    });
    return fit ? humanize(fit, value) : value;
  }
  return value;
}
