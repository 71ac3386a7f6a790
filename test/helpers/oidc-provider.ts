// The real `oidc-provider` (9.x) on 127.0.0.1, with a client registered for
// the gateway and its development login/consent interactions, which a test
// drives with plain form posts through a cookie jar.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import Provider from 'oidc-provider';
import { exportJWK, generateKeyPair, type CryptoKey } from 'jose';

export interface ProviderOptions {
  /** The gateway's redirect URIs (callback_path on its public URL). */
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  clientId?: string;
  clientSecret?: string;
  /** Issue refresh tokens to the gateway client (default true). */
  refreshTokens?: boolean;
  /** ID token / access token lifetime, seconds. */
  idTokenTtl?: number;
  accessTokenTtl?: number;
  /**
   * Enables OIDC Back-Channel Logout 1.0: the provider POSTs logout tokens
   * here. The provider then signs with a key the test can use too
   * (`signingKey`), to forge well-signed hostile tokens.
   */
  backchannelLogoutUri?: string;
  /** Sees every request before the provider does (its method, URL and headers). */
  onRequest?: (req: http.IncomingMessage) => void;
}

export interface OidcProvider {
  readonly issuer: string;
  readonly port: number;
  readonly provider: Provider;
  readonly clientId: string;
  readonly clientSecret: string;
  /** A confidential client allowed client_credentials (to mint opaque access tokens) and introspection. */
  readonly apiClient: { id: string; secret: string };
  /** The provider's signing key, when backchannelLogoutUri is set. */
  readonly signingKey: { readonly privateKey: CryptoKey; readonly kid: string } | null;
  /** An opaque access token from the client_credentials grant. */
  clientCredentialsToken(scope?: string): Promise<string>;
  /** Stops listening (the provider is "down") but keeps state; start() brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startOidcProvider(opts: ProviderOptions): Promise<OidcProvider> {
  const sockets = new Set<Socket>();
  let handler: http.RequestListener = (_q, s) => { s.statusCode = 503; s.end(); };
  const server = http.createServer((q, s) => { opts.onRequest?.(q); handler(q, s); });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = opts.clientId ?? 'portcullis';
  const clientSecret = opts.clientSecret ?? 'gateway-client-secret-0123456789';
  const apiClient = { id: 'api-client', secret: 'api-client-secret-0123456789' };
  const refresh = opts.refreshTokens ?? true;
  let signingKey: OidcProvider['signingKey'] = null;
  let jwks: { keys: Record<string, unknown>[] } | undefined;
  if (opts.backchannelLogoutUri !== undefined) {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    signingKey = { privateKey, kid: 'test-signing-key' };
    jwks = { keys: [{ ...(await exportJWK(privateKey)), kid: signingKey.kid, alg: 'RS256', use: 'sig' }] };
  }

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: opts.redirectUris,
        post_logout_redirect_uris: opts.postLogoutRedirectUris ?? [],
        grant_types: refresh ? ['authorization_code', 'refresh_token'] : ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        ...(opts.backchannelLogoutUri !== undefined ? { backchannel_logout_uri: opts.backchannelLogoutUri, backchannel_logout_session_required: true } : {}),
      },
      {
        client_id: apiClient.id,
        client_secret: apiClient.secret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: 'api:read api:write',
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    scopes: ['openid', 'offline_access', 'email', 'profile', 'api:read', 'api:write'],
    claims: { email: ['email', 'email_verified'], profile: ['name'] },
    features: {
      devInteractions: { enabled: true },
      introspection: { enabled: true },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      ...(opts.backchannelLogoutUri !== undefined ? { backchannelLogout: { enabled: true } } : {}),
    },
    ...(jwks !== undefined ? { jwks } : {}),
    // The provider refuses to call special-use addresses (SSRF protection); the tests' gateway is on 127.0.0.1.
    ...(opts.backchannelLogoutUri !== undefined ? { fetch: (url: string | URL, o: RequestInit & { dispatcher?: unknown }) => globalThis.fetch(url, { ...o, dispatcher: undefined } as RequestInit) } : {}),
    cookies: { keys: ['test-only-cookie-signing-key-0123456789'] },
    ttl: {
      AccessToken: opts.accessTokenTtl ?? 3600,
      ClientCredentials: opts.accessTokenTtl ?? 3600,
      IdToken: opts.idTokenTtl ?? 3600,
      AuthorizationCode: 60,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
      RefreshToken: 3600,
    },
    // The dev login accepts any name: the account is whoever typed it.
    findAccount: (_ctx, sub) => ({
      accountId: sub,
      claims: () => ({ sub, email: `${sub}@example.test`, email_verified: true, name: `User ${sub}` }),
    }),
    issueRefreshToken: async (_ctx, client) => refresh && client.grantTypeAllowed('refresh_token'),
    // Tests talk plain HTTP on 127.0.0.1.
    renderError: async (ctx, out) => { ctx.type = 'json'; ctx.body = out; },
  });
  const callback = provider.callback();
  handler = callback;

  const h: OidcProvider = {
    issuer,
    port,
    provider,
    clientId,
    clientSecret,
    apiClient,
    signingKey,
    async clientCredentialsToken(scope = 'api:read') {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${apiClient.id}:${apiClient.secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
      });
      const j = (await res.json()) as { access_token?: string };
      if (!j.access_token) throw new Error(`no access token: ${JSON.stringify(j)}`);
      return j.access_token;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
    async start() {
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    },
    async close() {
      if (server.listening) await h.stop();
    },
  };
  return h;
}

/** A minimal cookie jar: one host, names to values, honouring Max-Age=0 and past Expires. */
export class CookieJar {
  readonly cookies = new Map<string, string>();

