// The upstream header list a proxied request gets (compileForwardHeaders):
// the client's forwardable headers, X-Forwarded-For/-Proto/-Host, X-Request-Id,
// the identity's headers (consumer, authenticator, forwarded claims) and the
// route's additions. It is the one hot-path step that must allocate (the list
// it returns is what is written upstream), so it has no 0 B target: B/op says
// what it costs. Baseline: what many Node gateways do — copy the client's
// headers into an object, delete the hop-by-hop ones, spread the gateway's in.
import { compileForwardHeaders } from '../../dist/proxy/forward-headers.js';
import { compileHeaderPolicy } from '../../dist/proxy/headers.js';
import { makeIdentity } from '../../dist/auth/identity.js';
import { DetachedView } from '../../dist/server/view.js';
import { suite } from './lib.mjs';

// A browser-like request: 9 headers.
const client = [
  'host', 'api.example.com', 'user-agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
  'accept', 'application/json', 'accept-encoding', 'gzip, deflate, br', 'accept-language', 'en-GB,en;q=0.9',
  'authorization', 'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl', 'connection', 'keep-alive',
  'cookie', 'theme=dark; _ga=GA1.2.3', 'x-portcullis-consumer', 'forged',
];
const forwardClaims = { sub: 'x-user-id', email: 'x-user-email' };
const route = { headers: compileHeaderPolicy(Object.values(forwardClaims), ['cookie'], { 'x-gateway': 'portcullis' }) };
const identity = makeIdentity('corp-jwt', 'alice', { sub: 'alice', email: 'alice@example.com', scope: 'orders:read' }, forwardClaims, Infinity);
const framing = { contentLength: -1, chunked: false, connectionDrop: null, xff: '', xfp: '', requestId: '' };

function view(id) {
  const v = new DetachedView(client);
  v.method = 'GET'; v.path = '/api/orders/42'; v.host = 'api.example.com';
  v.clientIp = '203.0.113.7'; v.peerIp = '203.0.113.7'; v.proto = 'https';
  v.identity = id;
  return v;
}
const anon = view(null);
const authed = view(identity);

// Baseline: object copy + deletes + spread (fresh objects per request, as a plain Node proxy builds them).
const HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];
function naive(v) {
  const h = {};
  for (let i = 0; i < v.headers.length; i += 2) h[v.headers[i]] = v.headers[i + 1];
  for (const n of HOP) delete h[n];
  for (const k of Object.keys(h)) if (k.startsWith('x-portcullis-')) delete h[k];
  const out = { ...h, 'x-forwarded-for': v.clientIp, 'x-forwarded-proto': v.proto, 'x-forwarded-host': h.host, 'x-request-id': `${Date.now()}-${Math.random()}` };
  if (v.identity) {
    out['x-portcullis-consumer'] = v.identity.consumer;
    out['x-portcullis-authenticator'] = v.identity.authenticator;
    for (const [claim, header] of Object.entries(forwardClaims)) out[header] = String(v.identity.claims[claim]);
  }
  return out;
}

const has = (list, name, value) => { for (let i = 0; i < list.length; i += 2) if (list[i] === name) return value === undefined || list[i + 1] === value; return false; };

await suite('identity header build', {
  note: 'a 9-header browser request; JWT identity with 2 forwarded claims; route drops cookie, adds 1 header',
  baseline: { name: 'object copy + delete + spread (naive)', fn: () => naive(authed), check: (h) => h['x-user-id'] === 'alice' },
  cases: [
    { name: 'anonymous pass-through', fn: () => compileForwardHeaders(anon, framing, route, ''),
      check: (h) => has(h, 'x-forwarded-for', '203.0.113.7') && !has(h, 'connection') && !has(h, 'cookie') && !has(h, 'x-portcullis-consumer') && has(h, 'x-gateway', 'portcullis') },
    { name: 'JWT identity (consumer, authenticator, 2 claims)', fn: () => compileForwardHeaders(authed, framing, route, ''),
      check: (h) => has(h, 'x-user-id', 'alice') && has(h, 'x-user-email', 'alice@example.com') && has(h, 'x-portcullis-consumer', 'alice') && !has(h, 'connection') },
  ],
});
