// Which parts the decision cache keys on: the shared rule (src/workers/key-rule.ts)
// over what this authorizer is sent (sent-inputs.ts) — by default exactly
// that; a `cache.key` leaving a sent input out is a config error unless
// `cache.unkeyed` lists it.
import type { AuthorizerConfig } from '../../config/schema.js';
import { keyParts as coveringKey } from '../../workers/key-rule.js';
import { sentInputs } from './sent-inputs.js';

/** The key parts for this authorizer, or null when the config is wrong (paths relative to the authorizer). */
export function keyParts(cfg: AuthorizerConfig, issue: (path: string, msg: string) => void): string[] | null {
  return coveringKey({ sent: sentInputs(cfg), key: cfg.cache.key, unkeyed: cfg.cache.unkeyed, who: 'authorizer' }, issue);
}
