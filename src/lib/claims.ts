// Reading a claim from a verified identity's claims: used wherever a claim
// names a key (rate limits, cache keys, signed assertions, forwarded headers).

/** A claim by name, or by dotted path into nested objects when no claim has the literal name. */
export function claimValue(claims: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  if (!name.includes('.')) return undefined;
  let cur: unknown = claims;
  for (const part of name.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}
