// Bounded cache of external-authorization decisions: a PartsCache
// (src/workers/parts-cache.ts) whose tag is the route index, so a decision is
// never reused on another route even when two routes' parts are equal.
import type { AuthzDecision } from '../../contracts.js';
import { PartsCache } from '../../workers/parts-cache.js';

export class DecisionCache extends PartsCache<AuthzDecision> {}
