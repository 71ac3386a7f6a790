#!/usr/bin/env node
// Runs every bench/hotpath/*.bench.mjs in its own process with the flags the
// allocation count needs (--expose-gc, a 256 MiB young generation so no
// scavenge runs inside a counted loop). Usage:
//   node bench/hotpath/run.mjs [NAME…] [--json]     (NAME filters by file name)
// Needs dist/ (npx tsc -p tsconfig.json). Results: bench/results/hotpath.json.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const json = args.includes('--json');
const filters = args.filter((a) => !a.startsWith('--'));
const files = readdirSync(HERE).filter((f) => f.endsWith('.bench.mjs')).sort()
  .filter((f) => !filters.length || filters.some((x) => f.includes(x)));
if (!files.length) {
  process.stderr.write(`no bench/hotpath/*.bench.mjs matches ${filters.join(' ')}\n`);
  process.exit(2);
}

const FLAGS = ['--expose-gc', '--max-semi-space-size=256', '--min-semi-space-size=256'];
const results = [];
let failed = 0;
for (const f of files) {
  process.stderr.write(`▶ ${f}\n`);
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [...FLAGS, path.join(HERE, f)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    child.stdout.on('data', (c) => {
      buf += c;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('HOTPATH_JSON ')) results.push({ file: f, ...JSON.parse(line.slice(13)) });
        else if (!json) process.stdout.write(`${line}\n`);
      }
    });
    child.on('exit', resolve);
  });
  if (code !== 0) { failed++; process.stderr.write(`✖ ${f} exited with ${code}\n`); }
}
mkdirSync(path.join(HERE, '..', 'results'), { recursive: true });
const out = { when: new Date().toISOString(), node: process.version, suites: results };
writeFileSync(path.join(HERE, '..', 'results', 'hotpath.json'), `${JSON.stringify(out, null, 1)}\n`);
if (json) process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
process.exit(failed ? 1 : 0);
