#!/usr/bin/env node
// Runs every bench/hotpath/*.bench.mjs in its own process with the flags the
// allocation count needs (--expose-gc, a 256 MiB young generation so no
// scavenge runs inside a counted loop). Usage:
//   node bench/hotpath/run.mjs [NAME…] [--json] [--write-doc]   (NAME filters by file name;
//   --write-doc rewrites the micro-benchmark section of BENCHMARKS.md)
// Needs dist/ (npx tsc -p tsconfig.json). Results: bench/results/hotpath.json.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
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
if (args.includes('--write-doc')) writeDoc(out);
process.exit(failed ? 1 : 0);

function writeDoc(o) {
  const file = path.join(HERE, '..', '..', 'BENCHMARKS.md');
  const [a, b] = ['<!-- hotpath:start -->', '<!-- hotpath:end -->'];
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const i = text.indexOf(a);
  const j = text.indexOf(b);
  if (i < 0 || j < i) { process.stderr.write(`BENCHMARKS.md has no ${a} … ${b} section: not updated\n`); return; }
  const B = (x) => (x === undefined ? 'n/a' : x < 0.05 ? '0' : x.toFixed(x < 10 ? 2 : 0));
  const md = [`Run ${o.when.slice(0, 16).replace('T', ' ')} UTC, Node ${o.node}. ns/op: fastest of interleaved tinybench rounds; B/op: heapUsed growth over the counted calls (≥ = a scavenge ran inside the loop, so a lower bound).`, ''];
  for (const su of o.suites) {
    if (!Array.isArray(su.results)) continue;
    md.push(`**${su.title}**${su.note ? ` — ${su.note}` : ''} (${(su.calls ?? 1e6).toLocaleString('en-US')} calls for B/op)`, '',
      '| case | ns/op | vs baseline | B/op allocated | B/op retained | target |', '|---|---:|---:|---:|---:|---|');
    for (const r of su.results) {
      const name = r.calls && su.calls && r.calls !== su.calls ? `${r.name} (B/op over ${r.calls.toLocaleString('en-US')} calls)` : r.name;
      md.push(`| ${name} | ${r.nsPerOp.toFixed(1)} | ${r.baseline ? 'baseline' : `${r.ratio.toFixed(2)}×`} | ${r.gcDuringLoop && r.bytesPerOp >= 0.05 ? '≥' : ''}${B(r.bytesPerOp)} | ${B(Math.max(0, r.retainedPerOp ?? 0))} | ${r.target ? `${r.target.label}: ${r.met ? '✅ met' : '❌ not met'}` : ''} |`);
    }
    md.push('');
  }
  writeFileSync(file, text.slice(0, i) + `${a}\n${md.join('\n')}\n${b}` + text.slice(j + b.length));
  process.stderr.write('updated the micro-benchmark section of BENCHMARKS.md\n');
}
