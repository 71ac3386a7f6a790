// Route match over a 12-route table (hosts, prefixes, methods, one header
// route, one regex route), the request hitting route 9. Baseline: the naive
// router many gateways start with — a list of RegExps tried in order.
import { compileRouter } from '../../dist/router/index.js';
import { suite } from './lib.mjs';

const routes = [
  { name: 'health', match: { path: '/ping' } },
  { name: 'admin-block', match: { path_prefix: '/internal' } },
  { name: 'legacy', match: { hosts: ['legacy.example.com'], path_prefix: '/' } },
  { name: 'v2', match: { path_prefix: '/api/v2', headers: { 'x-api-version': '2' } } },
  { name: 'users-write', match: { path_prefix: '/api/users', methods: ['POST', 'PUT', 'DELETE'] } },
  { name: 'users', match: { path_prefix: '/api/users' } },
  { name: 'carts', match: { hosts: ['*.shop.example.com'], path_prefix: '/api/carts' } },
  { name: 'payments', match: { path_prefix: '/api/payments', methods: ['POST'] } },
  { name: 'orders', match: { hosts: ['api.example.com'], path_prefix: '/api/orders', methods: ['GET', 'POST'] } },
  { name: 'reports', match: { path_regex: '^/api/reports/[0-9]+$' } },
  { name: 'static', match: { path_prefix: '/static/' } },
  { name: 'fallback', match: { path_prefix: '/' } },
];
const router = compileRouter(routes);
const noHeader = () => '';

// Naive: one RegExp per route (path + method), host checked with a regex too.
const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const naive = routes.map((r) => {
  const m = r.match;
  const p = m.path ? `^${esc(m.path)}$` : m.path_prefix ? `^${esc(m.path_prefix.replace(/\/$/, ''))}(?:/|$)` : m.path_regex;
  const h = m.hosts ? new RegExp(`^(?:${m.hosts.map((x) => esc(x).replace('\\*', '[^.]+')).join('|')})$`, 'i') : null;
  return { path: new RegExp(p), host: h, methods: m.methods ? new Set(m.methods) : null, headers: m.headers ? Object.entries(m.headers) : null };
});
function naiveMatch(method, host, path, header) {
  for (let i = 0; i < naive.length; i++) {
    const r = naive[i];
    if (r.methods && !r.methods.has(method)) continue;
    if (r.host && !r.host.test(host)) continue;
    if (r.headers && !r.headers.every(([k, v]) => header(k) === v)) continue;
    if (r.path.test(path)) return i;
  }
  return -1;
}

await suite('route match (12 routes, hit at #9)', {
  baseline: { name: 'RegExp list (naive)', fn: () => naiveMatch('GET', 'api.example.com', '/api/orders/123/items', noHeader), check: (v) => v === 8 },
  cases: [
    { name: 'compiled router: hit #9', fn: () => router.match('GET', 'api.example.com', '/api/orders/123/items', noHeader), check: (v) => v === 8, target: { label: '0 B/op', maxBytes: 0 } },
    { name: 'compiled router: regex #10', fn: () => router.match('GET', 'api.example.com', '/api/reports/42', noHeader), check: (v) => v === 9, target: { label: '0 B/op', maxBytes: 0 } },
    { name: 'compiled router: fallback #12', fn: () => router.match('GET', 'www.example.com', '/index.html', noHeader), check: (v) => v === 11, target: { label: '0 B/op', maxBytes: 0 } },
  ],
});
