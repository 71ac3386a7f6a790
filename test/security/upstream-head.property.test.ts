// Property-based test of the request head the upstream receives (issue 13,
// finding 1). Arbitrary strings — with CR, LF, NUL, other controls, DEL,
// U+0100–U+01FF (whose low byte is CR/LF/SP when written as latin1), U+2028,
// lone surrogates, emoji — go through every source of an upstream header:
//   - a JWT's `sub` (x-portcullis-consumer) and a forwarded claim (forward_claims),
//   - a route_by claim value (forwarded too),
//   - an external authenticator's answer: `consumer` and `headers`,
//   - an external authorizer's answer `headers`,
//   - the request target (path and query; non-ASCII sent as UTF-8 bytes),
//   - a client header value (bytes other than CR/LF, which are framing),
//   - route `request_headers` values (config: `portcullis check` must refuse bad ones).
// The upstream is a raw socket read by the strict RFC 9112 reader. Per request:
//   - the upstream saw at most one request (exactly one when the answer is 2xx),
//     in bytes a strict reader accepts: CR/LF only as CRLF line ends, no NUL/CTL;
//   - no header line the gateway did not mean to send;
//   - a forwarded value arrives as the UTF-8 bytes of its text (never truncated
//     to latin1), or not at all; or the gateway refused (4xx/5xx), forwarding nothing.
// And the promised behaviour (checked as a separate property, so a failure says which):
//   a value with CR, LF, NUL, another CTL except HTAB, or DEL is refused with
//   400 `unsafe_header_value`; a clean value is forwarded (2xx).
// Both upstream clients run: the native one and undici.
//
// Seed: PORTCULLIS_FUZZ_SEED; runs per property: PORTCULLIS_FUZZ_RUNS / 4 (default 40).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli, startGateway, tempDir, type RunningGateway } from '../helpers/gateway.js';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream.js';
import { startAuthzService, type AuthzService } from '../helpers/authz-service.js';
import { fieldValues, readRequests, show, type StrictRequest } from '../helpers/strict-http.js';
import { LISTEN, rawRequest, type RawResponse } from '../core/util.js';

const SEED = Number(process.env.PORTCULLIS_FUZZ_SEED ?? 913_2026);
const RUNS = Math.max(5, Math.ceil(Number(process.env.PORTCULLIS_FUZZ_RUNS ?? 160) / 4));
/** Each property stops by itself after this long (count AND time bound); a failure found is still reported. */
const TIME_LIMIT_MS = Number(process.env.PORTCULLIS_FUZZ_TIME_MS ?? 1200);
const SECRET = 'upstream-head-property-secret-0123456789abcdef';
const KEY = new TextEncoder().encode(SECRET);

// --- strings -----------------------------------------------------------------------------

const ch = (c: number) => String.fromCharCode(c);
const unit = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...'abcXYZ019-_. :;,/"\'\\%=?#&+'.split('')) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 0x1f }).map(ch) },
  { weight: 1, arbitrary: fc.constantFrom('\x7f', '\t') },
  { weight: 4, arbitrary: fc.integer({ min: 0x80, max: 0x1ff }).map(ch) },
  { weight: 2, arbitrary: fc.constantFrom('\u010d', '\u010a', '\u0120', '\u0100', '\u2028', '\u2029', '\ud800', '\udfff', '\ud83d', '\u{1f600}', '\u{1f468}\u200d\u{1f469}', '\ufeff', '\ufffd') },
  { weight: 1, arbitrary: fc.integer({ min: 0x200, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCodePoint(c)) },
  { weight: 1, arbitrary: fc.constantFrom('\r\nX-Injected: yes', '\u010d\u010aX-Injected: yes', '\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n', '\u010d\u010a\u010d\u010aGET /smuggled HTTP/1.1\u010d\u010aHost: x\u010d\u010a\u010d\u010a', '\n', '\r', '\0') },
);
const hostile = fc.string({ unit, minLength: 1, maxLength: 20 });

