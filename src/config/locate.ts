// Where a config path is in the file: `routes[2].upstream` → line 41, column 5.
// Built from the YAML parser's node ranges (JSON files are parsed as YAML for
// this only), so every problem can be reported as file:line:column.
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { parsePath, type ConfigIssue } from './errors.js';

export interface Position {
  readonly line: number;
  readonly column: number;
}

export type Locator = (path: string) => Position | undefined;

export function locatorFor(text: string): Locator {
  const lc = new LineCounter();
  // Its own parse: it works for JSON files too, and with duplicate keys.
  const d = parseDocument(text, { lineCounter: lc, uniqueKeys: false });
  const pos = (offset: number | undefined): Position | undefined => {
    if (offset === undefined) return undefined;
    const p = lc.linePos(offset);
    return { line: p.line, column: p.col };
  };
  return (path) => {
    const segs = parsePath(path);
    let node: unknown = d.contents;
    let at: number | undefined = (node as Node | null)?.range?.[0];
    for (let i = 0; i < segs.length; i++) {
      const s = segs[i]!;
      if (isSeq(node) && typeof s === 'number') {
        const item = node.items[s];
        if (item === undefined) break;
        node = item;
        at = (item as Node).range?.[0] ?? at;
        continue;
      }
      if (isMap(node)) {
        // Map keys may themselves contain dots (`map.eu.west`): try the longest key first.
        let found = false;
        for (let j = segs.length; j > i && !found; j--) {
          const parts = segs.slice(i, j);
          if (parts.some((x) => typeof x === 'number')) continue;
          const key = parts.join('.');
          for (const pair of (node as { items: unknown[] }).items) {
            if (!isPair(pair)) continue;
            const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
            if (k !== key) continue;
            at = (pair.key as Node | null)?.range?.[0] ?? at;
            // The last segment: point at the key. Deeper: continue into the value.
            node = pair.value;
            if (j < segs.length && pair.value && (pair.value as Node).range && !isMap(pair.value) && !isSeq(pair.value)) {
              at = (pair.value as Node).range![0];
            }
            i = j - 1;
            found = true;
            break;
          }
        }
        if (!found) break;
        continue;
      }
      break;
    }
    return pos(at);
  };
}

export function locateIssues(issues: readonly ConfigIssue[], locate: Locator | undefined): ConfigIssue[] {
  if (!locate) return [...issues];
  return issues.map((i) => {
    if (i.line !== undefined) return i;
    const p = locate(i.path);
    return p ? { ...i, line: p.line, column: p.column } : i;
  });
}
