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
  /**
   * Where the credential starts in `src` (it runs to the end of `src`), or -1
   * when this source holds none: the same answer as extract() without making
   * the substring, for lookups that only compare (a verified-token cache hit).
   * `src` is valid until the next call.
   */
  locate(view: RequestView): number;
  src: string;
  /** Human description for logs and errors: `header authorization (Bearer)`. */
  readonly where: string;
  /** The query parameter this source reads ('' for headers and cookies): a singleton, see AuthChain. */
  readonly queryName: string;
}

class SchemeHeader implements TokenExtractor {
  readonly where: string;
  readonly queryName = '';
  src = '';
  private readonly lower: Uint16Array;
  constructor(private readonly name: string, readonly scheme: string) {
    this.where = `header ${name} (${scheme})`;
    this.lower = new Uint16Array(scheme.length);
    for (let i = 0; i < scheme.length; i++) this.lower[i] = lowerCode(scheme.charCodeAt(i));
  }
  extract(view: RequestView): string | undefined {
    const at = this.locate(view);
    return at < 0 ? undefined : this.src.slice(at);
  }
  locate(view: RequestView): number {
    const v = view.header(this.name);
    this.src = v;
    const n = this.lower.length;
    if (v.length < n) return -1;
    for (let i = 0; i < n; i++) if (lowerCode(v.charCodeAt(i)) !== this.lower[i]) return -1;
    if (v.length === n) return n; // the scheme alone: an empty (invalid) token
    let j = n;
    const sep = v.charCodeAt(j);
    if (sep !== 0x20 && sep !== 0x09) return -1; // "BearerX…" is another scheme
    while (j < v.length && (v.charCodeAt(j) === 0x20 || v.charCodeAt(j) === 0x09)) j++;
    return j;
  }
}

class RawHeader implements TokenExtractor {
  readonly where: string;
  readonly queryName = '';
  src = '';
  constructor(private readonly name: string) {
    this.where = `header ${name}`;
  }
  extract(view: RequestView): string | undefined {
    const v = view.header(this.name);
    return v === '' ? undefined : v;
  }
  locate(view: RequestView): number {
    return locateBy(this, view);
  }
}

class Cookie implements TokenExtractor {
  readonly where: string;
  readonly queryName = '';
  src = '';
  constructor(private readonly name: string) {
    this.where = `cookie ${name}`;
  }
  extract(view: RequestView): string | undefined {
    const v = view.cookie(this.name);
    return v === '' ? undefined : v;
  }
  locate(view: RequestView): number {
    return locateBy(this, view);
  }
}

class Query implements TokenExtractor {
  readonly where: string;
  src = '';
  constructor(private readonly name: string) {
    this.where = `query parameter ${name}`;
  }
  get queryName(): string {
    return this.name;
  }
  extract(view: RequestView): string | undefined {
    const v = view.queryParam(this.name);
    return v === '' ? undefined : v;
  }
  locate(view: RequestView): number {
    return locateBy(this, view);
  }
}

/** locate() for sources whose extraction makes the string anyway. */
function locateBy(x: TokenExtractor, view: RequestView): number {
  const v = x.extract(view);
  x.src = v ?? '';
  return v === undefined ? -1 : 0;
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
