// Durations and sizes as users write them: "250ms", "1s", "5m", "1h", "1MiB".

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds, or NaN when the text is not a duration. */
export function parseDuration(v: string | number): number {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : NaN;
  const m = DURATION_RE.exec(v.trim());
  if (!m) return NaN;
  return Math.round(Number(m[1]) * DURATION_MS[m[2]!]!);
}

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$/i;
const SIZE_BYTES: Record<string, number> = {
  b: 1, kb: 1000, kib: 1024, mb: 1_000_000, mib: 1024 * 1024, gb: 1_000_000_000, gib: 1024 * 1024 * 1024,
};

/** Bytes, or NaN when the text is not a size. */
export function parseSize(v: string | number): number {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : NaN;
  const m = SIZE_RE.exec(v.trim());
  if (!m) return NaN;
  return Math.floor(Number(m[1]) * SIZE_BYTES[(m[2] ?? 'b').toLowerCase()]!);
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
