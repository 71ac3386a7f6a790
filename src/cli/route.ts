// portcullis route METHOD URL: which route a request takes, which stages it
// passes and where it goes — the config's answer, without sending anything.
import { loadConfigFile, type Plan } from '../config/load.js';
import { ConfigError } from '../config/errors.js';
import { formatDuration } from '../config/units.js';
import type { RouteConfig } from '../config/schema.js';
import { compileRouter, normalizePath } from '../router/index.js';
import { many, UsageError } from './args.js';
import { CONFIG_OPTION, configPath, printConfigError, type Command } from './common.js';
import { prepareConfig } from './demo-key.js';

export const route: Command = {
  spec: {
    name: 'route',
    summary: 'Show which route a request would take, the stages it passes and its upstream.',
    options: [CONFIG_OPTION, { name: 'header', short: 'H', value: "'NAME: VALUE'", repeat: true, help: 'a request header (Host, or one a route matches on)' }],
    args: [
      { name: 'METHOD', help: 'GET, POST, …' },
      { name: 'URL', help: 'http://host/path?query, or just /path' },
    ],
    details: `Example: portcullis route GET https://api.example.com/orders/42 --config /etc/portcullis/portcullis.yaml
Exit 0 when a route matches, 1 when the gateway would answer 400/404/405 itself.`,
  },
  async run(p) {
    const [method, target] = p.args as [string, string];
    const headers = new Map<string, string>();
    for (const h of many(p, 'header')) {
      const i = h.indexOf(':');
      if (i <= 0) throw new UsageError(route.spec, `--header "${h}" is not NAME: VALUE`);
      headers.set(h.slice(0, i).trim().toLowerCase(), h.slice(i + 1).trim());
    }
    let u: URL;
    try {
      u = new URL(target, 'http://localhost');
    } catch {
      throw new UsageError(route.spec, `"${target}" is not a URL or a /path`);
    }
    if (/^https?:\/\//i.test(target) && !headers.has('host')) headers.set('host', u.host);
    const host = (headers.get('host') ?? '').replace(/:\d+$/, '').toLowerCase();
    const file = configPath(p);
    const prep = await prepareConfig(file);
    if (prep) { process.stderr.write(`portcullis: ${prep}\n`); return 1; }
    let plan: Plan;
    try {
      plan = loadConfigFile(file);
    } catch (e) {
      if (e instanceof ConfigError) { printConfigError(e); return 1; }
      throw e;
    }
    // The path as sent, not as the URL parser would clean it: the gateway's own normalisation decides.
    const rawPath = target.replace(/^https?:\/\/[^/?#]*/i, '').split(/[?#]/)[0] || '/';
    const path = normalizePath(rawPath);
    const m = method.toUpperCase() === method ? method : method.toUpperCase();
    const out: string[] = [`${m} ${rawPath}${u.search}${host ? ` (Host: ${host})` : ''}`];
    if (path === null) {
      out.push('  refused before routing: 400 bad_path (the path does not normalise: encoded slashes, NUL, ..-escapes)');
      process.stdout.write(out.join('\n') + '\n');
      return 1;
    }
    const router = compileRouter(plan.config.routes);
    const header = (n: string) => headers.get(n) ?? '';
    const idx = router.match(m, host, path, header);
    if (path !== rawPath) out.push(`  normalised path: ${path}`);
    if (idx < 0) {
      const allow = router.allowedMethods(host, path, header);
      out.push(allow ? `  no route for ${m}: the gateway answers 405 method_not_allowed (Allow: ${allow})` : '  no route matches: the gateway answers 404 route_not_found');
      process.stdout.write(out.join('\n') + '\n');
      return 1;
    }
    const r = plan.config.routes[idx]!;
    const where = plan.locate?.(`routes[${idx}]`);
    out.push(`  route: ${r.name} (routes[${idx}]${where ? `, ${file}:${where.line}` : ''})`);
    out.push(...describeRoute(plan, r).map((l) => `  ${l}`));
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  },
};

function describeRoute(plan: Plan, r: RouteConfig): string[] {
  const c = plan.config;
  const out: string[] = [];
  let n = 0;
  const step = (s: string) => out.push(`${++n}. ${s}`);
  const a = r.authorize;
  if (a?.ip_allow || a?.ip_deny) step(`network policy: ${[a.ip_allow && `allow ${a.ip_allow.join(', ')}`, a.ip_deny && `deny ${a.ip_deny.join(', ')}`].filter(Boolean).join('; ')} (403 ip_denied)`);
  const limits = r.rate_limit ?? [];
  const pre = limits.filter((l) => { const k = c.rate_limits[l]?.key ?? ''; return k === 'global' || k === 'ip' || k.startsWith('header:'); });
  if (pre.length) step(`rate limit before authentication: ${pre.map((l) => limitText(plan, l)).join(', ')} (429)`);
  if (r.respond) {
    step(`answered by the gateway: ${r.respond.status}${r.respond.body ? ` "${r.respond.body.slice(0, 40)}"` : ''}`);
    return out;
  }
  if (r.anonymous) step('anonymous: no authentication');
  else if (r.authenticate?.length) step(`authenticate (first that accepts): ${r.authenticate.map((x) => `${x} (${c.authenticators[x]?.type ?? '?'})`).join(', ')} (401 when none does)`);
  const post = limits.filter((l) => !pre.includes(l));
  if (post.length) step(`rate limit: ${post.map((l) => limitText(plan, l)).join(', ')} (429)`);
  const rules = [
    a?.scopes && `scopes all of [${a.scopes.join(', ')}]`,
    a?.roles && `roles any of [${a.roles.join(', ')}]${a.roles_claim ? ` from ${a.roles_claim}` : ''}`,
    a?.claims && `claims ${JSON.stringify(a.claims)}`,
  ].filter(Boolean);
  if (rules.length) step(`authorize: ${rules.join('; ')} (403)`);
  if (a?.external) step(`external authorizer: ${a.external} → ${c.authorizers[a.external]?.url ?? '?'} (failure_mode ${c.authorizers[a.external]?.failure_mode ?? '?'})`);
  const up = (name: string) => {
    const u = c.upstreams[name];
    return u ? `${name} [${u.targets.join(', ')}] timeout ${formatDuration(r.timeout ?? u.timeout)}` : `${name} (undefined)`;
  };
  if (r.route_by) {
    const by = 'claim' in r.route_by ? `claim ${r.route_by.claim}` : `header ${r.route_by.header}`;
    step(`route by ${by}:`);
    for (const [k, v] of Object.entries(r.route_by.map)) out.push(`     ${k} → ${up(v)}`);
    out.push(`     otherwise → ${r.route_by.otherwise === 'deny' ? 'deny (403)' : up(r.route_by.otherwise)}`);
  } else if (r.upstream) {
    step(`proxy to ${up(r.upstream)}${r.strip_prefix ? ` (prefix ${r.match.path_prefix} stripped)` : ''}`);
  }
  const rh = r.request_headers;
  if (rh?.add || rh?.remove) out.push(`   request headers: ${[rh.add && `add ${Object.keys(rh.add).join(', ')}`, rh.remove && `remove ${rh.remove.join(', ')}`].filter(Boolean).join('; ')}`);
  return out;
}

function limitText(plan: Plan, name: string): string {
  const l = plan.config.rate_limits[name];
  return l ? `${name} (${l.rate}/${formatDuration(l.per)} by ${l.key}${l.burst ? `, burst ${l.burst}` : ''})` : name;
}
