import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { R } from '../../src/reasons.js';
import { createAccessEntry, createAccessLog, formatAccessLine, installReopenOnSigusr1, type AccessEntry } from '../../src/observe/access-log.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'portcullis-alog-'));
  dirs.push(d);
  return d;
}
afterEach(() => { while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true }); });

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNlY3JldA';
const PASSWORD = 'hunter2-correct-horse';

function entry(over: Partial<AccessEntry> = {}): AccessEntry {
  return Object.assign(createAccessEntry(), {
    time: Date.UTC(2030, 0, 2, 3, 4, 5, 678), requestId: 'req-1', clientIp: '203.0.113.7', method: 'GET',
    path: `/orders/42?access_token=${TOKEN}&password=${PASSWORD}`, route: 'orders', status: 401, bytes: 57,
    durationMs: 1.23456, upstream: '', authenticator: 'corp-jwt', consumer: '', reason: R.token_expired,
    host: 'api.example.com', userAgent: 'curl/8.5.0',
  }, over);
}

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);

describe('access log', () => {
  it('writes one JSON line per request with the documented fields and no query string', async () => {
    const file = path.join(tmp(), 'access.log');
    const log = createAccessLog({ path: file, sample: 1, enabled: true });
    const e = createAccessEntry(); // one reused entry, as the pipeline does
    Object.assign(e, entry());
    log.write(e);
    Object.assign(e, entry({ requestId: 'req-2', status: 200, reason: R.ok, upstream: 'orders-eu', consumer: 'alice', path: '/orders', method: 'POST' }));
    log.write(e);
    await log.close();
    const got = lines(file).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(got).toHaveLength(2);
    expect(got[0]).toEqual({
      time: '2030-01-02T03:04:05.678Z', request_id: 'req-1', client_ip: '203.0.113.7', method: 'GET', host: 'api.example.com', path: '/orders/42',
      route: 'orders', status: 401, bytes: 57, bytes_in: 0, duration_ms: 1.235, upstream: '', authenticator: 'corp-jwt', consumer: '',
      user_agent: 'curl/8.5.0', reason: 'token_expired', stage: 'authn',
    });
    expect(got[1]).toMatchObject({ request_id: 'req-2', status: 200, reason: 'ok', stage: 'proxy', upstream: 'orders-eu', consumer: 'alice', method: 'POST' });
    const raw = readFileSync(file, 'utf8');
    expect(raw).not.toContain(TOKEN);
    expect(raw).not.toContain(PASSWORD);
    expect(raw).not.toContain('access_token');
  });

  it('writes the upstream leg, body bytes, the limit that fired and the trace id when there are any', () => {
    const proxied = JSON.parse(formatAccessLine(entry({
      status: 201, reason: R.ok, upstream: 'orders-eu', upstreamTarget: 'http://10.0.0.7:8080', upstreamStatus: 201, upstreamMs: 12.3456,
      bytesIn: 4096, traceId: '4bf92f3577b34da6a3ce929d0e0e4736', consumer: 'alice',
    }))) as Record<string, unknown>;
    expect(proxied).toMatchObject({
      upstream: 'orders-eu', upstream_target: 'http://10.0.0.7:8080', upstream_status: 201, upstream_ms: 12.346, bytes_in: 4096,
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', consumer: 'alice',
    });
    expect(proxied).not.toHaveProperty('limit');
    // Sent but never answered: the target and status 0, no time when none was measured.
    const reset = JSON.parse(formatAccessLine(entry({ status: 502, reason: R.upstream_error, upstreamTarget: 'http://10.0.0.7:8080', upstreamStatus: 0, upstreamMs: -1 }))) as Record<string, unknown>;
    expect(reset).toMatchObject({ upstream_target: 'http://10.0.0.7:8080', upstream_status: 0 });
    expect(reset).not.toHaveProperty('upstream_ms');
    const limited = JSON.parse(formatAccessLine(entry({ status: 429, reason: R.rate_limited, limit: 'per-ip' }))) as Record<string, unknown>;
    expect(limited).toMatchObject({ limit: 'per-ip', reason: 'rate_limited', stage: 'ratelimit' });
    for (const k of ['trace_id', 'upstream_target', 'upstream_status', 'upstream_ms']) expect(limited).not.toHaveProperty(k);
  });

  it('bounds the user agent and host, and escapes them', () => {
    const e = JSON.parse(formatAccessLine(entry({ userAgent: 'Mozilla/5.0 "x"\n' + 'y'.repeat(5000), host: 'h'.repeat(1000) }))) as { user_agent: string; host: string };
    expect(e.user_agent.length).toBe(256);
    expect(e.user_agent.startsWith('Mozilla/5.0 "x"\n')).toBe(true);
    expect(e.host.length).toBe(256);
  });

  it('reuses a field fragment only for the same value (one reused entry, changing names)', () => {
    const a = JSON.parse(formatAccessLine(entry({ route: 'orders', userAgent: 'a' }))) as Record<string, string>;
    const b = JSON.parse(formatAccessLine(entry({ route: 'catalog', userAgent: 'b' }))) as Record<string, string>;
    const c = JSON.parse(formatAccessLine(entry({ route: 'orders', userAgent: 'a' }))) as Record<string, string>;
    expect([a.route, b.route, c.route, a.user_agent, b.user_agent, c.user_agent]).toEqual(['orders', 'catalog', 'orders', 'a', 'b', 'a']);
  });

  it('keeps tokens in the query string out of the line whatever the path looks like', () => {
    for (const p of [`/a?token=${TOKEN}`, `/a/?&access_token=${TOKEN}`, `?${TOKEN}`, `/x?y=1?token=${TOKEN}`]) {
      const line = formatAccessLine(entry({ path: p }));
      expect(line).not.toContain(TOKEN);
      expect(line).not.toContain('?');
    }
  });

  it('keeps lines valid JSON whatever the client put in them', () => {
    const nasty = entry({ path: '/a"b\\c\nd\u0000e\u2028\ud800', method: 'GE"T', requestId: '\u001b[31mred' });
    const parsed = JSON.parse(formatAccessLine(nasty)) as Record<string, string>;
    expect(parsed.path).toBe('/a"b\\c\nd\u0000e\u2028\ud800');
    expect(parsed.method).toBe('GE"T');
    expect(formatAccessLine(nasty).endsWith('}\n')).toBe(true);
    expect(formatAccessLine(nasty).split('\n')).toHaveLength(2);
    const long = JSON.parse(formatAccessLine(entry({ path: '/' + 'x'.repeat(10_000) }))) as { path: string };
    expect(long.path.length).toBe(2048);
  });

  it('writes the lines of one event-loop turn in one write', async () => {
    const chunks: string[] = [];
    const log = createAccessLog({ sample: 1, enabled: true, stdout: { write: (c, cb) => { chunks.push(c); setImmediate(() => cb()); return true; } } });
    for (let i = 0; i < 50; i++) log.write(entry({ requestId: `a${i}` }));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.split('\n').filter(Boolean)).toHaveLength(50);
    await log.flush();
  });

  it('writes to stdout when no path is given, batching lines into few writes', async () => {
    const chunks: string[] = [];
    const log = createAccessLog({ sample: 1, enabled: true, stdout: { write: (c, cb) => { chunks.push(c); setImmediate(() => cb()); return true; } } });
    for (let i = 0; i < 100; i++) log.write(entry({ requestId: `r${i}` }));
    await log.flush();
    expect(chunks.length).toBeLessThan(5);
    const all = chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { request_id: string });
    expect(all.map((x) => x.request_id)).toEqual(Array.from({ length: 100 }, (_, i) => `r${i}`));
    expect(log.written).toBe(100);
    expect(chunks.join('')).not.toContain(PASSWORD);
  });

  it('flushes on its own (next event-loop turn), without flush() being called', async () => {
    const file = path.join(tmp(), 'a.log');
    const log = createAccessLog({ path: file, sample: 1, enabled: true });
    log.write(entry());
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && log.written === 0) await new Promise((r) => setTimeout(r, 10));
    expect(lines(file)).toHaveLength(1);
    await log.close();
  });

  it('drops and counts lines instead of growing without bound when writes cannot keep up', async () => {
    let release: (() => void) | null = null;
    const log = createAccessLog({
      sample: 1, enabled: true, flushBytes: 1, maxBufferBytes: 2000,
      stdout: { write: (_c, cb) => { release = () => cb(); return true; } },
    });
    for (let i = 0; i < 200; i++) log.write(entry());
    expect(log.dropped).toBeGreaterThan(150);
    const done = log.flush();
    for (let i = 0; i < 10 && release; i++) { const r: () => void = release; release = null; r(); await new Promise((x) => setImmediate(x)); }
    await done;
    expect(log.written + log.dropped).toBe(200);
    expect(log.collector()).toMatch(/portcullis_access_log_dropped_total \d+/);
  });

  it('samples and can be switched off', async () => {
    const file = path.join(tmp(), 'off.log');
    const off = createAccessLog({ path: file, sample: 1, enabled: false });
    off.write(entry());
    await off.close();
    const none = createAccessLog({ sample: 0, enabled: true, stdout: { write: () => { throw new Error('must not write'); } } });
    for (let i = 0; i < 50; i++) none.write(entry());
    await none.flush();
    expect(none.written).toBe(0);
    const chunks: string[] = [];
    const half = createAccessLog({ sample: 0.5, enabled: true, stdout: { write: (c, cb) => { chunks.push(c); cb(); return true; } } });
    for (let i = 0; i < 2000; i++) half.write(entry());
    await half.flush();
    expect(half.written).toBeGreaterThan(700);
    expect(half.written).toBeLessThan(1300);
  });

  it('reopens the file after logrotate moved it, on SIGUSR1', async () => {
    const dir = tmp();
    const file = path.join(dir, 'access.log');
    const log = createAccessLog({ path: file, sample: 1, enabled: true });
    log.write(entry({ requestId: 'before' }));
    await log.flush();
    renameSync(file, file + '.1');
    log.write(entry({ requestId: 'during' })); // still goes to the moved file, as with any reopen-based rotation
    let forwarded = 0;
    let reopened: Promise<void> | null = null;
    const uninstall = installReopenOnSigusr1({ reopen: () => (reopened = log.reopen()) }, () => forwarded++);
    try {
      process.kill(process.pid, 'SIGUSR1');
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && reopened === null) await new Promise((r) => setTimeout(r, 10));
      expect(forwarded).toBe(1);
      await reopened;
      log.write(entry({ requestId: 'after' }));
      await log.close();
    } finally {
      uninstall();
    }
    const ids = (f: string) => lines(f).map((l) => (JSON.parse(l) as { request_id: string }).request_id);
    expect(ids(file + '.1')).toEqual(['before', 'during']);
    expect(ids(file)).toEqual(['after']);
  });

  it('says which file it cannot open and what to check', () => {
    expect(() => createAccessLog({ path: '/nonexistent-dir/x/access.log', sample: 1, enabled: true }))
      .toThrow(/access log: cannot open \/nonexistent-dir\/x\/access.log .*ENOENT.*access_log.path/);
  });
});
