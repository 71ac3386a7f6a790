// Reads a YAML or JSON config file, validates it against the schema and the
// cross-references between sections, and returns an immutable Plan. Every
// problem is reported, not just the first.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { configSchema, didYouMean, type Config } from './schema.js';
import { ConfigError, formatPath, type ConfigIssue } from './errors.js';
import { resolveSecret } from './secrets.js';

export interface Plan {
  /** Absolute path of the config file ('' when built from an object). */
  readonly file: string;
  /** Directory that relative paths in the config are resolved against. */
  readonly baseDir: string;
  readonly config: Readonly<Config>;
  /** Loaded at (epoch ms). */
  readonly loadedAt: number;
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

export function loadConfigFile(file: string): Plan {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(abs, [{ path: '', message: code === 'ENOENT' ? `file not found: ${abs}; pass --config FILE` : `cannot read ${abs}: ${code ?? String(e)}` }]);
  }
  return parseConfigText(text, abs);
}

export function parseConfigText(text: string, file: string): Plan {
  let raw: unknown;
  if (file.endsWith('.json')) {
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(file, [{ path: '', message: `not valid JSON: ${(e as Error).message}` }]);
    }
  } else {
    const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
    if (doc.errors.length) {
      throw new ConfigError(file, doc.errors.map((e) => ({ path: '', message: `YAML: ${e.message.split('\n')[0]}` })));
    }
    raw = doc.toJS({ maxAliasCount: 100 });
  }
  return validateConfig(raw, file);
}

export function validateConfig(raw: unknown, file = ''): Plan {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file || '<config>', [{ path: '', message: 'the config must be a mapping with at least `routes:`' }]);
  }
  const r = configSchema.safeParse(raw);
  if (!r.success) {
    throw new ConfigError(file || '<config>', r.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })));
  }
  const issues = crossCheck(r.data);
  if (issues.length) throw new ConfigError(file || '<config>', issues);
  return Object.freeze({
    file,
    baseDir: file ? path.dirname(file) : process.cwd(),
    config: deepFreeze(r.data),
    loadedAt: Date.now(),
  });
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
function crossCheck(c: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add = (p: string, message: string) => issues.push({ path: p, message });
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
