// `check` = `start`: the file read, the schema and references checked, and
// every stage compiled exactly as start compiles it (files read, CIDRs and
// keys parsed), with every problem of every kind collected in one pass.
// Nothing listens and no network call is made.
import { readConfigFile, type Plan } from '../config/load.js';
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import { locateIssues } from '../config/locate.js';
import { buildRuntime } from './build.js';

export async function checkConfigFile(file: string): Promise<Plan> {
  const r = readConfigFile(file);
  const issues: ConfigIssue[] = [...r.issues];
  if (r.plan) {
    try {
      const rt = await buildRuntime(r.plan, { threadSlot: 0, threads: 1, checkOnly: true });
      await rt.close();
    } catch (e) {
      if (e instanceof ConfigError) {
        const seen = new Set(issues.map((i) => i.path));
        for (const i of e.issues) {
          if (r.ignored.has(i.path) || (i.path && seen.has(i.path))) continue;
          seen.add(i.path);
          issues.push(i);
        }
      } else if (issues.length === 0) {
        throw e;
      }
      // Otherwise a salvaged plan tripped a compiler: the problems found so far explain it.
    }
  }
  if (issues.length || !r.plan) throw new ConfigError(r.file, sortByLine(locateIssues(issues, r.locate)));
  return r.plan;
}

/** In file order, as a compiler lists them; file-level problems first. */
function sortByLine(issues: ConfigIssue[]): ConfigIssue[] {
  return issues
    .map((i, k) => ({ i, k }))
    .sort((a, b) => (a.i.line ?? 0) - (b.i.line ?? 0) || (a.i.column ?? 0) - (b.i.column ?? 0) || a.k - b.k)
    .map((x) => x.i);
}
