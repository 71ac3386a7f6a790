#!/usr/bin/env node
// The bundled demo upstream: answers JSON saying which region served the
// request and what identity the gateway forwarded. Listens on 127.0.0.1 on the
// ports given (default 9001 = "eu", 9002 = "us").
import http from 'node:http';

const ports = (process.argv[2] ?? '9001:eu,9002:us').split(',').map((p) => p.split(':'));
for (const [port, region] of ports) {
  const server = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c) => { bytes += c.length; });
    req.on('end', () => {
      const body = JSON.stringify({
        served_by: `demo-upstream-${region}`,
        method: req.method,
        path: req.url,
        body_bytes: bytes,
        identity: {
          consumer: req.headers['x-portcullis-consumer'] ?? null,
          authenticator: req.headers['x-portcullis-authenticator'] ?? null,
          user: req.headers['x-user-id'] ?? null,
          scope: req.headers['x-user-scope'] ?? null,
        },
        forwarded_for: req.headers['x-forwarded-for'] ?? null,
        request_id: req.headers['x-request-id'] ?? null,
      }) + '\n';
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 30_000;
  server.listen(Number(port), '127.0.0.1', () => {
    process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'demo upstream listening', url: `http://127.0.0.1:${port}`, region }) + '\n');
  });
}
