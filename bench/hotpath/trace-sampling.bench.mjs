// tracing's per-request decision for a request that is not sampled
// (tracing.sample 0): read traceparent, parse it when present, decide. It must
// touch no SDK and allocate nothing when the client sent no traceparent.
// Baseline: tracing off (the pipeline's two resets only).
import { compileTracing } from '../../dist/trace/index.js';
import { suite } from './lib.mjs';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';
const tracing = compileTracing({ otlp: 'http://127.0.0.1:9/v1/traces', sample: 0, service_name: 'bench', trust_parent: true }, ['r'], false);

function view(traceparent) {
  return {
    method: 'GET', path: '/api/orders', host: 'api.example.com', clientIp: '10.0.0.1', proto: 'http', routeIndex: 0, identity: null,
    trace: null, traceId: '',
    header: (n) => (n === 'traceparent' ? traceparent : ''),
  };
}
const none = view('');
const unsampled = view(`00-${T}-${S}-00`);
const invalid = view(`00-${T.toUpperCase()}-${S}-01`);

const off = (v) => { v.trace = null; v.traceId = ''; return v.trace; };
const on = (v) => { v.trace = null; v.traceId = ''; tracing.begin(v, 0); return v.trace; };

await suite('tracing: unsampled request decision', {
  baseline: { name: 'tracing off (resets only)', fn: () => off(none), check: (t) => t === null },
  cases: [
    { name: 'sample 0, no traceparent', fn: () => on(none), check: (t) => t === null && none.traceId === '', target: { label: '0 B/op', maxBytes: 0 } },
    { name: 'sample 0, invalid traceparent (ignored)', fn: () => on(invalid), check: (t) => t === null && invalid.traceId === '', target: { label: '0 B/op', maxBytes: 0 } },
    { name: 'sample 0, unsampled traceparent (its trace id kept)', fn: () => on(unsampled), check: (t) => t === null && unsampled.traceId === T },
  ],
  note: 'A traceparent the client sent is read from uWS (a string) in any case; with flags 00 its trace id is sliced out for the access log.',
});
process.exit(0);
