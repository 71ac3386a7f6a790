// The OIDC code exchange of a sampled request is its child span, and the
// provider's token endpoint is sent that span's traceparent: a real provider,
// the real worker pool, and a real exporter sending to a real OTLP receiver.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { validateConfig, makeCompileContext } from '../../src/config/load.js';
import { AUTH_RESPOND } from '../../src/contracts.js';
import { compileOidc, type OidcAuthenticator } from '../../src/auth/oidc/index.js';
import { createWorkerPool, type WorkerPool } from '../../src/workers/pool.js';
import { compileTracing, shutdownTraceExport, type GatewayTrace, type Tracing } from '../../src/trace/index.js';
import { CookieJar, startOidcProvider, type OidcProvider } from '../helpers/oidc-provider.js';
import { browserView, loginUpToCallback } from '../oidc/flow.js';
import { poll } from '../e2e/util.js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';

let op: OidcProvider;
let pool: WorkerPool;
let rx: OtlpReceiver;
let tracing: Tracing;
let a: OidcAuthenticator;
const tokenCalls: string[] = [];

beforeAll(async () => {
  rx = await startOtlpReceiver();
  op = await startOidcProvider({
    redirectUris: ['https://app.test/oauth2/callback'],
    onRequest: (q) => { if (q.method === 'POST' && /token/.test(q.url ?? '')) tokenCalls.push(String(q.headers.traceparent ?? '')); },
  });
  pool = createWorkerPool({ threads: 1, maxQueue: 64 });
  await pool.start();
  const plan = validateConfig({
    upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
    authenticators: {
      sso: { type: 'oidc', issuer: op.issuer, client_id: op.clientId, client_secret: op.clientSecret, public_url: 'https://app.test', session: { secret: 'test-session-secret-0123456789abcdefghij' }, timeout: '5s' },
    },
    tracing: { otlp: rx.url, sample: 1 },
    routes: [{ name: 'app', match: { path_prefix: '/' }, authenticate: ['sso'], upstream: 'u' }],
  });
  a = compileOidc('sso', plan.config.authenticators.sso as never, 'authenticators.sso', makeCompileContext(plan, []), pool);
  await a.ready();
  tracing = compileTracing(plan.config.tracing, ['app'], false)!;
});
afterAll(async () => {
  a?.close();
  await pool?.close();
  await shutdownTraceExport();
  await op?.close();
  await rx?.close();
});

describe('OIDC code exchange under a sampled request', () => {
  it('is a child span of the request, and the token endpoint is sent its traceparent', async () => {
    const jar = new CookieJar();
    const cb = await loginUpToCallback(a, jar, '/orders');
    const traceId = randomBytes(16).toString('hex');
    const parentId = randomBytes(8).toString('hex');
    const view = Object.assign(browserView(jar, cb.pathname + cb.search, { headers: { traceparent: `00-${traceId}-${parentId}-01` } }), { trace: null as GatewayTrace | null, traceId: '' });
    tracing.begin(view, performance.now());
    expect(view.trace).not.toBeNull();
    const before = tokenCalls.length;
    const r = await (a.authenticate(view) as Promise<{ outcome: number; response?: { status: number } }>);
    expect(r.outcome).toBe(AUTH_RESPOND);
    expect(r.response!.status).toBe(302);
    view.trace!.finish(view, 302, 0, performance.now());
    await tracing.flush();
    const spans = await poll(async () => {
      const s = rx.spans.filter((x) => x.traceId === traceId);
      return s.length >= 2 ? s : null;
    }, 40, 250);
    const server = spans!.find((s) => s.parentSpanId === parentId)!;
    const exchange = spans!.find((s) => s.name === 'oidc code exchange')!;
    expect(exchange.parentSpanId).toBe(server.spanId);
    expect(exchange.attributes['url.full']).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/.*token/);
    expect(tokenCalls.length).toBe(before + 1);
    expect(tokenCalls.at(-1)).toBe(`00-${traceId}-${exchange.spanId}-01`);
  });
});
