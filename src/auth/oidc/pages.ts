// The few pages the OIDC authenticator answers itself: short, escaped, never
// cached, never carrying tokens or provider internals beyond an error code.
import type { DirectResponse } from '../../contracts.js';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function page(status: number, title: string, message: string, extraHeaders: readonly string[] = []): DirectResponse {
  const body = `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${esc(title)}</title></head>` +
    `<body style="font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em"><h1>${esc(title)}</h1><p>${esc(message)}</p>` +
    `<p><a href="/">Start again</a></p></body></html>\n`;
  return Object.freeze({
    status,
    headers: Object.freeze(['content-type', 'text/html; charset=utf-8', 'cache-control', 'no-store', 'x-content-type-options', 'nosniff', ...extraHeaders]),
    body,
  });
}

export function redirect(status: number, location: string, setCookies: readonly string[]): DirectResponse {
  const headers = ['location', location, 'cache-control', 'no-store'];
  for (const c of setCookies) headers.push('set-cookie', c);
  return Object.freeze({ status, headers: Object.freeze(headers), body: '' });
}
