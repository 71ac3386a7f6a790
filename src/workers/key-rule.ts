// The rule every cache of a called service's answers follows (external
// authorizers, external authenticators): an answer may only be reused for a
// request the service would have seen as the same one, so the key covers
// every input the service is sent. By default the key is exactly those
// inputs; an input the operator lists in `cache.unkeyed` (the service never
// decides on it) is left out on purpose; a configured `cache.key` that leaves
// a sent input out otherwise is a config error. Over-keying is always
// allowed. Issue 13, finding 4: an allow for /public was reused for /secret.

/** What a service is sent, as the stage's config says. */
export interface SentSpec {
  /** method, path, query and host (JSON fields and x-forwarded-method / -uri / -host). */
  readonly request: boolean;
  /** The client address (JSON `ip`, x-forwarded-for). */
  readonly ip: boolean;
  /** Who the caller is (JSON `identity`). */
  readonly identity: boolean;
  /** The request headers sent: lower-case, each once. */
  readonly headers: readonly string[];
}

/**
 * Every input the service is sent, spelled as a cache key part (parsed by
 * request-key.ts). The one list both the default key and the check are made
 * of, so a new input sent to a service can never be left out of the key.
 */
export function sentInputs(s: SentSpec): string[] {
  const out = s.request ? ['method', 'path', 'query', 'host'] : [];
  if (s.ip) out.push('ip');
  if (s.identity) out.push('identity');
  for (const h of s.headers) out.push(`header:${h}`);
  return out;
}

/** Lower-cases the name of a header:NAME part, so `header:X-Tenant` and `header:x-tenant` are one part. */
export function normPart(part: string): string {
  return part.startsWith('header:') ? `header:${part.slice(7).toLowerCase()}` : part;
}

export interface KeyRuleInput {
  /** sentInputs() of the stage. */
  readonly sent: readonly string[];
  /** `cache.key` as configured (undefined: the default, everything sent). */
  readonly key: readonly string[] | undefined;
  /** `cache.unkeyed` as configured. */
  readonly unkeyed: readonly string[];
  /** The stage in messages: "authorizer", "authenticator". */
  readonly who: string;
}

/**
 * The key parts (before request-key.ts parses them), or null when the config
 * is wrong; problems go to `issue(path, message)` with paths relative to the
 * stage (`cache.key`, `cache.unkeyed[1]`).
 */
export function keyParts(k: KeyRuleInput, issue: (path: string, msg: string) => void): string[] | null {
  const { sent, who } = k;
  const sentSet = new Set(sent);
  const keyed = k.key?.map(normPart);
  const keyedSet = new Set(keyed ?? []);
  const unkeyed = new Set<string>();
  let ok = true;
  k.unkeyed.forEach((raw, i) => {
    const u = normPart(raw);
    if (!sentSet.has(u)) {
      ok = false;
      issue(`cache.unkeyed[${i}]`, `"${raw}" is not an input this ${who} is sent, so there is nothing to leave out of the key; it is sent: ${sent.length > 0 ? sent.join(', ') : 'nothing'}; remove it`);
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
    issue('cache.key', `leaves out ${missing.join(', ')}, which the ${who} is sent${partial}: a decision the service made on them would be reused for requests that differ there; `
      + `add them to cache.key, drop cache.key to key on everything sent, or list them in cache.unkeyed: [${missing.join(', ')}] if the service never decides on them`);
    return null;
  }
  return ok ? keyed : null;
}
