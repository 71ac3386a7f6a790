/** One problem in a config file, as `path.to.field: what is wrong`. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
  /** 1-based line and column of the field in the file, when known. */
  readonly line?: number;
  readonly column?: number;
}

export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];
  readonly file: string;
  constructor(file: string, issues: readonly ConfigIssue[]) {
    super(`${file}: ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n` + issues.map((i) => `  ${formatIssue(i)}`).join('\n'));
    this.name = 'ConfigError';
    this.file = file;
    this.issues = issues;
  }
}

/**
 * `path: message`; with the file, `file:line:column path: message` (the form
 * nginx -t, haproxy -c and compilers use, so editors and CI can jump to it).
 */
export function formatIssue(i: ConfigIssue, file?: string): string {
  const what = i.path ? `${i.path}: ${i.message}` : i.message;
  if (file === undefined) return i.line ? `${what} (line ${i.line})` : what;
  return i.line ? `${file}:${i.line}:${i.column ?? 1} ${what}` : `${file}: ${what}`;
}

/** `routes[0].match.path` style, from a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

/** The segments of a formatted path: `routes[0].match.path` → ['routes', 0, 'match', 'path']. */
export function parsePath(p: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /\[(\d+)\]|\.?([^.[]+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(p)) !== null) {
    if (m[1] !== undefined) out.push(Number(m[1]));
    else out.push(m[2]!);
  }
  return out;
}
