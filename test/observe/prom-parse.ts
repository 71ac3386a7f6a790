// A tiny Prometheus text-format (0.0.4) parser for tests: it checks what a
// scraper relies on (HELP/TYPE before samples, one TYPE per family, valid
// names, quoted and escaped label values, numeric values, no duplicate series)
// and returns the samples so tests can read exact values.

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromText {
  samples: PromSample[];
  types: Map<string, string>;
  /** Value of the one sample with exactly these labels (undefined when absent). */
  get(name: string, labels?: Record<string, string>): number | undefined;
  /** Sum over samples of `name` whose labels include `subset`. */
  sum(name: string, subset?: Record<string, string>): number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function parseLabels(s: string, line: number): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < s.length) {
    const eq = s.indexOf('=', i);
    if (eq < 0) throw new Error(`line ${line}: label without "="`);
    const key = s.slice(i, eq);
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(key)) throw new Error(`line ${line}: bad label name ${key}`);
    if (s[eq + 1] !== '"') throw new Error(`line ${line}: label value not quoted`);
    let j = eq + 2;
    let v = '';
    while (j < s.length && s[j] !== '"') {
      if (s[j] === '\\') {
        const n = s[j + 1];
        if (n === 'n') v += '\n';
        else if (n === '\\' || n === '"') v += n;
        else throw new Error(`line ${line}: bad escape \\${n}`);
        j += 2;
      } else v += s[j++];
    }
    if (s[j] !== '"') throw new Error(`line ${line}: unterminated label value`);
    if (key in out) throw new Error(`line ${line}: duplicate label ${key}`);
    out[key] = v;
    j++;
    if (s[j] === ',') j++;
    i = j;
  }
  return out;
}

export function parseProm(text: string): PromText {
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const seen = new Set<string>();
  const lines = text.split('\n');
  if (lines[lines.length - 1] !== '') throw new Error('exposition must end with a newline');
  lines.forEach((raw, idx) => {
    const line = idx + 1;
    if (raw === '') return;
    if (raw.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (!m) return;
      const [, kind, name, rest] = m;
      if (!NAME.test(name!)) throw new Error(`line ${line}: bad metric name ${name}`);
      if (kind === 'TYPE') {
        if (types.has(name!)) throw new Error(`line ${line}: second TYPE for ${name}`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest!)) throw new Error(`line ${line}: bad type ${rest}`);
        types.set(name!, rest!);
      } else {
        if (helps.has(name!)) throw new Error(`line ${line}: second HELP for ${name}`);
        helps.add(name!);
      }
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(raw);
    if (!m) throw new Error(`line ${line}: not a sample: ${raw}`);
    const [, name, labelText, valueText] = m;
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    if (Number.isNaN(value) && valueText !== 'NaN') throw new Error(`line ${line}: bad value ${valueText}`);
    const family = types.has(name!) ? name! : name!.replace(/_(bucket|sum|count)$/, '');
    if (!types.has(family)) throw new Error(`line ${line}: sample ${name} before its TYPE`);
    const labels = labelText ? parseLabels(labelText, line) : {};
    const key = name + JSON.stringify(Object.entries(labels).sort());
    if (seen.has(key)) throw new Error(`line ${line}: duplicate series ${raw}`);
    seen.add(key);
    samples.push({ name: name!, labels, value });
  });
  const matches = (l: Record<string, string>, sub: Record<string, string>) => Object.entries(sub).every(([k, v]) => l[k] === v);
  return {
    samples,
    types,
    get(name, labels = {}) {
      const want = Object.keys(labels).length;
      return samples.find((s) => s.name === name && Object.keys(s.labels).length === want && matches(s.labels, labels))?.value;
    },
    sum(name, subset = {}) {
      return samples.filter((s) => s.name === name && matches(s.labels, subset)).reduce((a, s) => a + s.value, 0);
    },
  };
}
