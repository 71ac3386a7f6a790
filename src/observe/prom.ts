// Prometheus text exposition (format 0.0.4) helpers, shared by the metrics
// registry and by every module that contributes a Collector (rate limiter,
// worker pool, JWT cache, JWKS…), so all families are written the same way.
// Runs on scrape only: allocation here is fine.

/** A module's contribution to /metrics: complete families (HELP, TYPE, samples) as text. */
export type Collector = () => string;

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

/** A sample: label pairs (already ordered) and a value. */
export type Sample = readonly [labels: Readonly<Record<string, string>> | null, value: number];

/** Escapes a label value: backslash, double quote and newline, as the format requires. */
export function escapeLabel(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

export function labelText(labels: Readonly<Record<string, string>> | null): string {
  if (!labels) return '';
  let s = '';
  for (const k in labels) s += (s ? ',' : '') + k + '="' + escapeLabel(labels[k]!) + '"';
  return s ? '{' + s + '}' : '';
}

/** One complete family: `# HELP`, `# TYPE` and its samples. */
export function family(name: string, type: MetricType, help: string, samples: readonly Sample[]): string {
  let s = `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
  for (const [labels, value] of samples) s += name + labelText(labels) + ' ' + formatValue(value) + '\n';
  return s;
}

/**
 * A histogram family from per-bucket (non-cumulative) counts. `bounds` are the
 * upper bounds in a unit `divisor` times smaller than the exported one (e.g.
 * microseconds with divisor 1e6 → seconds); `counts` has bounds.length + 1 entries, the last being +Inf.
 */
export function histogramSamples(
  name: string,
  labels: Readonly<Record<string, string>>,
  bounds: ArrayLike<number>,
  counts: ArrayLike<number>,
  sum: number,
  divisor: number,
): string {
  const base = labelText(labels);
  const inner = base ? base.slice(1, -1) + ',' : '';
  let s = '';
  let cum = 0;
  for (let i = 0; i < bounds.length; i++) {
    cum += counts[i]!;
    s += `${name}_bucket{${inner}le="${formatValue(bounds[i]! / divisor)}"} ${cum}\n`;
  }
  cum += counts[bounds.length]!;
  s += `${name}_bucket{${inner}le="+Inf"} ${cum}\n`;
  s += `${name}_sum${base} ${formatValue(sum / divisor)}\n`;
  s += `${name}_count${base} ${cum}\n`;
  return s;
}
