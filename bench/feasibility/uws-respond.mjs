// Minimal responder: uWS answering 403 itself, the floor for a rejection.
// FEAS_IP=1 reads the peer address first (res.getRemoteAddress(): a getpeername
// syscall and a new ArrayBuffer per call), as any IP rule or per-IP limit must.
// FEAS_READS=1 also makes the request reads the gateway's first stage makes
// (method, query, host, content-length, transfer-encoding, url);
// FEAS_READS=buf passes the header names as pre-encoded bytes.
import uWS from '@btc-vision/uwebsockets.js';
const [port] = process.argv.slice(2).map(Number);
const IP = process.env.FEAS_IP === '1';
const READS = process.env.FEAS_READS ?? '';
const body = Buffer.from('{"error":"forbidden","message":"access from your network is not allowed"}');
const K = READS === 'buf'
  ? { host: Buffer.from('host'), cl: Buffer.from('content-length'), te: Buffer.from('transfer-encoding') }
  : { host: 'host', cl: 'content-length', te: 'transfer-encoding' };
let sink = 0;
uWS.App().any('/*', (res, req) => {
  if (IP) sink += res.getRemoteAddress().byteLength;
  if (READS !== '') {
    sink += req.getCaseSensitiveMethod().length + (req.getQuery() ?? '').length + req.getHeader(K.host).length;
    sink += req.getHeader(K.cl).length + req.getHeader(K.te).length + req.getUrl().length;
  }
  res.cork(() => res.writeStatus('403 Forbidden').writeHeader('content-type', 'application/json').end(body));
}).listen('127.0.0.1', port, (ok) => { if (!ok) process.exit(1); process.stdout.write(`listening ${sink}\n`); });
