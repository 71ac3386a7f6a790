// wrk as the load generator for fast scenarios. Every run uses a generated Lua
// script: fixed headers/body go in `wrk.headers`/`wrk.body` (wrk then builds
// the request once), per-request tokens go through `request()` reading a file
// of tokens in init(), and done() prints one JSON line with the counters and
// the percentiles wrk's own report does not show (p99.9).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { launchPrefix } from './system.mjs';

const luaStr = (s) => `"${String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

const REPORT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%.0f,"p90":%.0f,"p99":%.0f,"p999":%.0f,"max":%.0f,"mean":%.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
`;

/**
 * Writes the Lua script for a load spec into dir and returns its path.
 * spec: { method, headers: {name: value}, body (string|{size}), tokensFile, tokenHeader, tokenPrefix }
 */
export function writeLua(dir, name, spec) {
  const lines = [];
  if (spec.method) lines.push(`wrk.method = ${luaStr(spec.method)}`);
  for (const [k, v] of Object.entries(spec.headers ?? {})) lines.push(`wrk.headers[${luaStr(k)}] = ${luaStr(v)}`);
  if (spec.bodySize) lines.push(`wrk.body = string.rep("x", ${spec.bodySize})`);
  else if (spec.body) lines.push(`wrk.body = ${luaStr(spec.body)}`);
  if (spec.tokensFile) {
    lines.push(`
local tokens = {}
local hdr = {}
local n = 0
local i = 0
init = function(args)
  for line in io.lines(${luaStr(spec.tokensFile)}) do
    if #line > 0 then n = n + 1; tokens[n] = ${luaStr(spec.tokenPrefix ?? 'Bearer ')} .. line end
  end
  -- each wrk thread starts at its own offset so threads do not send the same token together
  i = math.random(0, n - 1)
  for k, v in pairs(wrk.headers) do hdr[k] = v end
end
request = function()
  i = i + 1
  if i > n then i = 1 end
  hdr[${luaStr(spec.tokenHeader ?? 'Authorization')}] = tokens[i]
  return wrk.format(nil, nil, hdr)
end`);
  }
  lines.push(REPORT);
  const file = path.join(dir, `${name}.lua`);
  writeFileSync(file, lines.join('\n'));
  return file;
}

/**
 * Runs wrk once; resolves { requests, rps, p50..p999 (µs), errors{...} } or rejects with wrk's stderr.
 * pin: taskset cpu list for wrk itself.
 */
export function runWrk({ wrk, url, lua, seconds, connections, threads = 1, pin = '0', timeoutS = 4 }) {
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--latency', '--timeout', `${timeoutS}s`, '-s', lua, url];
  const child = spawn('bash', ['-c', `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${launchPrefix(pin)}"$@"`, 'wrk', wrk, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => { out += c; });
  child.stderr.on('data', (c) => { err += c; });
  const killer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      clearTimeout(killer);
      const m = /BENCHJSON (\{.*\})/.exec(out);
      if (!m) return reject(new Error(`wrk failed (exit ${code}): ${(err || out).trim().slice(0, 400)}`));
      const j = JSON.parse(m[1]);
      resolve({
        requests: j.requests,
        seconds: j.duration_us / 1e6,
        rps: j.requests / (j.duration_us / 1e6),
        bytes: j.bytes,
        p50: j.p50, p90: j.p90, p99: j.p99, p999: j.p999, max: j.max, mean: j.mean,
        socketErrors: j.connect + j.read + j.write + j.timeout,
        non2xx: j.status,
        raw: out,
      });
    });
  });
}
