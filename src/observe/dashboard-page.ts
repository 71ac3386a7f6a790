// The dashboard: one self-contained page (no CDN, no external files), embedded
// as a module so it ships inside dist/ with the code that serves it. It shows
// what the live feed (WebSocket /live) pushes every second. Data is only ever
// put into the page with textContent, and a CSP with hashes of the inline
// script and style forbids anything else.
//
// Editing note: the script below is a String.raw template, so it must not
// contain backquotes or dollar-brace sequences.
import { createHash } from 'node:crypto';

const STYLE = String.raw`
:root { --bg:#0f1419; --panel:#171d24; --line:#26303b; --text:#d8dee6; --dim:#8a96a3;
  --c2:#3fb950; --c3:#58a6ff; --c4:#d29922; --c5:#f85149; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--text); }
header { display:flex; align-items:center; gap:12px; padding:10px 18px; border-bottom:1px solid var(--line); }
header h1 { font-size:16px; margin:0; font-weight:600; }
#status { font-size:12px; padding:2px 8px; border-radius:10px; background:#3a1d1d; color:#f0a0a0; }
#status.on { background:#15301c; color:#8fe0a0; }
header .right { margin-left:auto; color:var(--dim); font-size:12px; }
main { padding:14px 18px; display:grid; gap:14px; }
.cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(140px, 1fr)); gap:10px; }
.card { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:10px 12px; }
.card .label { color:var(--dim); font-size:12px; }
.card .value { font-size:22px; font-weight:600; font-variant-numeric:tabular-nums; }
.card .sub { color:var(--dim); font-size:12px; font-variant-numeric:tabular-nums; }
.k2 .value { color:var(--c2); } .k3 .value { color:var(--c3); } .k4 .value { color:var(--c4); } .k5 .value { color:var(--c5); }
.panel { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:10px 12px; min-width:0; }
.panel h2 { font-size:13px; margin:0 0 8px; color:var(--dim); font-weight:600; text-transform:uppercase; letter-spacing:.04em; }
.grid { display:grid; grid-template-columns:repeat(auto-fit, minmax(420px, 1fr)); gap:14px; }
canvas { width:100%; height:220px; display:block; }
.legend { display:flex; gap:14px; font-size:12px; color:var(--dim); margin-top:6px; }
.l2 { background:var(--c2); } .l3 { background:var(--c3); } .l4 { background:var(--c4); } .l5 { background:var(--c5); }
.legend i { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:5px; vertical-align:-1px; }
table { width:100%; border-collapse:collapse; font-variant-numeric:tabular-nums; }
th, td { text-align:left; padding:4px 6px; border-bottom:1px solid var(--line); white-space:nowrap; overflow:hidden; text-overflow:ellipsis; max-width:260px; }
th { color:var(--dim); font-weight:500; font-size:12px; }
td.n, th.n { text-align:right; }
.s4 { color:var(--c4); } .s5 { color:var(--c5); } .s2 { color:var(--c2); } .s3 { color:var(--c3); }
.up { color:var(--c2); } .down { color:var(--c5); } .unknown { color:var(--dim); }
.scroll { max-height:340px; overflow:auto; }
.empty { color:var(--dim); font-style:italic; padding:6px; }
#tokenbox { display:none; background:var(--panel); border:1px solid var(--c4); border-radius:8px; padding:12px; }
#tokenbox input { background:var(--bg); color:var(--text); border:1px solid var(--line); border-radius:4px; padding:5px 8px; width:320px; }
#tokenbox button { background:var(--c3); color:#08121f; border:0; border-radius:4px; padding:6px 12px; font-weight:600; cursor:pointer; }
`;

