// The results as a terminal table and as Markdown for BENCHMARKS.md.
const n0 = (x) => (x === undefined || x === null || Number.isNaN(x) ? '—' : Math.round(x).toLocaleString('en-US'));
const ms = (us) => (us === undefined || us === null ? '—' : (us / 1000).toFixed(us < 10_000 ? 2 : 1));
const cpu = (x) => (x === undefined || x === null ? '—' : x.toFixed(1));
const rat = (x) => (x === undefined || x === null ? '—' : `${x.toFixed(2)}×`);

const METRIC = { rps: 'req/s', cpu: 'CPU', p99: 'p99' };

function baselineText(r) {
  if (!r.baseline) return '';
  return `${rat(r.baseline.ratio)} ${r.baseline.id} (${METRIC[r.baseline.metric] ?? r.baseline.metric})`;
}

export function targetText(t, { md = false } = {}) {
  const mark = t.met === true ? (md ? '✅ met' : 'met') : t.met === false ? (md ? '❌ not met' : 'NOT MET') : (md ? '—' : '-');
  const got = t.addedUs !== undefined ? `+${ms(t.addedUs)} ms` : t.ratio !== undefined ? rat(t.ratio) : 'n/a';
  return `${t.label}: ${got}${t.met === null && t.ratio === undefined && t.addedUs === undefined ? ' (peer row missing)' : ''} ${mark}`.trim();
}

function cells(r, md) {
  if (r.status !== 'ok') {
    return [r.scenario, r.system, '', '', '', '', '', '', '', '', '', `${r.status}: ${r.message}`];
  }
  return [
    r.scenario, r.system, r.generator + (r.connections ? ` c${r.connections}` : ''),
    n0(r.rps), ms(r.p50), ms(r.p99), ms(r.p999), n0(r.errors), cpu(r.cpuUsPerReq),
    r.userUsPerReq === undefined ? '—' : `${cpu(r.userUsPerReq)} / ${cpu(r.sysUsPerReq)}`,
    baselineText(r),
    [...(r.targets ?? []).map((t) => targetText(t, { md })), r.extra?.summary, r.busy ? `⚠ machine busy (${r.background}% CPU from other processes)` : '', r.unstable ? `⚠ runs differ by ${r.spread}%` : ''].filter(Boolean).join(md ? '<br>' : '; '),
  ];
}

const HEAD = ['scenario', 'system', 'generator', 'req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'errors', 'CPU µs/req', 'user / sys', 'vs baseline', 'targets / notes'];

export function formatTable(out) {
  const rows = out.results.map((r) => cells(r, false));
  const w = HEAD.map((h, i) => Math.min(i === 11 ? 200 : 44, Math.max(h.length, ...rows.map((c) => String(c[i]).length))));
  const numeric = new Set([3, 4, 5, 6, 7, 8, 9]);
  const line = (c) => c.map((x, i) => {
    const s = String(x).slice(0, w[i]);
    return numeric.has(i) ? s.padStart(w[i]) : s.padEnd(w[i]);
  }).join('  ').trimEnd();
  return [line(HEAD), w.map((x) => '-'.repeat(x)).join('  '), ...rows.map(line)].join('\n');
}

export function markdownTable(out) {
  const esc = (s) => String(s).replace(/\|/g, '\\|');
  const m = out.machine;
  const v = out.versions;
  const busy = out.results.filter((r) => r.busy || r.unstable).length;
  const lines = [
    `**Machine:** ${m.nproc} cores, ${m.cpu}, ${m.memory_gib} GiB RAM, open files limit ${m.nofile_hard}, Linux ${v.kernel}. `
      + `**Versions:** Node ${v.node}, ${v.uWebSockets}, nginx ${v.nginx}, ${v.haproxy}${v.fastify ? `, ${v.fastify}` : ''}${v.fastGateway ? `, ${v.fastGateway}` : ''}, ${v.wrk}. `
      + `**Layout:** ${out.layout}${out.options.nice ? `, nice ${out.options.nice}` : ''}.`,
    '',
    busy ? `> ⚠ ${busy} of ${out.results.length} rows were measured while other processes used ≥5% of the machine, or their timed runs differ by more than 15% (flagged in the last column): those figures are noisier.\n` : '',
    `Last full run: ${out.when.slice(0, 16).replace('T', ' ')} UTC, ${out.seconds} s, ${out.options.warmup} s warm-up + median of ${out.options.reps} × ${out.options.duration} s runs (the run with the median CPU µs/req is shown), wrk \`-t1 -c${out.options.connections}\` unless the generator column says otherwise.`,
    '',
    `| ${HEAD.join(' | ')} |`,
    `|${HEAD.map((_, i) => ([3, 4, 5, 6, 7, 8, 9].includes(i) ? '---:' : '---')).join('|')}|`,
    ...out.results.map((r) => `| ${cells(r, true).map(esc).join(' | ')} |`),
  ];
  const targets = out.results.flatMap((r) => (r.targets ?? []).map((t) => ({ r, t })));
  if (targets.length) {
    lines.push('', '### Targets from the issues', '', '| row | target | measured | status |', '|---|---|---:|---|');
    for (const { r, t } of targets) {
      const got = t.addedUs !== undefined ? `+${ms(t.addedUs)} ms p99` : t.ratio !== undefined ? rat(t.ratio) : 'n/a';
      const st = t.met === true ? '✅ met' : t.met === false ? '❌ not met' : (t.ratio === undefined && t.addedUs === undefined ? 'not measured' : 'info');
      lines.push(`| ${r.id} | ${esc(t.label)} | ${got} | ${st} |`);
    }
  }
  return lines.join('\n');
}
