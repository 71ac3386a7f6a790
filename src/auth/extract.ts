// Where a token may come from: one header (optionally after an auth scheme),
// one cookie or one query parameter. A token anywhere else is not seen at all.
// Compiled once into a small object; extraction allocates nothing beyond the
// substring of the token itself.
import type { RequestView } from '../contracts.js';
import type { TokenSource } from '../config/schema.js';

export interface TokenExtractor {
  /**
   * The credential, `undefined` when this source holds none. `''` means the
   * scheme was sent without a token (`Authorization: Bearer`): present but
   * invalid, never "absent".
   */
  extract(view: RequestView): string | undefined;
  /** Human description for logs and errors: `header authorization (Bearer)`. */
  readonly where: string;
}

class SchemeHeader implements TokenExtractor {
  readonly where: string;
  private readonly lower: Uint16Array;
  constructor(private readonly name: string, readonly scheme: string) {
    this.where = `header ${name} (${scheme})`;
    this.lower = new Uint16Array(scheme.length);
    for (let i = 0; i < scheme.length; i++) this.lower[i] = lowerCode(scheme.charCodeAt(i));
  }
  extract(view: RequestView): string | undefined {
    const v = view.header(this.name);
    const n = this.lower.length;
    if (v.length < n) return undefined;
    for (let i = 0; i < n; i++) if (lowerCode(v.charCodeAt(i)) !== this.lower[i]) return undefined;
    if (v.length === n) return '';
    let j = n;
    const sep = v.charCodeAt(j);
    if (sep !== 0x20 && sep !== 0x09) return undefined; // "BearerX…" is another scheme
    while (j < v.length && (v.charCodeAt(j) === 0x20 || v.charCodeAt(j) === 0x09)) j++;
    return v.slice(j);
  }
}

class RawHeader implements TokenExtractor {
  readonly where: string;
  constructor(private readonly name: string) {
    this.where = `header ${name}`;
  }
  extract(view: RequestView): string | undefined {
    const v = view.header(this.name);
    return v === '' ? undefined : v;
  }
}

class Cookie implements TokenExtractor {
  readonly where: string;
  constructor(private readonly name: string) {
    this.where = `cookie ${name}`;
  }
  extract(view: RequestView): string | undefined {
    const v = view.cookie(this.name);
    return v === '' ? undefined : v;
  }
}

class Query implements TokenExtractor {
  readonly where: string;
  constructor(private readonly name: string) {
    this.where = `query parameter ${name}`;
  }
  extract(view: RequestView): string | undefined {
    const v = view.queryParam(this.name);
    return v === '' ? undefined : v;
  }
}

function lowerCode(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
}

/**
 * Default: `Authorization: Bearer <token>`. `{ header: authorization }` without
 * a scheme also means Bearer; other headers without a scheme carry the bare token.
 */
export function compileTokenSource(src: TokenSource | undefined): TokenExtractor {
  if (src === undefined) return new SchemeHeader('authorization', 'Bearer');
  if ('cookie' in src) return new Cookie(src.cookie);
  if ('query' in src) return new Query(src.query);
  const name = src.header.toLowerCase();
  const scheme = src.scheme ?? (name === 'authorization' ? 'Bearer' : '');
  return scheme === '' ? new RawHeader(name) : new SchemeHeader(name, scheme);
}

/** `Basic …`-style scheme matcher for authenticators with a fixed scheme. */
export function schemeExtractor(header: string, scheme: string): TokenExtractor {
  return new SchemeHeader(header.toLowerCase(), scheme);
}