const SCRIPT = String.raw`
(function () {
  'use strict';
  var KEY = 'portcullis-admin-token';
  var token = null;
  try {
    var m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (m) {
      token = decodeURIComponent(m[1]);
      sessionStorage.setItem(KEY, token);
      history.replaceState(null, '', location.pathname);
    } else {
      token = sessionStorage.getItem(KEY);
    }
  } catch (e) { /* storage disabled: ask each time */ }

  function $(id) { return document.getElementById(id); }
  function text(el, v) { if (el.textContent !== v) el.textContent = v; }
  function fmtInt(n) { return Math.round(n).toLocaleString('en-US'); }
  function fmtRate(n) { return n >= 100 ? fmtInt(n) : n.toFixed(1); }
  function fmtMs(n) { return n >= 100 ? fmtInt(n) + ' ms' : n.toFixed(n >= 10 ? 1 : 2) + ' ms'; }
  function fmtBytes(n) { var u = ['B', 'KiB', 'MiB', 'GiB']; var i = 0; while (n >= 1024 && i < 3) { n /= 1024; i++; } return n.toFixed(i ? 1 : 0) + ' ' + u[i]; }
  function fmtTime(ms) { var d = new Date(ms); return d.toLocaleTimeString('en-GB', { hour12: false }); }
  function cls(status) { return 's' + Math.floor(status / 100); }
  function b64url(s) {
    var bytes = new TextEncoder().encode(s); var bin = '';
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  /** Rebuilds a table body; rows = array of arrays of {v, c (class), n (numeric)}; attrs = per-row data attributes. */
  function fill(id, rows, attrs, cols) {
    var body = $(id);
    var frag = document.createDocumentFragment();
    if (rows.length === 0) {
      var tr0 = document.createElement('tr'); var td0 = document.createElement('td');
      td0.colSpan = cols; td0.className = 'empty'; td0.textContent = 'none yet';
      tr0.appendChild(td0); frag.appendChild(tr0);
    }
    rows.forEach(function (row, i) {
      var tr = document.createElement('tr');
      var a = attrs[i];
      for (var k in a) tr.setAttribute('data-' + k, a[k]);
      row.forEach(function (cell) {
        var td = document.createElement('td');
        td.textContent = cell.v;
        if (cell.c) td.className = cell.c;
        if (cell.col) td.setAttribute('data-col', cell.col);
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    });
    body.replaceChildren(frag);
  }

  var COLORS = { c2: '#3fb950', c3: '#58a6ff', c4: '#d29922', c5: '#f85149' };
  function drawChart(history) {
    var cv = $('chart');
    var dpr = window.devicePixelRatio || 1;
    var w = cv.clientWidth, h = cv.clientHeight;
    if (cv.width !== Math.round(w * dpr) || cv.height !== Math.round(h * dpr)) { cv.width = Math.round(w * dpr); cv.height = Math.round(h * dpr); }
    var g = cv.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    var left = 44, right = 8, top = 8, bottom = 18;
    var pw = w - left - right, ph = h - top - bottom;
    var max = 1;
    history.forEach(function (p) { max = Math.max(max, p.c2, p.c3, p.c4, p.c5); });
    var mag = Math.pow(10, Math.floor(Math.log10(max)));
    var nice = [1, 2, 5, 10].map(function (x) { return x * mag; }).filter(function (x) { return x >= max; })[0];
    g.strokeStyle = '#26303b'; g.fillStyle = '#8a96a3'; g.font = '11px system-ui, sans-serif'; g.lineWidth = 1;
    for (var i = 0; i <= 4; i++) {
      var y = top + ph - (ph * i) / 4;
      g.beginPath(); g.moveTo(left, y); g.lineTo(left + pw, y); g.stroke();
      var label = nice * i / 4; g.fillText(label >= 10 ? String(Math.round(label)) : label.toFixed(1), 4, y + 4);
    }
    g.fillText('req/s, last ' + history.length + ' s', left, h - 4);
    var n = 120;
    ['c2', 'c3', 'c4', 'c5'].forEach(function (key) {
      g.strokeStyle = COLORS[key]; g.lineWidth = 1.6; g.beginPath();
      history.forEach(function (p, j) {
        var x = left + pw - ((history.length - 1 - j) * pw) / (n - 1);
        var y2 = top + ph - (p[key] / nice) * ph;
        if (j === 0) g.moveTo(x, y2); else g.lineTo(x, y2);
      });
      g.stroke();
    });
  }

  function render(s) {
    var bc = s.totals.byClass, rc = s.rate.byClass;
    text($('v-total'), fmtInt(s.totals.requests));
    text($('r-total'), fmtRate(s.rate.requests) + ' /s');
    ['2xx', '3xx', '4xx', '5xx'].forEach(function (c) {
      text($('v-' + c), fmtInt(bc[c]));
      text($('r-' + c), fmtRate(rc[c]) + ' /s');
    });
    text($('v-p50'), s.latency.count ? fmtMs(s.latency.p50Ms) : '–');
    text($('v-p99'), s.latency.count ? fmtMs(s.latency.p99Ms) : '–');
    text($('r-lat'), 'last ' + s.latency.windowSeconds + ' s, ' + fmtInt(s.latency.count) + ' req');
    text($('v-conn'), fmtInt(s.connections));
    text($('v-ws'), fmtInt(s.websockets || 0));
    text($('v-rss'), fmtBytes(s.process.rssBytes));
    text($('r-rss'), 'event loop p99 ' + fmtMs(s.process.eventLoopDelayP99Ms));
    text($('uptime'), 'up ' + Math.floor(s.uptimeSeconds / 3600) + 'h ' + Math.floor((s.uptimeSeconds % 3600) / 60) + 'm · updated ' + fmtTime(s.time));
    drawChart(s.history);

    fill('t-rejections', s.recentRejections.map(function (r) {
      return [{ v: fmtTime(r.time) }, { v: String(r.status), c: cls(r.status) }, { v: r.reason }, { v: r.route }, { v: r.ip }];
    }), s.recentRejections.map(function () { return {}; }), 5);
    fill('t-reasons', s.reasons.map(function (r) {
      return [{ v: r.reason }, { v: String(r.status), c: cls(r.status) }, { v: r.stage }, { v: fmtInt(r.count), c: 'n', col: 'count' }, { v: fmtRate(r.perSecond), c: 'n' }];
    }), s.reasons.map(function (r) { return { reason: r.reason, count: String(r.count) }; }), 5);
    fill('t-routes', s.routes.map(function (r) {
      return [{ v: r.name }, { v: fmtInt(r.requests), c: 'n', col: 'requests' },
        { v: fmtInt(r.byClass['2xx']), c: 'n s2', col: '2xx' }, { v: fmtInt(r.byClass['3xx']), c: 'n s3', col: '3xx' },
        { v: fmtInt(r.byClass['4xx']), c: 'n s4', col: '4xx' }, { v: fmtInt(r.byClass['5xx']), c: 'n s5', col: '5xx' },
        { v: fmtMs(r.p50Ms), c: 'n' }, { v: fmtMs(r.p99Ms), c: 'n' }];
    }), s.routes.map(function (r) {
      return { route: r.name, requests: String(r.requests), c2xx: String(r.byClass['2xx']), c3xx: String(r.byClass['3xx']), c4xx: String(r.byClass['4xx']), c5xx: String(r.byClass['5xx']) };
    }), 8);
    fill('t-ips', s.topRejectedIps.map(function (r) {
      return [{ v: r.ip }, { v: fmtInt(r.count), c: 'n', col: 'count' }, { v: fmtTime(r.last) }];
    }), s.topRejectedIps.map(function (r) { return { ip: r.ip, count: String(r.count) }; }), 3);
    fill('t-upstreams', s.upstreams.map(function (u) {
      var hs = u.healthy === null ? 'unknown' : u.healthy ? 'up' : 'down';
      return [{ v: u.name }, { v: hs + (u.detail ? ' (' + u.detail + ')' : ''), c: hs }, { v: fmtInt(u.requests), c: 'n', col: 'requests' },
        { v: fmtInt(u.errors), c: u.errors ? 'n s5' : 'n', col: 'errors' }, { v: fmtMs(u.meanMs), c: 'n' }];
    }), s.upstreams.map(function (u) { return { upstream: u.name, health: u.healthy === null ? 'unknown' : u.healthy ? 'up' : 'down' }; }), 5);
    document.body.setAttribute('data-updated', String(s.time));
  }

  var retry = 0;
  function setStatus(on, msg) { var el = $('status'); el.className = on ? 'on' : ''; el.textContent = msg; }
  function connect() {
    var protos = ['portcullis.live'];
    if (token) protos.push('bearer.' + b64url(token));
    var opened = false;
    var ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/live', protos);
    ws.onopen = function () { opened = true; retry = 0; setStatus(true, 'live'); $('tokenbox').style.display = 'none'; };
    ws.onmessage = function (ev) { render(JSON.parse(ev.data)); };
    ws.onclose = function () {
      setStatus(false, 'disconnected');
      // A refused upgrade (wrong or missing token) closes before opening.
      if (!opened) $('tokenbox').style.display = 'block';
      retry++;
      setTimeout(connect, Math.min(5000, 500 * retry));
    };
  }
  $('tokenform').addEventListener('submit', function (ev) {
    ev.preventDefault();
    token = $('token').value.trim();
    try { sessionStorage.setItem(KEY, token); } catch (e) { /* ignore */ }
    $('tokenbox').style.display = 'none';
  });
  connect();
})();
`;

