// Drives the OIDC authenticator the way the gateway pipeline does: builds a
// RequestView per browser request, follows its redirects through the real
// provider with cookie jars, and reads the DirectResponse it answers.
import { expect } from 'vitest';
import { AUTH_RESPOND, type AuthResult, type Authenticator, type DirectResponse } from '../../src/contracts.js';
import { CookieJar, loginAtProvider } from '../helpers/oidc-provider.js';
import { makeView, type ViewInit } from '../helpers/request-view-builder.js';

export const BROWSER = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8', 'sec-fetch-mode': 'navigate', host: 'app.test' };

export function headerOf(r: DirectResponse, name: string): string | undefined {
  for (let i = 0; i < r.headers.length; i += 2) if (r.headers[i] === name) return r.headers[i + 1];
  return undefined;
}

export function setCookiesOf(r: DirectResponse): string[] {
  const out: string[] = [];
  for (let i = 0; i < r.headers.length; i += 2) if (r.headers[i] === 'set-cookie') out.push(r.headers[i + 1]!);
  return out;
}

/** A browser request to the gateway with the jar's cookies. */
export function browserView(jar: CookieJar, url: string, extra: ViewInit = {}) {
  const u = new URL(url, 'https://app.test');
  return makeView({ method: 'GET', path: u.pathname, query: u.search.slice(1), ...extra, headers: { ...BROWSER, cookie: jar.header(), ...(extra.headers ?? {}) } });
}

/** Calls authenticate() and expects it to answer itself (AUTH_RESPOND); stores its cookies in the jar. */
export async function expectRespond(a: Authenticator, view: ReturnType<typeof makeView>, jar?: CookieJar): Promise<{ result: AuthResult; response: DirectResponse }> {
  const r = a.authenticate(view);
  expect(r).toBeInstanceOf(Promise);
  const result = await (r as Promise<AuthResult>);
  expect(result.outcome).toBe(AUTH_RESPOND);
  expect(result.identity).toBeNull();
  const response = result.response!;
  if (jar) jar.store(setCookiesOf(response));
  return { result, response };
}

/** From an unauthenticated browser request to the provider's redirect back to the callback. */
export async function loginUpToCallback(a: Authenticator, jar: CookieJar, path: string, user = 'alice'): Promise<URL> {
  const start = await expectRespond(a, browserView(jar, path), jar);
  expect(start.response.status).toBe(302);
  return loginAtProvider(headerOf(start.response, 'location')!, user);
}

/** A whole login; returns the callback's response (302 back to `path` with the session cookie). */
export async function fullLogin(a: Authenticator, jar: CookieJar, path: string, user = 'alice') {
  const cb = await loginUpToCallback(a, jar, path, user);
  return expectRespond(a, browserView(jar, cb.pathname + cb.search), jar);
}
