// One access-log line, assembled from fragments: the field names and the
// reason/stage tail are constants, names that repeat (route, upstream,
// authenticator, method, host, limit…) keep their quoted fragment from the
// previous line (the same string object is compared in O(1)), numbers are
// written from small lookup tables, and only a value that needs escaping goes
// through JSON.stringify. No object is built and nothing is stringified whole.
//
// Only what the entry carries is written: the path without its query string
// (where tokens and passwords travel), never headers other than Host and a
// bounded User-Agent, never cookies or credentials.
import { REASONS } from '../reasons.js';

/**
 * One request's fields. The sink keeps one per thread (createAccessEntry),
 * fills it and calls write(): the line is built at once, so reuse is safe.
 */
export interface AccessEntry {
  /** Epoch ms when the request started; 0 = now. */
  time: number;
  requestId: string;
  /** W3C trace id ('' = no trace: the field is left out). */
  traceId: string;
  clientIp: string;
  method: string;
  /** Host header as the client sent it. */
  host: string;
  /** Normalised path; anything from "?" on is cut off here too. */
  path: string;
  /** Route name, '' when no route matched. */
  route: string;
  status: number;
  /** Response body bytes sent. */
  bytes: number;
  /** Request body bytes received. */
  bytesIn: number;
  durationMs: number;
  /** Upstream name, '' when not proxied. */
  upstream: string;
  /** Origin of the upstream target the request went to ('' = none: the upstream_* fields are left out). */
  upstreamTarget: string;
  /** Status the upstream answered (0 = no answer: connect error, reset, timeout). */
  upstreamStatus: number;
  /** Upstream time to response headers, ms (< 0 = unknown). */
  upstreamMs: number;
  /** Authenticator that accepted (or rejected) the request, ''. */
  authenticator: string;
  /** Consumer name (JWT sub, basic user, API-key consumer), ''. */
  consumer: string;
  /** Rate limit that answered 429 ('' = none: the field is left out). */
  limit: string;
  userAgent: string;
  /** Reason id (src/reasons.ts). */
  reason: number;
}

export function createAccessEntry(): AccessEntry {
  return {
    time: 0, requestId: '', traceId: '', clientIp: '', method: '', host: '', path: '', route: '', status: 0, bytes: 0, bytesIn: 0,
    durationMs: 0, upstream: '', upstreamTarget: '', upstreamStatus: 0, upstreamMs: -1, authenticator: '', consumer: '', limit: '',
    userAgent: '', reason: 0,
  };
}

export const MAX_PATH = 2048;
export const MAX_USER_AGENT = 256;
export const MAX_HOST = 256;
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f\u2028\u2029\ud800-\udfff]/;

/** A JSON string literal; plain text skips JSON.stringify. */
function q(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

/** `,"name":"value"` for the value of the previous call when it is the same string. */
class Fragment {
  private key = '';
  private text: string;
  constructor(private readonly prefix: string, private readonly max = Infinity) {
    this.text = prefix + '""';
  }
  of(s: string): string {
    if (s === this.key) return this.text;
    this.key = s;
    this.text = this.prefix + q(s.length > this.max ? s.slice(0, this.max) : s);
    return this.text;
  }
}

/** `,"reason":"token_expired","stage":"authn"}` per reason id, built once. */
const REASON_TAIL: readonly string[] = REASONS.map((r) => `,"reason":"${r.code}","stage":"${r.stage}"}\n`);
const UNKNOWN_TAIL = ',"reason":"unknown","stage":"gateway"}\n';
/** Milliseconds' fraction: FRAC[µs % 1000] = ".123", ".05", "" (no trailing zeros). */
const FRAC: readonly string[] = Array.from({ length: 1000 }, (_, i) => (i === 0 ? '' : ('.' + String(i).padStart(3, '0')).replace(/0+$/, '')));
const MS3: readonly string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/** A duration in ms rounded to the µs, from integer parts (no float-to-text conversion). */
function ms(v: number): string {
  if (!(v > 0)) return '0';
  const us = Math.round(v * 1000);
  const whole = Math.floor(us / 1000);
  return whole + FRAC[us - whole * 1000]!;
}

export interface AccessLineFormatter {
  (e: AccessEntry): string;
}

/** A formatter with its own fragment memory (one per access log: one per thread). */
export function createAccessLineFormatter(): AccessLineFormatter {
  let second = -1;
  let secondText = '';
  const requestId = new Fragment('","request_id":');
  const traceId = new Fragment(',"trace_id":');
  const clientIp = new Fragment(',"client_ip":');
  const method = new Fragment(',"method":');
  const host = new Fragment(',"host":', MAX_HOST);
  const route = new Fragment(',"route":');
  const upstream = new Fragment(',"upstream":');
  const target = new Fragment(',"upstream_target":');
  const authenticator = new Fragment(',"authenticator":');
  const consumer = new Fragment(',"consumer":');
  const limit = new Fragment(',"limit":');
  const userAgent = new Fragment(',"user_agent":', MAX_USER_AGENT);

  function time(t: number): string {
    const s = Math.floor(t / 1000);
    // "2030-01-02T03:04:05." once per second; the milliseconds from a table.
    if (s !== second) { second = s; secondText = '{"time":"' + new Date(s * 1000).toISOString().slice(0, 20); }
    return secondText + MS3[t - s * 1000]! + 'Z';
  }

  return (e) => {
    let p = e.path;
    const qi = p.indexOf('?');
    if (qi >= 0) p = p.slice(0, qi);
    if (p.length > MAX_PATH) p = p.slice(0, MAX_PATH);
    let line = time(e.time > 0 ? Math.floor(e.time) : Date.now()) + requestId.of(e.requestId);
    if (e.traceId !== '') line += traceId.of(e.traceId);
    line += clientIp.of(e.clientIp) + method.of(e.method) + host.of(e.host) + ',"path":' + q(p) + route.of(e.route) +
      ',"status":' + (e.status | 0) +
      ',"bytes":' + (e.bytes > 0 ? Math.floor(e.bytes) : 0) +
      ',"bytes_in":' + (e.bytesIn > 0 ? Math.floor(e.bytesIn) : 0) +
      ',"duration_ms":' + ms(e.durationMs) + upstream.of(e.upstream);
    if (e.upstreamTarget !== '') {
      line += target.of(e.upstreamTarget) + ',"upstream_status":' + (e.upstreamStatus | 0);
      if (e.upstreamMs >= 0) line += ',"upstream_ms":' + ms(e.upstreamMs);
    }
    line += authenticator.of(e.authenticator) + consumer.of(e.consumer);
    if (e.limit !== '') line += limit.of(e.limit);
    line += userAgent.of(e.userAgent);
    return line + (e.reason >= 0 && e.reason < REASON_TAIL.length ? REASON_TAIL[e.reason]! : UNKNOWN_TAIL);
  };
}

/** The JSON line for one entry (tools and tests; the log keeps its own formatter). */
export const formatAccessLine: AccessLineFormatter = createAccessLineFormatter();
