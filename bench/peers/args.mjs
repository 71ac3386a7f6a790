// Command line of the bench's Node peers: --port, --upstream, --public-key
// (PEM of the RS256 key), --issuer, --audience, --host; env PEER_* as fallback.
import { AUDIENCE, ISSUER } from '../lib/tokens.mjs';

export function peerArgs(name, argv = process.argv.slice(2)) {
  const o = {
    host: process.env.PEER_HOST ?? '127.0.0.1',
    port: Number(process.env.PEER_PORT ?? 0),
    upstream: process.env.PEER_UPSTREAM ?? '',
    publicKey: process.env.PEER_PUBLIC_KEY ?? '',
    issuer: process.env.PEER_ISSUER ?? ISSUER,
    audience: process.env.PEER_AUDIENCE ?? AUDIENCE,
  };
  const keys = { '--host': 'host', '--port': 'port', '--upstream': 'upstream', '--public-key': 'publicKey', '--issuer': 'issuer', '--audience': 'audience' };
  for (let i = 0; i < argv.length; i++) {
    const [k, inline] = argv[i].split(/=(.*)/s, 2);
    if (!keys[k]) fail(name, `unknown option ${argv[i]}`);
    o[keys[k]] = inline ?? argv[++i];
  }
  o.port = Number(o.port);
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) fail(name, '--port needs a port number');
  if (!/^http:\/\/[^/]+$/.test(o.upstream)) fail(name, `--upstream needs an origin like http://127.0.0.1:18181, got "${o.upstream}"`);
  if (!o.publicKey) fail(name, '--public-key needs the RS256 public key PEM file (bench/results/cache/rs256.pub.pem)');
  return o;
}

function fail(name, msg) {
  process.stderr.write(`${name}: ${msg}\n`);
  process.exit(2);
}
