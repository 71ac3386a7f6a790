// The README's first command, as a newcomer runs it: `npm start`
// (scripts/start-demo.mjs). Waits for its printout, takes the exported demo
// tokens, runs every printed curl line and checks the outcome its comment
// promises, then stops it with Ctrl-C (SIGINT). The demo uses fixed ports;
// when one is taken the test is skipped and says which.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../helpers/gateway.js';
import { portBusy, request, sleep } from './util.js';

const PORTS = [8080, 9901, 9001, 9002];
const busy: number[] = [];
for (const p of PORTS) if (await portBusy(p)) busy.push(p);
if (busy.length) {
  process.stderr.write(`test/e2e/demo.test.ts: skipped — the demo needs 127.0.0.1 ports ${PORTS.join(', ')} and ${busy.join(', ')} ${busy.length === 1 ? 'is' : 'are'} in use\n`);
}

interface CurlLine {
  readonly line: string;
  readonly url: string;
  readonly header?: string;
  readonly status: number;
  readonly comment: string;
}

describe.skipIf(busy.length > 0)('npm start (scripts/start-demo.mjs)', () => {
  let demo: ChildProcess;
  let out = '';
  let exited: Promise<number | null>;
  let exitCode: number | null | undefined;

  beforeAll(async () => {
    // Its own process group, so a failed test can take down the demo's children too.
    const env: NodeJS.ProcessEnv = { ...process.env, PORTCULLIS_LOG_FORMAT: 'json' };
    delete env['PORTCULLIS_CONFIG']; // the embedded default, as `npm start` runs it
    demo = spawn(process.execPath, [path.join(ROOT, 'scripts', 'start-demo.mjs')], {
      cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env,
    });
    demo.stdout!.on('data', (c: Buffer) => { out += c.toString('utf8'); });
    let err = '';
    demo.stderr!.on('data', (c: Buffer) => { err += c.toString('utf8'); });
    exited = new Promise((resolve) => demo.once('exit', (code) => { exitCode = code; resolve(code); }));
    for (let i = 0; i < 300 && !out.includes('Stop with Ctrl-C') && exitCode === undefined; i++) await sleep(100);
    if (!out.includes('Stop with Ctrl-C')) throw new Error(`the demo printed no instructions within 30 s (exit ${exitCode}); stdout:\n${out}\nstderr:\n${err}`);
  }, 40_000);

  afterAll(async () => {
    if (exitCode === undefined && demo.pid) {
      try { process.kill(-demo.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  });

  const env = (): Record<string, string> => {
    const vars: Record<string, string> = {};
    for (const m of out.matchAll(/^\s*export (\w+)=(\S+)$/gm)) vars[m[1]!] = m[2]!;
    return vars;
  };

  const curlLines = (): CurlLine[] => {
    const lines: CurlLine[] = [];
    for (const m of out.matchAll(/^\s*(curl -i (\S+)(?: -H "([^"]+)")?(?: --path-as-is)?\s+# (\d{3})(.*))$/gm)) {
      lines.push({ line: m[1]!, url: m[2]!, header: m[3], status: Number(m[4]), comment: `${m[4]}${m[5]}` });
    }
    return lines;
  };

  it('prints three demo tokens to export and eight curl lines to try', () => {
    const v = env();
    expect(Object.keys(v).sort()).toEqual(['NOSCOPE_TOKEN', 'TOKEN', 'US_TOKEN']);
    for (const t of Object.values(v)) expect(t).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(curlLines()).toHaveLength(8);
  });

  it('every printed curl line answers what its comment promises', async () => {
    const vars = env();
    const results: string[] = [];
    for (const c of curlLines()) {
      // Keep the path exactly as printed (curl --path-as-is): /public/../internal/x is sent raw.
      const [, origin, rawPath] = /^(https?:\/\/[^/]+)(\/.*)$/.exec(c.url)!;
      const headers: Record<string, string> = {};
      if (c.header) {
        const i = c.header.indexOf(':');
        headers[c.header.slice(0, i).trim()] = c.header.slice(i + 1).trim().replace(/\$\{?(\w+)\}?/g, (_, n: string) => vars[n] ?? `$${n}`);
      }
      const r = await request(origin!, rawPath!, { headers });
      results.push(`${c.line} → ${r.status}`);
      expect(r.status, `${c.line}  (promised: ${c.comment})`).toBe(c.status);
      if (/pong/.test(c.comment)) expect(r.body).toBe('pong');
      if (/demo-upstream-eu/.test(c.comment)) expect((r.json as { served_by: string }).served_by).toBe('demo-upstream-eu');
      if (/demo-upstream-us/.test(c.comment)) expect((r.json as { served_by: string }).served_by).toBe('demo-upstream-us');
      if (/as alice/.test(c.comment)) expect((r.json as { identity: { user: string } }).identity.user).toBe('alice');
      for (const reason of ['missing_scope', 'bad_signature']) if (c.comment.includes(reason)) expect(r.json).toMatchObject({ reason });
      if (/no token/.test(c.comment)) expect(r.json).toEqual({ error: 'unauthorized', reason: 'no_credentials' });
      if (/never as \/public/.test(c.comment)) expect(r.body).toBe('forbidden');
    }
    expect(results).toHaveLength(8);
  });

  it('the printed admin metrics line answers Prometheus text', async () => {
    expect(out).toMatch(/curl -s http:\/\/127\.0\.0\.1:9901\/metrics/);
    const r = await request('http://127.0.0.1:9901', '/metrics');
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/^# HELP /m);
    expect(r.body).toMatch(/portcullis_requests_total\{route="orders",status="200"\} [1-9]/);
  });

  it('stops on Ctrl-C (SIGINT): exits 0 and frees its ports', async () => {
    demo.kill('SIGINT');
    const code = await Promise.race([exited, sleep(15_000).then(() => 'timeout' as const)]);
    expect(code).toBe(0);
    let free = false;
    for (let i = 0; i < 50 && !free; i++) {
      free = !(await portBusy(8080)) && !(await portBusy(9001)) && !(await portBusy(9002)) && !(await portBusy(9901));
      if (!free) await sleep(100);
    }
    expect(free).toBe(true);
  });
});
