// bench/chart.svg: (1) CPU µs per request of each system per scenario, bars
// side by side; (2) latency percentiles (p50, p99, p99.9) per row on a log
// scale. Plain SVG with no script or external font, so GitHub renders it.
const COLORS = { portcullis: '#e8590c', nginx: '#2f9e44', haproxy: '#1971c2', fastify: '#212529', 'fast-gateway': '#ae3ec9', upstream: '#868e96' };
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderChart(out) {
  const W = 980;
  const LABEL = 300;
  const plotW = W - LABEL - 80;
  const parts = [];
  let y = 0;
  const text = (x, yy, s, o = {}) => parts.push(`<text x="${x}" y="${yy}" font-size="${o.size ?? 12}"${o.anchor ? ` text-anchor="${o.anchor}"` : ''}${o.weight ? ` font-weight="${o.weight}"` : ''} fill="${o.fill ?? '#212529'}">${esc(s)}</text>`);

  const ok = out.results.filter((r) => r.status === 'ok');
  const title = `Portcullis bench — ${out.machine.cpu}, ${out.machine.nproc} cores; ${out.when.slice(0, 10)}`;
  y += 24;
  text(10, y, title, { size: 15, weight: 'bold' });
  y += 18;
  text(10, y, `${out.layout}. ${out.options.quick ? 'QUICK RUN (smoke check, not for comparison). ' : ''}Lower is better.`, { size: 11, fill: '#495057' });

  // Legend: the systems this run measured, with their versions where known.
  y += 22;
  let lx = 10;
  const v = out.versions ?? {};
  const major = (s, name) => { const m = new RegExp(`^${name} (\\d+(?:\\.\\d+)?)`).exec(s ?? ''); return m ? `${name} ${m[1]}` : name; };
  const LABELS = {
    portcullis: 'Portcullis',
    nginx: v.nginx ? `nginx ${v.nginx.replace(/^(\d+\.\d+).*/, '$1')}` : 'nginx',
    haproxy: v.haproxy ? v.haproxy.replace(/^HAProxy (\d+\.\d+).*/, 'HAProxy $1') : 'HAProxy',
    fastify: major(v.fastify, 'fastify'),
    'fast-gateway': major(v.fastGateway, 'fast-gateway'),
  };
  const present = new Set(out.results.filter((r) => r.status === 'ok').map((r) => r.system));
  for (const [sys, c] of Object.entries(COLORS).filter(([s]) => s !== 'upstream' && (present.has(s) || ['portcullis', 'nginx', 'haproxy'].includes(s)))) {
    parts.push(`<rect x="${lx}" y="${y - 10}" width="12" height="12" fill="${c}"/>`);
    text(lx + 16, y, LABELS[sys]);
    lx += 130;
  }

  // Panel 1: CPU µs/req (large-body rows get their own panel and scale: a
  // 1 MiB request costs ~100× a small one and would flatten every other bar).
  const groups = [];
  for (const r of ok) {
    if (r.cpuUsPerReq === undefined || r.system === 'upstream') continue;
    let g = groups.find((x) => x.name === r.scenario);
    if (!g) groups.push((g = { name: r.scenario, rows: [] }));
    g.rows.push(r);
  }
  const order = { portcullis: 0, nginx: 1, haproxy: 2, fastify: 3, 'fast-gateway': 4 };
  const BAR = 13;
  const cpuPanel = (title, gs) => {
    if (!gs.length) return;
    y += 26;
    text(10, y, title, { size: 13, weight: 'bold' });
    y += 8;
    const maxCpu = Math.max(1, ...gs.flatMap((g) => g.rows.map((r) => r.cpuUsPerReq)));
    const scale = (v) => (v / maxCpu) * plotW;
    for (const g of gs) {
      g.rows.sort((a, b) => order[a.system] - order[b.system]);
      const dup = new Set(g.rows.map((r) => r.system)).size < g.rows.length;
      y += 8;
      text(LABEL - 8, y + (BAR * g.rows.length) / 2 + 4, g.name, { anchor: 'end' });
      for (const r of g.rows) {
        const w = Math.max(1, scale(r.cpuUsPerReq));
        const split = r.userUsPerReq !== undefined ? ` (user ${r.userUsPerReq.toFixed(1)} + sys ${r.sysUsPerReq.toFixed(1)})` : '';
        parts.push(`<rect x="${LABEL}" y="${y}" width="${w.toFixed(1)}" height="${BAR - 2}" fill="${COLORS[r.system] ?? '#868e96'}"><title>${esc(`${r.id}: ${r.cpuUsPerReq.toFixed(1)} µs/req${split}, ${Math.round(r.rps)} req/s`)}</title></rect>`);
        text(LABEL + w + 4, y + BAR - 3, `${r.cpuUsPerReq.toFixed(1)}${dup ? `  ${r.id}` : ''}`, { size: 10, fill: '#343a40' });
        y += BAR;
      }
      parts.push(`<line x1="${LABEL - 4}" x2="${W - 10}" y1="${y + 4}" y2="${y + 4}" stroke="#f1f3f5"/>`);
    }
  };
  const big = (g) => /MiB/.test(g.name);
  cpuPanel('CPU µs per request of the system under test (user+sys from /proc ÷ requests)', groups.filter((g) => !big(g)));
  cpuPanel('Large bodies: CPU µs per 1 MiB request (own scale)', groups.filter(big));

  // Panel 2: latency percentiles, log scale
  y += 34;
  text(10, y, 'Latency under load (ms, log scale): ● p50   ■ p99   ▲ p99.9', { size: 13, weight: 'bold' });
  y += 10;
  const lat = ok.filter((r) => r.p50 > 0);
  const lo = 0.05;
  const hi = Math.max(1, ...lat.map((r) => r.p999 / 1000)) * 1.2;
  const lx0 = LABEL;
  const lxw = plotW;
  const xs = (ms) => lx0 + ((Math.log10(Math.max(lo, ms)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * lxw;
  const axisTop = y;
  const ROW = 15;
  for (const r of lat) {
    y += ROW;
    text(LABEL - 8, y + 4, `${r.scenario} — ${r.system}`, { anchor: 'end', size: 11 });
    const c = COLORS[r.system] ?? '#868e96';
    const [a, b, d] = [r.p50, r.p99, r.p999].map((v) => xs(v / 1000));
    parts.push(`<line x1="${a.toFixed(1)}" x2="${d.toFixed(1)}" y1="${y}" y2="${y}" stroke="${c}" stroke-width="1.5"/>`);
    parts.push(`<circle cx="${a.toFixed(1)}" cy="${y}" r="4" fill="${c}"><title>p50 ${(r.p50 / 1000).toFixed(2)} ms</title></circle>`);
    parts.push(`<rect x="${(b - 4).toFixed(1)}" y="${y - 4}" width="8" height="8" fill="${c}"><title>p99 ${(r.p99 / 1000).toFixed(2)} ms</title></rect>`);
    parts.push(`<path d="M${d.toFixed(1)},${y - 5} l5,9 h-10 z" fill="${c}"><title>p99.9 ${(r.p999 / 1000).toFixed(2)} ms</title></path>`);
  }
  y += 14;
  for (let e = Math.ceil(Math.log10(lo)); e <= Math.log10(hi); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v < lo || v > hi) continue;
      const x = xs(v);
      parts.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${axisTop}" y2="${y - 8}" stroke="${m === 1 ? '#ced4da' : '#f1f3f5'}"/>`);
      text(x, y + 4, v >= 1 ? String(v) : v.toFixed(e < -1 ? 2 : 1), { anchor: 'middle', size: 10, fill: '#495057' });
    }
  }
  y += 20;
  const H = y;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">
<rect width="${W}" height="${H}" fill="#ffffff"/>
${parts.join('\n')}
</svg>
`;
}
