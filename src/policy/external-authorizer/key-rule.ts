// Which parts the decision cache keys on. A cached decision may only be
// reused for a request the service would have seen as the same, so the key
// must cover every input the service is sent (sent-inputs.ts): by default it
// is exactly those; a configured `cache.key` that leaves one out is a config
// error unless that input is listed in `cache.unkeyed` (the operator states
// the service never decides on it). Over-keying is always allowed.
import type { AuthorizerConfig } from '../../config/schema.js';
import { sentInputs } from './sent-inputs.js';

/** Lower-cases the name of a header:NAME part, so `header:X-Tenant` and `header:x-tenant` are one part. */
function norm(part: string): string {
  return part.startsWith('header:') ? `header:${part.slice(7).toLowerCase()}` : part;
}

/**
 * The key parts for this authorizer (before compileKey parses them), or null
 * when the config is wrong; problems go to `issue(path, message)` with paths
 * relative to the authorizer (`cache.key`, `cache.unkeyed[1]`).
 */
export function keyParts(cfg: AuthorizerConfig, issue: (path: string, msg: string) => void): string[] | null {
  const sent = sentInputs(cfg);
  const sentSet = new Set(sent);
  const keyed = cfg.cache.key?.map(norm);
  const keyedSet = new Set(keyed ?? []);
  const unkeyed = new Set<string>();
  let ok = true;
  cfg.cache.unkeyed.forEach((raw, i) => {
    const u = norm(raw);
    if (!sentSet.has(u)) {
      ok = false;
      issue(`cache.unkeyed[${i}]`, `"${raw}" is not an input this authorizer is sent, so there is nothing to leave out of the key; it is sent: ${sent.join(', ')}; remove it`);
    } else if (keyedSet.has(u)) {
      ok = false;
      issue(`cache.unkeyed[${i}]`, `"${raw}" is also in cache.key; keep it in one of the two`);
    } else unkeyed.add(u);
  });
  if (keyed === undefined) return ok ? sent.filter((p) => !unkeyed.has(p)) : null;
  const missing = sent.filter((p) => !keyedSet.has(p) && !unkeyed.has(p));
  if (missing.length > 0) {
    const partial = missing.includes('identity') && keyed.some((p) => p === 'consumer' || p.startsWith('claim:'))
      ? ' (consumer and claim:NAME key on part of the identity only; the service is sent all of it)'
      : '';
    issue('cache.key', `leaves out ${missing.join(', ')}, which the authorizer is sent${partial}: a decision the service made on them would be reused for requests that differ there; `
      + `add them to cache.key, drop cache.key to key on everything sent, or list them in cache.unkeyed: [${missing.join(', ')}] if the service never decides on them`);
    return null;
  }
  return ok ? keyed : null;
}
