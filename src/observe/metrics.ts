// The metrics registry (src/observe/metrics/): one import for its users.
//   registry.ts      the hot path: per-thread slices of one SharedArrayBuffer
//   layout.ts        where each counter lives in a slice
//   statuses.ts      status code → counter slot; rejections.ts: which reasons refuse
//   read.ts          the dashboard's reads; exposition.ts: the /metrics text
//   process.ts       process-wide families; thread-sampler.ts: event-loop and heap gauges
//   gateway-info.ts  build info and config reloads
// A new per-request counter gets a region in layout.ts, a record method in
// registry.ts and its family in exposition.ts; a component's own figures
// (pool, caches, WebSockets, tracing) are a Collector passed to renderPrometheus.
export { createMetrics } from './metrics/registry.js';
export { DURATION_BOUNDS_US } from './metrics/layout.js';
export { STATUS_CLASSES } from './metrics/statuses.js';
export { isRejection } from './metrics/rejections.js';
export { summarizeLatency } from './metrics/read.js';
export { HDR_SLOTS as LATENCY_SLOTS } from './shared-histogram.js';
export { createGatewayInfo, type GatewayInfo } from './metrics/gateway-info.js';
export type { F64, IpCount, LatencySummary, Metrics, MetricsOptions, MetricsTotals, RejectionEvent } from './metrics/types.js';
export { family, formatValue, labelText, type Collector } from './prom.js';