/** No CR, LF, NUL, other CTL but HTAB, nor DEL: a value the gateway may forward. */
const clean = (s: string) => !/[\x00-\x08\x0a-\x1f\x7f]/.test(s);
/** What the upstream reads for a forwarded text value: its UTF-8 bytes, without surrounding SP/HTAB. */
const wire = (s: string) => Buffer.from(s, 'utf8').toString('latin1').replace(/^[ \t]+|[ \t]+$/g, '');
/** The claim's header text, as forward_claims documents it: strings as is, arrays joined with ',', objects as JSON. */
const claimText = (v: unknown): string => (typeof v === 'string' ? v : Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(',') : JSON.stringify(v));

function reasonOf(r: RawResponse): string {
  try { return String((JSON.parse(r.body) as { reason?: unknown }).reason ?? ''); } catch { return ''; }
}

// --- the world -----------------------------------------------------------------------------

interface World {
  gw: RunningGateway;
  up: RawUpstream;
  svc: AuthzService;
  /** Answers of the external services by case id (x-case header). */
  answers: Map<string, object>;
  n: number;
}

/** `allowed_upstream_headers` (the headers a called service may set), when this gateway knows the option. */
let knowsAllowed: boolean | null = null;
async function allowedKnown(): Promise<boolean> {
  if (knowsAllowed !== null) return knowsAllowed;
  const dir = tempDir('portcullis-allowed-');
  const file = path.join(dir, 'c.yaml');
  writeFileSync(file, stringify({
    server: { listen: LISTEN }, upstreams: { up: { targets: ['http://127.0.0.1:9'] } },
    authorizers: { az: { url: 'http://127.0.0.1:9/authz', allowed_upstream_headers: ['x-a'] } },
    routes: [{ name: 'r', match: { path_prefix: '/' }, anonymous: true, authorize: { external: 'az' }, upstream: 'up' }],
  }));
  knowsAllowed = (await runCli(['check', '--config', file])).code === 0;
  return knowsAllowed;
}
let allowed = (names: string[]): Record<string, unknown> => ({ allowed_upstream_headers: names });

async function startWorld(client: 'native' | 'undici'): Promise<World> {
  if (!(await allowedKnown())) allowed = () => ({});
  const answers = new Map<string, object>();
  const up = await startRawUpstream();
  const svc = await startAuthzService((r) => {
    const id = String(r.headers['x-case'] ?? (r.json?.headers as Record<string, unknown> | undefined)?.['x-case'] ?? '');
    const a = answers.get(`${r.url.endsWith('/authn') ? 'authn' : 'authz'}:${id}`);
    return a ? { status: 200, body: a } : { status: 403 };
  });
  const gw = await startGateway({
    server: { listen: LISTEN },
    upstreams: { up: { targets: [up.url], client, timeout: '3s' } },
    authenticators: {
      jwt: { type: 'jwt', algorithms: ['HS256'], secret: SECRET, forward_claims: { name: 'x-claim-name', region: 'x-region' } },
      ext: { type: 'external', url: `${svc.url}/authn`, timeout: '3s', send: { headers: ['x-case'] }, forward_claims: { tier: 'x-ext-tier' }, ...allowed(['x-ext-h']) },
    },
    authorizers: { az: { url: svc.url, timeout: '3s', send: { headers: ['x-case'], identity: false }, ...allowed(['x-az-h']) } },
    routes: [
      { name: 'jwt', match: { path_prefix: '/jwt/' }, authenticate: ['jwt'], upstream: 'up' },
      { name: 'rb', match: { path_prefix: '/rb/' }, authenticate: ['jwt'], route_by: { claim: 'region', map: { eu: 'up' }, otherwise: 'up' } },
      { name: 'ext', match: { path_prefix: '/ext/' }, authenticate: ['ext'], upstream: 'up' },
      { name: 'az', match: { path_prefix: '/az/' }, anonymous: true, authorize: { external: 'az' }, upstream: 'up' },
      { name: 'open', match: { path_prefix: '/t/' }, anonymous: true, upstream: 'up' },
    ],
  });
  return { gw, up, svc, answers, n: 0 };
}

