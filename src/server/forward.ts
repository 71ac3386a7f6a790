// Stage 8: the upstream request — its head checked once more (framing,
// singletons), the identity headers and the signed assertion added, the
// consumed credential removed, the path mapped — then sent and relayed by the
// Exchange, or, for an accepted WebSocket upgrade, the upstream socket opened.
import { R } from '../reasons.js';
import type { Exchange } from '../proxy/exchange.js';
import { compileForwardHeaders, withoutQueryParam } from '../proxy/forward-headers.js';
import { inspectRequestHeaders, type Framing } from '../proxy/headers.js';
import { upstreamPath, upstreamTarget } from '../proxy/request-target.js';
import { rejectNextTurn } from './replies.js';
import type { CompiledRoute } from './runtime.js';
import { openWebSocket, type WebSocketHost } from './websocket-upgrade.js';

export function forwardRequest(host: WebSocketHost, f: Framing, ex: Exchange, route: CompiledRoute): void {
  const rt = host.rt;
  const v = ex.view;
  const bad = inspectRequestHeaders(v.headers, f, rt.singletons);
  // Deferred like the parse refusals: this may run inside the uWS handler.
  if (bad !== 0) return rejectNextTurn(ex, bad);
  if (f.contentLength > rt.maxBody) return ex.reject(R.body_too_large);
  const group = rt.upstreams[v.upstream];
  if (group === undefined) return ex.reject(R.route_denied);
  if (route.rateLimit !== null) ex.responseHeaders = v.rateHeaders;
  const cred = v.identity !== null ? rt.credentials.get(v.identity.authenticator) : undefined;
  const headers = compileForwardHeaders(v, f, route, cred !== undefined ? cred.header : '');
  if (route.identityAssertion && v.identity !== null) headers.push(rt.assertion!.header, rt.assertion!.token(v.identity, v.upstream));
  if (cred !== undefined && cred.query !== '') v.query = withoutQueryParam(v.query, cred.query);
  const path = upstreamTarget(upstreamPath(v.path, route.stripPrefix, group.targets[0]!.basePath, v.query));
  if (ex.upgradeContext !== null) return openWebSocket(host, ex, route, group, path, headers);
  ex.forward(group, path, v.method, headers, f.chunked ? -1 : f.contentLength);
}
