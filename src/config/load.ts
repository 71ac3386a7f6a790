// Reads a YAML or JSON config file, validates it against the schema and the
// cross-references between sections, and returns an immutable Plan. Every
// problem is reported, not just the first.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { configSchema, didYouMean, type Config } from './schema.js';
import type { z } from 'zod';
import { ConfigError, formatPath, type ConfigIssue } from './errors.js';
import { locateIssues, locatorFor, type Locator } from './locate.js';
import { resolveSecret } from './secrets.js';

export interface Plan {
  /** Absolute path of the config file ('' when built from an object). */
  readonly file: string;
  /** Directory that relative paths in the config are resolved against. */
  readonly baseDir: string;
  readonly config: Readonly<Config>;
  /** Loaded at (epoch ms). */
  readonly loadedAt: number;
  /** Line and column of a config path in the file (absent for a config built from an object). */
  readonly locate?: Locator;
}

/** What stage compilers get: where to resolve paths and secrets, and where to report problems. */
export interface CompileContext {
  readonly plan: Plan;
  issue(path: string, message: string): void;
  resolvePath(p: string): string;
  secret(obj: object, name: string, where: string, required: boolean): string | undefined;
}

export function makeCompileContext(plan: Plan, issues: ConfigIssue[]): CompileContext {
  return {
    plan,
    issue: (p, message) => issues.push({ path: p, message }),
    resolvePath: (p) => path.resolve(plan.baseDir, p),
    secret: (obj, name, where, required) =>
      resolveSecret(obj as Record<string, unknown>, name, where, plan.baseDir, issues, required),
  };
}

/** A file read and checked: every schema and reference problem, and what can still be compiled. */
export interface ReadResult {
  readonly file: string;
  /**
   * The plan when there are no issues; with issues, a salvaged plan (broken
   * entries dropped, broken routes replaced by inert ones, indices kept) whose
   * compilation finds the problems of the rest in the same pass. Null when
   * nothing could be salvaged.
   */
  readonly plan: Plan | null;
  readonly issues: readonly ConfigIssue[];
  /** Later (compile) issues at these paths restate a reference to a broken part: drop them. */
  readonly ignored: ReadonlySet<string>;
  readonly locate?: Locator;
}

export function readConfigFile(file: string): ReadResult {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? `file not found: ${abs}; pass --config FILE`
      : code === 'EACCES' ? `cannot read ${abs}: permission denied; make it readable by this user (the service runs as its own user)`
      : `cannot read ${abs}: ${code ?? String(e)}`;
    return { file: abs, plan: null, issues: [{ path: '', message }], ignored: new Set() };
  }
  return readConfigText(text, abs);
}

/** Loads a config file; throws a ConfigError listing every schema and reference problem. */
export function loadConfigFile(file: string): Plan {
  const r = readConfigFile(file);
  if (r.issues.length || !r.plan) throw new ConfigError(r.file, r.issues);
  return r.plan;
}

export function readConfigText(text: string, file: string): ReadResult {
  let raw: unknown;
  if (file.endsWith('.json')) {
    try {
      raw = JSON.parse(text);
    } catch (e) {
      const m = /position (\d+)/.exec((e as Error).message);
      const at = m ? lineCol(text, Number(m[1])) : undefined;
      return { file, plan: null, issues: [{ path: '', message: `not valid JSON: ${(e as Error).message}`, ...at }], ignored: new Set() };
    }
  } else {
    const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
    if (doc.errors.length) {
      return {
        file, plan: null, ignored: new Set(),
        issues: doc.errors.map((e) => ({
          path: '', message: `YAML: ${e.message.split('\n')[0]}`,
          ...(e.linePos ? { line: e.linePos[0].line, column: e.linePos[0].col } : {}),
        })),
      };
    }
    raw = doc.toJS({ maxAliasCount: 100 });
  }
  const locate = locatorFor(text);
  const r = checkConfig(raw, file);
  return { ...r, issues: locateIssues(r.issues, locate), locate, plan: r.plan ? Object.freeze({ ...r.plan, locate }) : null };
}

export function parseConfigText(text: string, file: string): Plan {
  const r = readConfigText(text, file);
  if (r.issues.length || !r.plan) throw new ConfigError(file || '<config>', r.issues);
  return r.plan;
}

export function validateConfig(raw: unknown, file = ''): Plan {
  const r = checkConfig(raw, file);
  if (r.issues.length || !r.plan) throw new ConfigError(file || '<config>', r.issues);
  return r.plan;
}