  store(setCookies: string[]): void {
    for (const sc of setCookies) {
      const [pair, ...attrs] = sc.split(';');
      const eq = pair!.indexOf('=');
      if (eq <= 0) continue;
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const gone = attrs.some((a) => {
        const [k, v] = a.trim().split('=');
        const key = k!.toLowerCase();
        return (key === 'max-age' && Number(v) <= 0) || (key === 'expires' && Date.parse(v ?? '') < Date.now());
      });
      if (gone) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/**
 * Drives the provider from an authorization URL to the redirect back to the
 * client: follows redirects, signs in as `login` and consents with form posts.
 * Returns the final redirect URL (the client's callback, with code and state).
 */
export async function loginAtProvider(authorizeUrl: string, login: string, jar = new CookieJar()): Promise<URL> {
  let url = authorizeUrl;
  let method = 'GET';
  let body: string | undefined;
  const origin = new URL(authorizeUrl).origin;
  for (let i = 0; i < 20; i++) {
    const res = await fetch(url, {
      method,
      redirect: 'manual',
      headers: { cookie: jar.header(), ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      body,
    });
    jar.store(res.headers.getSetCookie());
    if (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.get('location')!, url);
      await res.arrayBuffer();
      if (next.origin !== origin) return next;
      url = next.href;
      method = 'GET';
      body = undefined;
      continue;
    }
    const html = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt = /name="prompt" value="([a-z]+)"/.exec(html)?.[1];
    if (res.status !== 200 || !action || !prompt) throw new Error(`unexpected page from the provider (${res.status}): ${html.slice(0, 300)}`);
    url = new URL(action.replace(/&amp;/g, '&'), url).href;
    method = 'POST';
    body = prompt === 'login' ? new URLSearchParams({ prompt, login, password: 'any' }).toString() : new URLSearchParams({ prompt }).toString();
  }
  throw new Error('login did not finish in 20 steps');
}

/**
 * Signs out at the provider as the browser whose provider cookies are in
 * `opJar` (its confirmation form, then the POST). The provider then posts a
 * logout token to every client with a backchannel_logout_uri.
 */
export async function signOutAtProvider(op: Pick<OidcProvider, 'issuer' | 'clientId'>, opJar: CookieJar): Promise<void> {
  const page = await fetch(`${op.issuer}/session/end?client_id=${op.clientId}`, { headers: { cookie: opJar.header() } });
  opJar.store(page.headers.getSetCookie());
  const html = await page.text();
  const action = /<form id="op.logoutForm" method="post" action="([^"]+)"/.exec(html)?.[1];
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
  if (!action || !xsrf) throw new Error(`no logout form from the provider: ${html.slice(0, 300)}`);
  const r = await fetch(new URL(action, op.issuer), {
    method: 'POST', redirect: 'manual',
    headers: { cookie: opJar.header(), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ xsrf, logout: 'yes' }).toString(),
  });
  await r.arrayBuffer();
}
