// OpenID Provider metadata from `ISSUER/.well-known/openid-configuration`,
// fetched through the worker pool, kept in memory and refreshed hourly. The
// last good document stays in use while the provider is unreachable; before
// the first success, logins answer 503.
import type { WorkerPool } from '../../workers/pool.js';
import { runCallout } from '../../workers/callout.js';
import { log } from '../../observe/log.js';

export interface ProviderMetadata {
  readonly issuer: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly jwksUri: string;
  readonly endSessionEndpoint: string | null;
  readonly userinfoEndpoint: string | null;
  /** ID token algorithms we accept: the provider's list without "none" and HS*. */
  readonly algorithms: string[];
}

const REFRESH_MS = 3_600_000;
const RETRY_MIN_MS = 5_000;
const RETRY_MAX_MS = 60_000;

function trimSlash(s: string): string {
  return s.endsWith('/') ? s.slice(0, -1) : s;
}

export function parseMetadata(body: string, issuer: string): ProviderMetadata | string {
  let d: Record<string, unknown>;
  try {
    d = JSON.parse(body) as Record<string, unknown>;
  } catch {
    return 'the discovery document is not JSON';
  }
  if (d === null || typeof d !== 'object') return 'the discovery document is not a JSON object';
  // OIDC Discovery §4.3: the issuer must be the one we asked for (a trailing slash aside).
  if (typeof d.issuer !== 'string' || trimSlash(d.issuer) !== trimSlash(issuer)) {
    return `the discovery document names issuer ${JSON.stringify(d.issuer)}, not ${issuer}; set issuer to exactly the provider's issuer`;
  }
  const url = (k: string): string | null => (typeof d[k] === 'string' && /^https?:\/\//.test(d[k] as string) ? (d[k] as string) : null);
  const authorizationEndpoint = url('authorization_endpoint');
  const tokenEndpoint = url('token_endpoint');
  const jwksUri = url('jwks_uri');
  if (!authorizationEndpoint || !tokenEndpoint || !jwksUri) return 'the discovery document lacks authorization_endpoint, token_endpoint or jwks_uri';
  const algs = Array.isArray(d.id_token_signing_alg_values_supported)
    ? (d.id_token_signing_alg_values_supported as unknown[]).filter((a): a is string => typeof a === 'string' && a !== 'none' && !a.startsWith('HS'))
    : ['RS256'];
  return {
    issuer: d.issuer,
    authorizationEndpoint,
    tokenEndpoint,
    jwksUri,
    endSessionEndpoint: url('end_session_endpoint'),
    userinfoEndpoint: url('userinfo_endpoint'),
    algorithms: algs.length ? algs : ['RS256'],
  };
}

export class Discovery {
  private meta: ProviderMetadata | null = null;
  private loading: Promise<ProviderMetadata | null> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private retryMs = RETRY_MIN_MS;
  private closed = false;
  private readonly url: string;
  readonly first: Promise<void>;

  constructor(private readonly issuer: string, private readonly pool: WorkerPool, private readonly timeoutMs: number, private readonly name: string) {
    this.url = `${trimSlash(issuer)}/.well-known/openid-configuration`;
    // `portcullis check` compiles with an inert pool: no network activity at all.
    this.first = pool.inert ? Promise.resolve() : this.load().then(() => undefined);
  }

  get current(): ProviderMetadata | null {
    return this.meta;
  }

  /** The metadata, loading it now when there is none yet (one fetch at a time). */
  get(): Promise<ProviderMetadata | null> {
    return this.meta !== null ? Promise.resolve(this.meta) : this.load();
  }

  private load(): Promise<ProviderMetadata | null> {
    if (this.loading) return this.loading;
    this.loading = (async () => {
      const a = await runCallout(this.pool, { url: this.url, method: 'GET', headers: { accept: 'application/json' }, maxBody: 256 * 1024 }, this.timeoutMs);
      let problem: string;
      if (!a.ok) problem = `${a.error}: ${a.detail}`;
      else if (a.status !== 200) problem = `HTTP ${a.status}`;
      else {
        const m = parseMetadata(a.body, this.issuer);
        if (typeof m !== 'string') {
          this.meta = m;
          this.retryMs = RETRY_MIN_MS;
          this.schedule(REFRESH_MS);
          return m;
        }
        problem = m;
      }
      log.warn('OIDC discovery failed', { authenticator: this.name, url: this.url, problem, retry_in_ms: this.retryMs, have_previous: this.meta !== null });
      this.schedule(this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
      return this.meta;
    })().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.load(), ms);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