/** Names the gateway may send upstream, plus what a test sends itself. */
const EXPECTED_NAMES = new Set(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'x-portcullis-consumer', 'x-portcullis-authenticator',
  'x-claim-name', 'x-region', 'x-ext-tier', 'x-ext-h', 'x-az-h', 'x-case', 'x-client', 'authorization', 'content-length', 'connection']);

interface Probe {
  r: RawResponse;
  /** Complete requests the upstream received for this probe. */
  reqs: StrictRequest[];
  /** Heads of requests that never completed, and connections the strict reader refused. */
  broken: string[];
  /** Every byte the upstream received for this probe (for messages). */
  bytes: string;
}

/** Sends one request on its own connection; returns what the upstream received meanwhile. */
async function probe(w: World, head: Buffer): Promise<Probe> {
  const before = new Map(w.up.conns.map((c) => [c.id, { reqs: c.requests.length, len: c.bytes.length, err: c.error !== null }]));
  const r = await rawRequest(w.gw.ports[0]!, head, { timeoutMs: 5000 });
  await new Promise((res) => setImmediate(res));
  const reqs: StrictRequest[] = [];
  const broken: string[] = [];
  let bytes = '';
  for (const c of w.up.conns) {
    const b = before.get(c.id) ?? { reqs: 0, len: 0, err: false };
    reqs.push(...c.requests.slice(b.reqs));
    if (c.bytes.length > b.len) bytes += show(c.bytes.subarray(b.len), 1500);
    if (c.error && !b.err) broken.push(`strict reader refused the upstream bytes: ${c.error.code} (${c.error.detail})`);
    else if (c.partial?.headComplete && c.bytes.length > b.len) broken.push(`an unfinished request ${c.partial.method} ${c.partial.target}`);
  }
  return { r, reqs, broken, bytes };
}

/** The invariants of every probe. `expect` lists header → the text it must carry when forwarded. */
function checkSafety(p: Probe, target: string, expected: Record<string, string>, label: string): void {
  const ctx = `${label}\n  gateway answered ${p.r.status} ${p.r.body.slice(0, 120)}\n  upstream got: ${p.bytes || '(nothing)'}`;
  expect(p.broken, ctx).toEqual([]);
  expect(p.reqs.length, `more than one request upstream\n${ctx}`).toBeLessThanOrEqual(1);
  if (p.r.status >= 200 && p.r.status < 300) expect(p.reqs.length, `answered ${p.r.status} without one request upstream\n${ctx}`).toBe(1);
  if (p.r.status === 0 || p.r.status >= 400) expect(p.reqs.length, `refused (${p.r.status}) but forwarded\n${ctx}`).toBe(0);
  const q = p.reqs[0];
  if (!q) return;
  // A strict reader already refused CR/LF other than line ends, NUL and other CTLs; say so again on the raw bytes.
  const head = q.head.toString('latin1');
  expect(/\r(?!\n)|(?<!\r)\n|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(head.slice(0, -2)), `control bytes in the head\n${ctx}`).toBe(false);
  expect(q.target, ctx).toBe(target);
  const names = q.headers.map(([k]) => k.toLowerCase()).filter((k) => !EXPECTED_NAMES.has(k));
  expect(names, `header lines the gateway did not mean to send\n${ctx}`).toEqual([]);
  for (const [name, text] of Object.entries(expected)) {
    const got = fieldValues(q.headers, name);
    if (clean(text)) expect(got, `${name} must arrive as the UTF-8 bytes of ${JSON.stringify(text)}\n${ctx}`).toEqual([wire(text)]);
    else expect(got, `${name} carried a value with controls\n${ctx}`).toEqual([]);
  }
}