function lineCol(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const nl = before.lastIndexOf('\n');
  return { line: before.split('\n').length, column: offset - nl };
}

/** Schema, then references, on whatever the schema let through: one pass reports both kinds. */
function checkConfig(raw: unknown, file: string): ReadResult {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { file, plan: null, ignored: new Set(), issues: [{ path: '', message: 'the config must be a mapping with at least `routes:`' }] };
  }
  const r = configSchema.safeParse(raw);
  if (r.success) {
    const issues = crossCheck(r.data);
    return { file, plan: freezePlan(r.data, file), issues, ignored: new Set() };
  }
  const issues = schemaIssues(r.error.issues, raw);
  const s = salvage(raw as Record<string, unknown>, r.error.issues);
  if (!s) return { file, plan: null, issues, ignored: new Set() };
  const ignored = new Set<string>();
  const cross = crossCheck(s.config, s.broken, ignored);
  return { file, plan: freezePlan(s.config, file), issues: [...issues, ...cross], ignored };
}

function freezePlan(config: Config, file: string): Plan {
  return Object.freeze({
    file,
    baseDir: file ? path.dirname(file) : process.cwd(),
    config: deepFreeze(config),
    loadedAt: Date.now(),
  });
}

/** zod issues as ours; an unknown-field issue is split per field so each points at its own line. */
function schemaIssues(zi: readonly z.core.$ZodIssue[], raw: unknown): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const i of zi) {
    const disc = /^Invalid discriminator value\. Expected (.+)$/.exec(i.message);
    if (disc) {
      // zod's wording names neither the value nor the closest choice.
      const choices = [...disc[1]!.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
      const v = walk(raw, i.path);
      const key = String(i.path[i.path.length - 1] ?? 'type');
      const message = v === undefined ? `${key} is required: one of ${choices.join(', ')}`
        : `unknown ${key} "${String(v)}"${didYouMean(String(v), choices)}; one of ${choices.join(', ')}`;
      out.push({ path: formatPath(i.path), message });
      continue;
    }
    if (i.code === 'unrecognized_keys' && i.keys.length > 1) {
      const parts = i.message.split(/; (?=unknown field ")/);
      i.keys.forEach((k, j) => out.push({ path: formatPath([...i.path, k]), message: parts[j] ?? i.message }));
    } else if (i.code === 'unrecognized_keys' && i.keys.length === 1) {
      out.push({ path: formatPath([...i.path, i.keys[0]!]), message: i.message });
    } else {
      out.push({ path: formatPath(i.path), message: i.message });
    }
  }
  return out;
}

/** Names of entries dropped because the schema refused them. */
export interface Broken {
  readonly upstreams: Set<string>;
  readonly authenticators: Set<string>;
  readonly authorizers: Set<string>;
  readonly rate_limits: Set<string>;
  readonly sections: Set<string>;
}

const NAMED = ['upstreams', 'authenticators', 'authorizers', 'rate_limits'] as const;

/**
 * A copy of the config the schema accepts: a refused field that is optional
 * is removed (its default applies), then whatever still fails is dropped at
 * its entry — a named upstream/authenticator/authorizer/limit, a route (made
 * inert, so later indices do not move) or a whole section. Bounded rounds.
 */
function salvage(raw: Record<string, unknown>, first: readonly z.core.$ZodIssue[]): { config: Config; broken: Broken } | null {
  const copy = structuredClone(raw) as Record<string, unknown>;
  const broken: Broken = { upstreams: new Set(), authenticators: new Set(), authorizers: new Set(), rate_limits: new Set(), sections: new Set() };
  let issues = first;
  for (let round = 0; round < 4; round++) {
    for (const i of issues) {
      // A whole named entry refused (authenticators.x with an unknown type): drop it as broken.
      const whole = i.path.length === 2 && (NAMED as readonly PropertyKey[]).includes(i.path[0]!);
      if (round === 0 && !whole) removeLeaf(copy, i);
      else dropEntry(copy, i.path, broken);
    }
    const r = configSchema.safeParse(copy);
    if (r.success) return { config: r.data, broken };
    issues = r.error.issues;
  }
  return null;
}

function removeLeaf(root: Record<string, unknown>, i: z.core.$ZodIssue): void {
  const parent = walk(root, i.path.slice(0, -1));
  const last = i.path[i.path.length - 1];
  if (i.code === 'unrecognized_keys') {
    const target = walk(root, i.path);
    if (target && typeof target === 'object' && !Array.isArray(target)) for (const k of i.keys) delete (target as Record<string, unknown>)[k];
    return;
  }
  // Array elements are not spliced out (that would move the indices of later problems).
  if (parent && typeof parent === 'object' && !Array.isArray(parent) && typeof last === 'string') delete (parent as Record<string, unknown>)[last];
}

function dropEntry(root: Record<string, unknown>, p: readonly PropertyKey[], broken: Broken): void {
  const [top, second] = p;
  if (typeof top !== 'string') return;
  if ((NAMED as readonly string[]).includes(top) && typeof second === 'string') {
    const rec = root[top];
    if (rec && typeof rec === 'object') delete (rec as Record<string, unknown>)[second];
    broken[top as (typeof NAMED)[number]].add(second);
    return;
  }
  if (top === 'routes' && typeof second === 'number' && Array.isArray(root.routes)) {
    root.routes[second] = { name: `\u0000broken-${second}`, match: { path: `/\u0000broken-${second}` }, respond: { status: 404 } };
    broken.sections.add(`routes[${second}]`);
    return;
  }
  if (top === 'routes' && p.length === 1) {
    // No route left (or routes missing): an inert one, so the sections can still be checked.
    root.routes = [{ name: '\u0000none', match: { path: '/\u0000none' }, respond: { status: 404 } }];
    return;
  }
  delete root[top];
  broken.sections.add(top);
}

function walk(root: unknown, p: readonly PropertyKey[]): unknown {
  let n: unknown = root;
  for (const s of p) {
    if (n === null || typeof n !== 'object') return undefined;
    n = (n as Record<PropertyKey, unknown>)[s as string];
  }
  return n;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'];

/** References between sections: names that must exist, combinations that make no sense. */
function crossCheck(c: Config, broken?: Broken, ignored?: Set<string>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add = (p: string, message: string) => {
    // A reference to an entry the schema refused is not "unknown": that entry's own problem is reported.
    if (broken) {
      const m = /^unknown (upstream|authenticator|rate limit|authorizer) "([^"]*)"/.exec(message);
      const set = m && { upstream: broken.upstreams, authenticator: broken.authenticators, 'rate limit': broken.rate_limits, authorizer: broken.authorizers }[m[1]!];
      if ((set && set.has(m![2]!)) || /^routes\[\d+\]/.test(p) && broken.sections.has(p.replace(/^(routes\[\d+\]).*$/, '$1'))) { ignored?.add(p); return; }
      if (p.endsWith('.scope') && message.startsWith('scope: cluster') && broken.sections.has('cluster')) return;
    }
    issues.push({ path: p, message });
  };
  const upstreams = Object.keys(c.upstreams);
  const authns = Object.keys(c.authenticators);
  const authzs = Object.keys(c.authorizers);
  const limits = Object.keys(c.rate_limits);
  const refUpstream = (p: string, name: string) => {
    if (!c.upstreams[name]) add(p, `unknown upstream "${name}"${didYouMean(name, upstreams)}; defined: ${upstreams.join(', ') || '(none)'}`);
  };

  for (const [name, a] of Object.entries(c.authenticators)) {
    const at = `authenticators.${name}`;
    if (a.type === 'jwt') {
      const sources = [a.jwks_uri, a.jwks_file, a.keys, a.secret, a.secret_file, a.secret_env].filter((x) => x !== undefined).length;
      if (sources === 0) add(at, 'a jwt authenticator needs keys: set jwks_uri, jwks_file, keys, or secret/secret_file/secret_env (HS*)');
      const hasHs = a.algorithms.some((x) => x.startsWith('HS'));
      const hasAsym = a.algorithms.some((x) => !x.startsWith('HS'));
      if (hasHs && hasAsym) add(`${at}.algorithms`, 'do not mix HS* with public-key algorithms in one authenticator (it invites key-confusion attacks); make two authenticators');
    }
  }
  for (const [name, l] of Object.entries(c.rate_limits)) {
    if (l.scope === 'cluster' && !c.cluster) add(`rate_limits.${name}.scope`, 'scope: cluster needs a `cluster: { redis: redis://… }` section');
  }

  const names = new Set<string>();
  c.routes.forEach((r, i) => {
    const at = `routes[${i}]`;
    if (names.has(r.name)) add(`${at}.name`, `duplicate route name "${r.name}"`);
    names.add(r.name);
    const m = r.match;
    const pathKinds = [m.path, m.path_prefix, m.path_regex].filter((x) => x !== undefined).length;
    if (pathKinds > 1) add(`${at}.match`, 'give only one of path, path_prefix, path_regex');
    if (m.path_regex !== undefined) {
      try { new RegExp(m.path_regex); } catch (e) { add(`${at}.match.path_regex`, `invalid regular expression: ${(e as Error).message}`); }
    }
    m.methods?.forEach((meth, j) => {
      if (!METHODS.includes(meth.toUpperCase())) add(`${at}.match.methods[${j}]`, `unknown method "${meth}"; one of ${METHODS.join(', ')}`);
    });
    m.hosts?.forEach((h, j) => {
      if (!/^(\*\.)?[a-z0-9.-]+(:\d+)?$/i.test(h)) add(`${at}.match.hosts[${j}]`, `"${h}" is not a host name or *.suffix pattern`);
    });
    const hasAuth = r.authenticate !== undefined && r.authenticate.length > 0;
    if (hasAuth && r.anonymous) add(at, 'a route is either anonymous: true or has authenticate: [...], not both');
    if (!hasAuth && !r.anonymous && !r.respond) {
      add(at, `route "${r.name}" has neither authenticate nor anonymous: true; nothing is public by accident: add authenticate: [NAME] or anonymous: true`);
    }
    r.authenticate?.forEach((a, j) => {
      if (!c.authenticators[a]) add(`${at}.authenticate[${j}]`, `unknown authenticator "${a}"${didYouMean(a, authns)}; defined: ${authns.join(', ') || '(none)'}`);
    });
    r.rate_limit?.forEach((l, j) => {
      if (!c.rate_limits[l]) add(`${at}.rate_limit[${j}]`, `unknown rate limit "${l}"${didYouMean(l, limits)}; defined: ${limits.join(', ') || '(none)'}`);
      const key = c.rate_limits[l]?.key ?? '';
      if (!hasAuth && (key === 'consumer' || key.startsWith('claim:'))) {
        add(`${at}.rate_limit[${j}]`, `limit "${l}" is keyed by ${key}, which needs an authenticated route`);
      }
    });
    const ext = r.authorize?.external;
    if (ext !== undefined && !c.authorizers[ext]) add(`${at}.authorize.external`, `unknown authorizer "${ext}"${didYouMean(ext, authzs)}; defined: ${authzs.join(', ') || '(none)'}`);
    if ((r.authorize?.scopes || r.authorize?.roles || r.authorize?.claims) && !hasAuth) {
      add(`${at}.authorize`, 'scopes/roles/claims rules need an authenticated route (authenticate: [...])');
    }
    if (r.respond) {
      if (r.upstream || r.route_by) add(at, 'a respond route has no upstream or route_by');
    } else {
      if (!r.upstream && !r.route_by) add(at, `route "${r.name}" needs upstream: NAME, route_by, or respond`);
      if (r.upstream) refUpstream(`${at}.upstream`, r.upstream);
      if (r.route_by) {
        for (const [k, u] of Object.entries(r.route_by.map)) refUpstream(`${at}.route_by.map.${k}`, u);
        if (r.route_by.otherwise !== 'deny') refUpstream(`${at}.route_by.otherwise`, r.route_by.otherwise);
        if ('claim' in r.route_by && !hasAuth) add(`${at}.route_by.claim`, 'route_by a claim needs an authenticated route');
      }
    }
    if (r.strip_prefix && m.path_prefix === undefined) add(`${at}.strip_prefix`, 'strip_prefix needs match.path_prefix');
  });
  if (c.server.threads !== 1) {
    c.server.listen.forEach((l, i) => {
      if (l.port === 0) add(`server.listen[${i}].port`, `port 0 (a port the kernel picks) cannot be shared by ${c.server.threads === 'auto' ? 'several' : c.server.threads} event-loop threads; give a fixed port, or set server.threads: 1`);
    });
  }
  if (c.admin) {
    for (const l of c.server.listen) {
      if (l.port === c.admin.listen.port && l.port !== 0 && (l.host === c.admin.listen.host || l.host === '0.0.0.0' || l.host === '::')) {
        add('admin.listen', `admin port ${l.port} is also a public listener; the admin API must never be on a public listener`);
      }
    }
  }
  return issues;
}