function card(id: string, label: string, klass = ''): string {
  return `<div class="card ${klass}"><div class="label">${label}</div><div class="value" id="v-${id}">–</div><div class="sub" id="r-${id}">&nbsp;</div></div>`;
}

function table(id: string, heads: readonly string[], numeric: readonly number[] = []): string {
  const th = heads.map((h, i) => `<th${numeric.includes(i) ? ' class="n"' : ''}>${h}</th>`).join('');
  return `<table><thead><tr>${th}</tr></thead><tbody id="${id}"></tbody></table>`;
}

const BODY = `
<header><h1>Portcullis</h1><span id="status">connecting</span><span class="right" id="uptime"></span></header>
<main>
<div id="tokenbox"><form id="tokenform">Could not open the live feed. If the admin listener has a token, enter it:
 <input id="token" type="password" autocomplete="off" placeholder="admin token"> <button type="submit">Connect</button></form></div>
<section class="cards">
${card('total', 'Requests')}${card('2xx', '2xx', 'k2')}${card('3xx', '3xx', 'k3')}${card('4xx', '4xx', 'k4')}${card('5xx', '5xx', 'k5')}
<div class="card"><div class="label">Latency p50</div><div class="value" id="v-p50">–</div><div class="sub" id="r-lat">&nbsp;</div></div>
<div class="card"><div class="label">Latency p99</div><div class="value" id="v-p99">–</div><div class="sub">&nbsp;</div></div>
<div class="card"><div class="label">Open connections</div><div class="value" id="v-conn">–</div><div class="sub">&nbsp;</div></div>
<div class="card"><div class="label">Open WebSockets</div><div class="value" id="v-ws">–</div><div class="sub">&nbsp;</div></div>
${card('rss', 'Memory (RSS)')}
</section>
<section class="panel"><h2>Requests per second by status class</h2><canvas id="chart"></canvas>
<div class="legend"><span><i class="l2"></i>2xx</span><span><i class="l3"></i>3xx</span><span><i class="l4"></i>4xx</span><span><i class="l5"></i>5xx</span></div></section>
<div class="grid">
<section class="panel"><h2>Latest rejections</h2><div class="scroll">${table('t-rejections', ['time', 'status', 'reason', 'route', 'client'])}</div></section>
<section class="panel"><h2>Rejections by reason</h2>${table('t-reasons', ['reason', 'status', 'stage', 'count', 'per s'], [3, 4])}</section>
<section class="panel"><h2>Top routes</h2>${table('t-routes', ['route', 'requests', '2xx', '3xx', '4xx', '5xx', 'p50', 'p99'], [1, 2, 3, 4, 5, 6, 7])}</section>
<section class="panel"><h2>Top rejected clients</h2>${table('t-ips', ['client', 'rejections', 'last'], [1])}</section>
<section class="panel"><h2>Upstreams</h2>${table('t-upstreams', ['upstream', 'health', 'requests', 'errors', 'mean'], [2, 3, 4])}</section>
</div>
</main>`;

const sha = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;

export const DASHBOARD_HTML =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">' +
  '<title>Portcullis</title><style>' + STYLE + '</style></head><body>' + BODY +
  '<script>' + SCRIPT + '</script></body></html>';

/** Only our inline script and style run; data may come from the same origin's WebSocket only. */
export const DASHBOARD_CSP =
  `default-src 'none'; script-src ${sha(SCRIPT)}; style-src ${sha(STYLE)}; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