const req = (line: string, fields: Record<string, string> = {}) =>
  Buffer.from(`${line}\r\nHost: gw\r\nConnection: close\r\n${Object.entries(fields).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`, 'latin1');

async function token(claims: Record<string, unknown>): Promise<string> {
  return new jose.SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('1h').sign(KEY);
}

async function assertProperty<T>(arb: fc.Arbitrary<T>, run: (v: T) => Promise<void>): Promise<void> {
  await fc.assert(fc.asyncProperty(arb, run), {
    seed: SEED,
    numRuns: RUNS,
    plugins: [fc.interruptAfterTimeLimit(TIME_LIMIT_MS)],
  } as fc.Parameters<[T]>);
}

/** Fixed examples every run tries first: the ones issue 13 names. */
const NAMED = ['Zo\u00eb', 'Du\u0161an \u010cech', '\u010d', '\u010a', '\u0120', 'bob\r\nX-Injected: yes', 'bob\u010d\u010aX-Injected: yes', 'a\u0000b', '\u{1f600}', 'a\u2028b', 'lone\ud800', 'tab\there'];

// --- the properties ------------------------------------------------------------------------

interface Run {
  p: Probe;
  label: string;
  /** The invariants (throws on failure). */
  safety(): void;
  /** Texts whose controls must make the gateway refuse with 400 unsafe_header_value (null: no policy). */
  policy: string[] | null;
  /** A clean value may still be refused here (e.g. the request target's own rules). */
  cleanMayBeRefused?: boolean;
  /** Other refusals accepted for a value with controls (a client's own header: the gateway's bad_header, or uWS's parser 400 without a JSON reason). */
  altRefusals?: string[];
}

interface Source<T> {
  name: string;
  arb: fc.Arbitrary<T>;
  examples: T[];
  run(w: World, v: T): Promise<Run>;
}

const jwtProbe = async (w: World, prefix: string, claims: Record<string, unknown>) => {
  const n = ++w.n;
  const t = `/${prefix}/${n}`;
  const p = await probe(w, req(`GET ${t} HTTP/1.1`, { Authorization: `Bearer ${await token(claims)}` }));
  return { p, t };
};
const claimArb: fc.Arbitrary<unknown> = fc.oneof({ weight: 3, arbitrary: hostile }, { weight: 1, arbitrary: fc.tuple(hostile, hostile).map(([a, b]) => [a, b]) }, { weight: 1, arbitrary: hostile.map((v) => ({ v })) });

