#!/usr/bin/env node
// Peer for the bench: fast-gateway (restana router + fast-proxy-lite over
// node:http with a keep-alive Agent, its defaults). JWT is a restana
// middleware on the route calling fast-jwt's verifier (the verifier
// @fastify/jwt wraps; no token cache, its default). One process, one JS
// thread; the bench pins it on the SUT CPU.
//   /jwt/…  RS256 verify (alg allow-list, iss, aud, exp, sub required) → 401, else
//           proxy the rest of the path with sub forwarded as x-user-id
//   /…      pass-through
// Both add X-Forwarded-For / X-Forwarded-Proto (fast-proxy-lite itself adds X-Forwarded-Host).
// Usage: node bench/peers/fast-gateway.mjs --port P --upstream URL --public-key FILE
//        [--issuer ISS] [--audience AUD]   (or PEER_PORT, PEER_UPSTREAM, PEER_PUBLIC_KEY, …)
import { readFileSync } from 'node:fs';
import gateway from 'fast-gateway';
import { createVerifier } from 'fast-jwt';
import { peerArgs } from './args.mjs';

const a = peerArgs('fast-gateway');
const verify = createVerifier({
  key: readFileSync(a.publicKey, 'utf8'),
  algorithms: ['RS256'], allowedIss: a.issuer, allowedAud: a.audience, requiredClaims: ['sub', 'exp'],
});

function unauthorized(res, message) {
  res.statusCode = 401;
  res.setHeader('content-type', 'application/json');
  res.setHeader('www-authenticate', 'Bearer');
  res.end(JSON.stringify({ error: 'unauthorized', message }));
}

function jwt(req, res, next) {
  const h = req.headers.authorization;
  if (!h || !/^bearer /i.test(h)) return unauthorized(res, 'missing bearer token');
  try {
    req.user = verify(h.slice(7));
  } catch (err) {
    return unauthorized(res, err.message);
  }
  return next();
}

function rewriteRequestHeaders(req, headers) {
  const xff = headers['x-forwarded-for'];
  const ip = req.socket.remoteAddress;
  headers['x-forwarded-for'] = xff ? `${xff}, ${ip}` : ip;
  headers['x-forwarded-proto'] = 'http';
  if (req.user) headers['x-user-id'] = String(req.user.sub);
  return headers;
}

const server = gateway({
  routes: [
    { prefix: '/jwt', target: a.upstream, middlewares: [jwt], hooks: { rewriteRequestHeaders } },
    { prefix: '', target: a.upstream, hooks: { rewriteRequestHeaders } },
  ],
});
await server.start(a.port, a.host);
server.getServer().keepAliveTimeout = 300_000;
process.stderr.write(`fast-gateway listening on ${a.host}:${a.port} → ${a.upstream}\n`);
for (const sig of ['SIGTERM', 'SIGINT']) process.once(sig, () => { server.close().then(() => process.exit(0)); setTimeout(() => process.exit(0), 2000).unref(); });
