// routes[].websocket compiled: the Origin rule (listed origins, same-origin by
// default, no Origin = not a browser) and the refusals before authentication.
import { describe, expect, it } from 'vitest';
import type { CompileContext } from '../../src/config/load.js';
import { R } from '../../src/reasons.js';
import { compileWebSocketRoute } from '../../src/websocket/route.js';
import { upgradeRefusal } from '../../src/websocket/upgrade.js';

function compile(cfg: { allow_origins?: string[]; max_message?: number; idle_timeout?: number }) {
  const issues: { path: string; message: string }[] = [];
  const ctx = { issue: (path: string, message: string) => issues.push({ path, message }) } as unknown as CompileContext;
  const ws = compileWebSocketRoute({ max_message: 65536, idle_timeout: 60_000, close_on_expiry: true, ...cfg }, 'routes[0].websocket', ctx);
  return { ws, issues };
}

describe('routes[].websocket', () => {
  it('with allow_origins: listed origins and one-label wildcards only; no Origin passes', () => {
    const { ws, issues } = compile({ allow_origins: ['https://app.example.com', 'https://*.example.org'] });
    expect(issues).toEqual([]);
    expect(ws.originAllowed('https://app.example.com', 'gw.example.com')).toBe(true);
    expect(ws.originAllowed('https://a-1.example.org', 'gw.example.com')).toBe(true);
    expect(ws.originAllowed('', 'gw.example.com')).toBe(true);
    for (const o of ['https://evil.example.com', 'http://app.example.com', 'https://app.example.com.evil.test', 'https://a.b.example.org',
      'https://-a.example.org', 'https://.example.org', 'null', 'https://gw.example.com']) {
      expect(ws.originAllowed(o, 'gw.example.com'), o).toBe(false);
    }
  });

  it('without allow_origins: only the gateway\'s own origin (Origin host equal to Host, any case)', () => {
    const { ws } = compile({});
    expect(ws.originAllowed('https://gw.example.com', 'gw.example.com')).toBe(true);
    expect(ws.originAllowed('http://GW.example.com:8080', 'gw.example.com:8080')).toBe(true);
    expect(ws.originAllowed('', 'gw.example.com')).toBe(true);
    expect(ws.originAllowed('https://gw.example.com:8443', 'gw.example.com')).toBe(false);
    expect(ws.originAllowed('https://app.example.com', 'gw.example.com')).toBe(false);
    expect(ws.originAllowed('null', 'gw.example.com')).toBe(false);
    expect(ws.originAllowed('https://gw.example.com', '')).toBe(false);
  });

  it('names a bad origin or limit by its field path', () => {
    const { issues } = compile({ allow_origins: ['app.example.com'], idle_timeout: 10, max_message: 0 });
    expect(issues.map((i) => i.path)).toEqual(['routes[0].websocket.allow_origins[0]', 'routes[0].websocket.max_message', 'routes[0].websocket.idle_timeout']);
  });

  it('refuses an upgrade to a route without websocket (426), with a body or another version (400), from a refused Origin (403)', () => {
    const { ws } = compile({ allow_origins: ['https://app.example.com'] });
    expect(upgradeRefusal(null, '13', '', 'gw', false)).toBe(R.websocket_not_allowed);
    expect(upgradeRefusal(ws, '13', '', 'gw', true)).toBe(R.bad_request);
    expect(upgradeRefusal(ws, '8', '', 'gw', false)).toBe(R.bad_request);
    expect(upgradeRefusal(ws, '13', 'https://evil.example.com', 'gw', false)).toBe(R.websocket_origin_denied);
    expect(upgradeRefusal(ws, '13', 'https://app.example.com', 'gw', false)).toBe(0);
  });
});