/** Target bytes: visible ASCII and non-ASCII raw (UTF-8), the rest percent-encoded. */
function targetBytes(s: string): Buffer {
  const out: Buffer[] = [];
  for (const c of s) {
    const cp = c.codePointAt(0)!;
    if (cp < 0x21 || cp === 0x7f || c === '#' || c === '%') out.push(Buffer.from(Buffer.from(c, 'utf8').toString('hex').replace(/../g, (x) => `%${x.toUpperCase()}`)));
    else out.push(Buffer.from(c, 'utf8'));
  }
  return Buffer.concat(out);
}
/** Percent-decoded bytes of a target part (invalid escapes kept), as hex. */
const decoded = (s: string) => Buffer.from(s.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('hex');

/** Count checks every probe shares: strict bytes, at most one request, one when 2xx, none when refused. */
function checkCounts(p: Probe, ctx: string): void {
  expect(p.broken, ctx).toEqual([]);
  expect(p.reqs.length, `more than one request upstream\n${ctx}`).toBeLessThanOrEqual(1);
  if (p.r.status >= 200 && p.r.status < 300) expect(p.reqs.length, `answered ${p.r.status} without one request upstream\n${ctx}`).toBe(1);
  if (p.r.status === 0 || p.r.status >= 400) expect(p.reqs.length, `refused (${p.r.status}) but forwarded\n${ctx}`).toBe(0);
  const q = p.reqs[0];
  if (q) expect(q.headers.map(([k]) => k.toLowerCase()).filter((k) => !EXPECTED_NAMES.has(k)), `header lines the gateway did not mean to send\n${ctx}`).toEqual([]);
}
const context = (p: Probe, label: string) => `${label}\n  gateway answered ${p.r.status} ${p.r.body.slice(0, 120)}\n  upstream got: ${p.bytes || '(nothing)'}`;

const SOURCES: Source<any>[] = [
  {
    name: 'a JWT sub (x-portcullis-consumer)', arb: hostile, examples: NAMED,
    async run(w, sub: string) {
      const { p, t } = await jwtProbe(w, 'jwt', { sub, name: 'n' });
      const label = `jwt sub ${JSON.stringify(sub)}`;
      return { p, label, policy: [sub], safety: () => checkSafety(p, t, { 'x-portcullis-consumer': sub }, label) };
    },
  },
  {
    name: 'a forwarded JWT claim (forward_claims)', arb: claimArb, examples: [...NAMED, [NAMED[5], 'x'], { v: NAMED[5] }],
    async run(w, name: unknown) {
      const { p, t } = await jwtProbe(w, 'jwt', { sub: 'alice', name });
      const label = `forwarded claim name=${JSON.stringify(name)}`;
      return { p, label, policy: [claimText(name)], safety: () => checkSafety(p, t, { 'x-claim-name': claimText(name), 'x-portcullis-consumer': 'alice' }, label) };
    },
  },
  {
    name: 'a route_by claim value (forwarded too)', arb: hostile, examples: ['eu', ...NAMED],
    async run(w, region: string) {
      const { p, t } = await jwtProbe(w, 'rb', { sub: 'alice', region });
      const label = `route_by region=${JSON.stringify(region)}`;
      return { p, label, policy: [region], safety: () => checkSafety(p, t, { 'x-region': region }, label) };
    },
  },
  {
    name: 'an external authenticator\'s consumer', arb: hostile, examples: NAMED,
    async run(w, consumer: string) {
      const n = ++w.n;
      const t = `/ext/${n}`;
      w.answers.set(`authn:${n}`, { consumer, claims: { tier: 'gold' }, headers: { 'x-ext-h': 'fixed' } });
      const p = await probe(w, req(`GET ${t} HTTP/1.1`, { 'X-Case': String(n) }));
      const label = `external authn consumer=${JSON.stringify(consumer)}`;
      return { p, label, policy: [consumer], safety: () => checkSafety(p, t, { 'x-portcullis-consumer': consumer, 'x-ext-h': 'fixed', 'x-ext-tier': 'gold' }, label) };
    },
  },
  {
    name: 'an external authenticator\'s header value', arb: hostile, examples: NAMED,
    async run(w, h: string) {
      const n = ++w.n;
      const t = `/ext/${n}`;
      w.answers.set(`authn:${n}`, { consumer: 'dave', headers: { 'x-ext-h': h } });
      const p = await probe(w, req(`GET ${t} HTTP/1.1`, { 'X-Case': String(n) }));
      const label = `external authn header x-ext-h=${JSON.stringify(h)}`;
      return { p, label, policy: [h], safety: () => checkSafety(p, t, { 'x-portcullis-consumer': 'dave', 'x-ext-h': h }, label) };
    },
  },
  {
    name: 'an external authorizer\'s header value', arb: hostile, examples: NAMED,
    async run(w, h: string) {
      const n = ++w.n;
      const t = `/az/${n}`;
      w.answers.set(`authz:${n}`, { headers: { 'x-az-h': h } });
      const p = await probe(w, req(`GET ${t} HTTP/1.1`, { 'X-Case': String(n) }));
      const label = `external authorizer header x-az-h=${JSON.stringify(h)}`;
      return { p, label, policy: [h], safety: () => checkSafety(p, t, { 'x-az-h': h }, label) };
    },
  },
  {
    name: 'the request target (path and query, non-ASCII as UTF-8)', arb: hostile, examples: NAMED,
    async run(w, s: string) {
      const n = ++w.n;
      const t = Buffer.concat([Buffer.from(`/t/${n}/`), targetBytes(s.replace(/\?/g, '')), Buffer.from('?q='), targetBytes(s)]);
      const p = await probe(w, Buffer.concat([Buffer.from('GET '), t, Buffer.from(' HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n')]));
      const label = `target ${show(t)}`;
      return {
        p, label, policy: null,
        safety() {
          const ctx = context(p, label);
          checkCounts(p, ctx);
          const q = p.reqs[0];
          if (!q) return;
          const sent = t.toString('latin1');
          expect(decoded(q.target.slice(q.target.indexOf('?'))), `the query must arrive as the client's bytes\n${ctx}`).toBe(decoded(sent.slice(sent.indexOf('?'))));
        },
      };
    },
  },
  {
    name: 'a client header value (its bytes; CR/LF are framing, see framing-differential)', arb: hostile, examples: NAMED,
    async run(w, s: string) {
      const n = ++w.n;
      const t = `/t/${n}`;
      const bytes = Buffer.from(s.replace(/[\r\n]/g, ''), 'utf8');
      const p = await probe(w, Buffer.concat([Buffer.from(`GET ${t} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nX-Client: `), bytes, Buffer.from('\r\n\r\n')]));
      const label = `client header bytes ${show(bytes)}`;
      // uWS 20.57 trims a value's ends of every byte it reads as < 33 as a signed
      // char: blanks and controls, and also bytes >= 0x80 (docs/security.md,
      // "Known limits"). What remains must arrive as the client's bytes.
      const text = bytes.toString('latin1').replace(/^[\x00-\x20\x80-\xff]+|[\x00-\x20\x80-\xff]+$/g, '');
      return {
        p, label, policy: [bytes.toString('latin1')], altRefusals: ['400 bad_header', '400 '],
        safety() {
          const ctx = context(p, label);
          checkCounts(p, ctx);
          const q = p.reqs[0];
          if (!q) return;
          expect(q.target, ctx).toBe(t);
          expect(fieldValues(q.headers, 'x-client'), `x-client must arrive as the bytes the client sent\n${ctx}`).toEqual(text === '' && fieldValues(q.headers, 'x-client').length === 0 ? [] : [text]);
        },
      };
    },
  },
];

function policyCheck(run: Run): void {
  if (run.policy === null) return;
  const ctx = `${run.label}\n  gateway answered ${run.p.r.status} ${run.p.r.body.slice(0, 160)}`;
  if (run.policy.some((v) => !clean(v))) {
    const got = `${run.p.r.status} ${reasonOf(run.p.r)}`;
    expect(['400 unsafe_header_value', ...(run.altRefusals ?? [])], ctx).toContain(got);
  } else if (!run.cleanMayBeRefused) {
    expect(run.p.r.status, `a clean value must be forwarded\n${ctx}`).toBe(200);
  }
}

/** Runs every named example; returns one line per failing one (all of them, not just the first). */
async function named<T>(w: World, src: Source<T>, check: (r: Run) => void): Promise<string[]> {
  const out: string[] = [];
  for (const v of src.examples) {
    const r = await src.run(w, v);
    try { check(r); } catch (e) { out.push(`${r.label}: ${String((e as Error).message).split('\n').slice(0, 4).join(' | ')}`); }
  }
  return out;
}

describe.each(['native', 'undici'] as const)('upstream head, client: %s', (client) => {
  let w: World;
  beforeAll(async () => { w = await startWorld(client); }, 30_000);
  afterAll(async () => {
    await w?.gw.stop();
    await w?.up.close();
    await w?.svc.close();
  });

  for (const src of SOURCES) {
    describe(src.name, () => {
      it('named examples (issue 13): one strict request upstream, values as UTF-8 bytes or not at all, or refused', async () => {
        const f = await named(w, src, (r) => r.safety());
        expect(f.length, `${f.length} named examples fail:\n${f.join('\n')}`).toBe(0);
      });
      it(`property (seed ${SEED}, ${RUNS} runs): one strict request upstream, values as UTF-8 bytes or not at all, or refused`, async () => {
        await assertProperty(src.arb, async (v) => (await src.run(w, v)).safety());
      });
      if (src.name.startsWith('the request target')) return;
      it('policy, named examples: controls → 400 unsafe_header_value, clean → forwarded', async () => {
        const f = await named(w, src, policyCheck);
        expect(f.length, `${f.length} named examples fail:\n${f.join('\n')}`).toBe(0);
      });
      it(`policy property (seed ${SEED}, ${RUNS} runs): controls → 400 unsafe_header_value, clean → forwarded`, async () => {
        await assertProperty(src.arb, async (v) => policyCheck(await src.run(w, v)));
      });
    });
  }
});

// --- request_headers (config) ------------------------------------------------------------------

describe('route request_headers values (config)', () => {
  it('portcullis check refuses every value with controls and accepts the others', async () => {
    const values = fc.sample(hostile, { seed: SEED, numRuns: 60 }).concat(NAMED);
    const add: Record<string, string> = {};
    values.forEach((v, i) => { add[`x-v${i}`] = v; });
    const dir = tempDir('portcullis-reqheaders-');
    const file = path.join(dir, 'c.yaml');
    writeFileSync(file, stringify({
      server: { listen: LISTEN },
      upstreams: { up: { targets: ['http://127.0.0.1:9'] } },
      routes: [{ name: 'r', match: { path_prefix: '/' }, anonymous: true, upstream: 'up', request_headers: { add } }],
    }));
    const r = await runCli(['check', '--config', file]);
    const out = r.stdout + r.stderr;
    const named = (i: number) => new RegExp(`request_headers\\.add\\.x-v${i}(?![0-9])`).test(out);
    const missed = values.map((v, i) => ({ v, i })).filter(({ v, i }) => !clean(v) && !named(i));
    expect(r.code).toBe(1);
    expect(missed.map(({ v, i }) => `x-v${i}: ${JSON.stringify(v)}`), `values with controls check accepted (seed ${SEED}):\n${out}`).toEqual([]);
  });

  it('a clean non-ASCII value is either refused by check or sent as its UTF-8 bytes', async () => {
    const value = 'Zo\u00eb \u010d \u010a \u{1f600}';
    const cfg = (target: string) => ({
      server: { listen: LISTEN },
      upstreams: { up: { targets: [target] } },
      routes: [{ name: 'r', match: { path_prefix: '/' }, anonymous: true, upstream: 'up', request_headers: { add: { 'x-conf': value } } }],
    });
    const dir = tempDir('portcullis-reqheaders-');
    const file = path.join(dir, 'c.yaml');
    writeFileSync(file, stringify(cfg('http://127.0.0.1:9')));
    const r = await runCli(['check', '--config', file]);
    if (r.code !== 0) {
      expect(r.stdout + r.stderr).toMatch(/request_headers\.add\.x-conf/);
      return;
    }
    const up = await startRawUpstream();
    const gw = await startGateway(cfg(up.url));
    try {
      const res = await rawRequest(gw.ports[0]!, 'GET /x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n');
      expect(res.status).toBe(200);
      const q = up.requests()[0]!.req;
      expect(fieldValues(q.headers, 'x-conf')).toEqual([wire(value)]);
      expect(readRequests(q.head).error).toBeNull();
    } finally {
      await gw.stop();
      await up.close();
    }
  });
});
