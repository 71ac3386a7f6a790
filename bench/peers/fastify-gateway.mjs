#!/usr/bin/env node
// Peer for the bench: a gateway as people build one with fastify 5 today —
// @fastify/reply-from (undici Agent, keep-alive, 128 connections per origin,
// its defaults) and @fastify/jwt (fast-jwt underneath; no token cache, its
// default). One process, one JS thread; the bench pins it on the SUT CPU.
//   /jwt/…  RS256 verify (alg allow-list, iss, aud, exp, sub required) → 401, else
//           proxy the rest of the path with sub forwarded as x-user-id
//   /…      pass-through
// Both add X-Forwarded-For / X-Forwarded-Proto, like the nginx peer's proxy_set_header.
// Usage: node bench/peers/fastify-gateway.mjs --port P --upstream URL --public-key FILE
//        [--issuer ISS] [--audience AUD]   (or PEER_PORT, PEER_UPSTREAM, PEER_PUBLIC_KEY, …)
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import fastifyJwt from '@fastify/jwt';
import replyFrom from '@fastify/reply-from';
import { peerArgs } from './args.mjs';

const a = peerArgs('fastify-gateway');
const app = Fastify({ logger: false, keepAliveTimeout: 300_000, bodyLimit: 4 * 1024 * 1024 });

// A proxy passes bodies through as streams instead of parsing them (what @fastify/http-proxy does).
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', (req, payload, done) => done(null, payload));

await app.register(replyFrom, { base: a.upstream });
await app.register(fastifyJwt, {
  secret: { public: readFileSync(a.publicKey, 'utf8') },
  verify: { algorithms: ['RS256'], allowedIss: a.issuer, allowedAud: a.audience, requiredClaims: ['sub', 'exp'] },
});

function forwarded(req, headers) {
  const xff = headers['x-forwarded-for'];
  headers['x-forwarded-for'] = xff ? `${xff}, ${req.ip}` : req.ip;
  headers['x-forwarded-proto'] = 'http';
  if (req.user) headers['x-user-id'] = String(req.user.sub);
  return headers;
}
const passOpts = { rewriteRequestHeaders: forwarded };

// The README's pattern: verify in an onRequest hook; a failed verify replies 401.
app.register(async (scope) => {
  scope.addHook('onRequest', async (req, reply) => {
    try { await req.jwtVerify(); } catch (err) { reply.code(401).send({ error: 'unauthorized', message: err.message }); }
  });
  scope.all('/jwt/*', (req, reply) => reply.from(req.url.slice(4), passOpts));
});
app.all('/*', (req, reply) => reply.from(req.url, passOpts));

await app.listen({ host: a.host, port: a.port });
process.stderr.write(`fastify-gateway listening on ${a.host}:${a.port} → ${a.upstream}\n`);
for (const sig of ['SIGTERM', 'SIGINT']) process.once(sig, () => { app.close().then(() => process.exit(0)); setTimeout(() => process.exit(0), 2000).unref(); });
