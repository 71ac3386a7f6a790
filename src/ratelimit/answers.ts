// A rate limit's answer headers (draft-ietf-httpapi-ratelimit-headers):
// RateLimit-Policy `"name";q=RATE;w=PER_SECONDS` (sub-second periods scaled
// to w=1), and RateLimit `"name";r=TOKENS_LEFT;t=SECONDS_UNTIL_FULL` for the
// limit that rejected or, when admitted, the one with the fewest tokens
// left; 429s add Retry-After (whole seconds until a token, ≥ 1).

/** A structured-field string: quotes and backslashes escaped, non-printables replaced. */
function sfString(s: string): string {
  return '"' + s.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '\\$&') + '"';
}

/** draft-ietf-httpapi-ratelimit-headers: q units per w seconds (w an integer). */
export function policyFor(name: string, rate: number, per: number): string {
  let q: number;
  let w: number;
  if (per % 1000 === 0) {
    w = per / 1000;
    q = rate;
  } else {
    w = 1;
    q = (rate * 1000) / per;
  }
  q = Math.max(1, Math.floor(q));
  return `${sfString(name)};q=${q};w=${w}`;
}

export const NO_HEADERS: readonly string[] = Object.freeze([]);
/** Distinct answers kept per limit (each a small frozen array). */
const CACHE_MAX = 4096;
/** Keys r × KEY_SPAN + t stay small integers (no boxed number on lookup). */
const KEY_SPAN = 46_340;

/**
 * One limit's answer headers as immutable arrays, built once per distinct
 * (remaining, reset) or (reset, retry) and reused, so the hot path allocates
 * nothing in steady state and a caller may keep the array as long as it
 * likes. Past CACHE_MAX distinct answers, new ones are built each time.
 */
export class LimitAnswers {
  private readonly quoted: string;
  private readonly ok = new Map<number, readonly string[]>();
  private readonly rejected = new Map<number, readonly string[]>();

  constructor(name: string, readonly policy: string) {
    this.quoted = sfString(name);
  }

  admitted(r: number, t: number): readonly string[] {
    if (r >= KEY_SPAN || t >= KEY_SPAN) return this.build(r, t, 0);
    const k = r * KEY_SPAN + t;
    const hit = this.ok.get(k);
    if (hit !== undefined) return hit;
    const h = this.build(r, t, 0);
    if (this.ok.size < CACHE_MAX) this.ok.set(k, h);
    return h;
  }

  rejectedWith(t: number, retry: number): readonly string[] {
    if (retry >= KEY_SPAN || t >= KEY_SPAN) return this.build(0, t, retry);
    const k = retry * KEY_SPAN + t;
    const hit = this.rejected.get(k);
    if (hit !== undefined) return hit;
    const h = this.build(0, t, retry);
    if (this.rejected.size < CACHE_MAX) this.rejected.set(k, h);
    return h;
  }

  private build(r: number, t: number, retry: number): readonly string[] {
    const h = ['RateLimit-Policy', this.policy, 'RateLimit', `${this.quoted};r=${r};t=${t}`];
    if (retry > 0) h.push('Retry-After', String(retry));
    return Object.freeze(h);
  }
}
