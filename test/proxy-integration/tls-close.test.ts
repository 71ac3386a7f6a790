// The native client over a real TLS upstream that ends its response with a
// close (Connection: close): a TLS socket reads on while the handler is
// paused (a slow client), so the close can arrive while bytes of the
// response still wait, unparsed, for the resume. The close must then be
// judged after those bytes: the response is whole, not cut. Runs in a child
// process because the private CA must be trusted from the start
// (NODE_EXTRA_CA_CERTS), as a user would configure it.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers/gateway.js';
import { selfSignedCert } from '../helpers/tls-cert.js';

const SCRIPT = `
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { H1Pool } from ${JSON.stringify(path.join(ROOT, 'dist/proxy/h1/pool.js'))};
const [keyFile, certFile] = process.argv.slice(-2);
// 300 chunks of 900 bytes: every TLS record holds many chunk frames.
const frames = [];
let want = 0;
for (let i = 0; i < 300; i++) { const p = Buffer.alloc(900, 97 + (i % 26)); want += p.length; frames.push(Buffer.from(p.length.toString(16) + '\\r\\n'), p, Buffer.from('\\r\\n')); }
frames.push(Buffer.from('0\\r\\n\\r\\n'));
const wire = Buffer.concat(frames);
const srv = tls.createServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, (s) => {
  s.on('error', () => {});
  s.once('data', () => { s.write('HTTP/1.1 200 OK\\r\\ntransfer-encoding: chunked\\r\\nconnection: close\\r\\n\\r\\n'); s.end(wire); });
});
await new Promise((r) => srv.listen(0, '127.0.0.1', r));
const results = [];
for (let run = 0; run < 5; run++) {
  const pool = new H1Pool('https://127.0.0.1:' + srv.address().port, { connections: 1, connectTimeout: 2000, keepAliveTimeout: 4000, headersTimeout: 3000, bodyTimeout: 3000 });
  results.push(await new Promise((resolve) => {
    const guard = setTimeout(() => resolve({ outcome: 'hung', got }), 5000);
    let got = 0;
    let resume = null;
    pool.dispatch({ method: 'GET', path: '/', headers: ['host', 'x'], body: null }, {
      onConnect() {},
      onHeaders(_s, _raw, r) { resume = r; return true; },
      // Like the gateway with a client that reads slowly: pause on every chunk, resume a little later.
      onData(c) { got += c.length; setTimeout(resume, 2); return false; },
      onComplete() { clearTimeout(guard); resolve({ outcome: 'complete', got }); },
      onError(e) { clearTimeout(guard); resolve({ outcome: 'error ' + e.code, got }); },
    });
  }));
  await pool.destroy();
}
srv.close();
process.stdout.write(JSON.stringify({ want, results }));
`;

describe('native client, TLS upstream, close right after the response', () => {
  it('delivers a chunked response whole to a handler that pauses on every chunk (the close waits for the unparsed bytes)', async () => {
    const dir = tempDir('portcullis-tls-close-');
    const { key, cert } = selfSignedCert(dir, 'up');
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT, key, cert], {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: cert },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (c: Buffer) => { stdout += c; });
      p.stderr.on('data', (c: Buffer) => { stderr += c; });
      const t = setTimeout(() => p.kill('SIGKILL'), 40_000);
      p.on('exit', (code) => { clearTimeout(t); if (code === 0) resolve(stdout); else reject(new Error(`child exited ${code}: ${stderr}`)); });
    });
    const { want, results } = JSON.parse(out) as { want: number; results: { outcome: string; got: number }[] };
    expect(results).toEqual(results.map(() => ({ outcome: 'complete', got: want })));
  });
});
