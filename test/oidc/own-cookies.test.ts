// The gateway's own OIDC cookies never reach an upstream; every other cookie
// does, byte for byte.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cookieWithout, mergeOwnCookieNames, ownCookieNames, stripOwnCookies } from '../../src/lib/own-cookies.js';
import { makeCompileContext, validateConfig } from '../../src/config/load.js';
import { compileOidc } from '../../src/auth/oidc/index.js';
import { createWorkerPool } from '../../src/workers/pool.js';
import { findCookie } from '../../src/auth/cookie-header.js';

const S = '__Host-portcullis';
const NAMES = ownCookieNames([S, `${S}.1`, `${S}.2`], [{ prefix: `${S}-login-`, rest: 16 }]);
const without = (h: string) => cookieWithout(h, NAMES);

describe('cookieWithout', () => {
  it('returns the very same string when no gateway cookie is there', () => {
    for (const h of ['', 'a=1', 'a=1; b=2', `${S}x=1`, `x${S}=1`, `${S}.3=1`, `${S}-theme=dark`, `${S}-login-short=1`, `${S}-login-0123456789abcdef0=1`, 'nameless', `v=${S}=x`]) {
      expect(without(h)).toBe(h);
    }
  });

  it('removes the session cookie first, middle, last or alone, keeping the rest as sent', () => {
    expect(without(`${S}=abc; a=1; b=2`)).toBe('a=1; b=2');
    expect(without(`a=1; ${S}=abc; b=2`)).toBe('a=1; b=2');
    expect(without(`a=1; b=2; ${S}=abc`)).toBe('a=1; b=2');
    expect(without(`${S}=abc`)).toBe('');
    expect(without(`a=1;${S}=abc;b=2`)).toBe('a=1;b=2');
    expect(without(`a="q; r"; ${S}=abc`)).toBe('a="q; r"'); // ';' inside quotes splits pieces for every parser; both halves stay
  });

  it('does not mistake names that are prefixes or extensions of the session cookie', () => {
    expect(without(`${S}-theme=dark; ${S}=abc; ${S}x=1; x${S}=2; ${S}.9=3`)).toBe(`${S}-theme=dark; ${S}x=1; x${S}=2; ${S}.9=3`);
    expect(without(`__Host-portcul=1; ${S}=abc`)).toBe('__Host-portcul=1');
  });

  it('removes every chunk, every login-state cookie and every duplicate', () => {
    const h = `a=1; ${S}=c0; ${S}.1=c1; ${S}.2=c2; ${S}-login-AbC_-0123456789a=L; b=2; ${S}=dup; ${S}-login-zzzzzzzzzzzzzzzz=M`;
    expect(without(h)).toBe('a=1; b=2');
  });

  it('handles spaces, tabs, empty pieces, quoted values and nameless pieces', () => {
    expect(without(`  ${S}=abc ;  a=1`)).toBe('a=1');
    expect(without(`a=1; ${S} =abc; b=2`)).toBe('a=1; b=2'); // space before '=': still our name to a lenient parser
    expect(without(`a=1;\t${S}\t=abc`)).toBe('a=1');
    expect(without(`a=1; ; ${S}=abc;; b=2;`)).toBe('a=1; b=2');
    expect(without(`${S}="abc"; a="x y"`)).toBe('a="x y"');
    expect(without(`nameless; ${S}=abc; also`)).toBe('nameless; also');
    expect(without(`=novalue; ${S}=abc`)).toBe('=novalue');
    expect(without(`a=; ${S}=`)).toBe('a=');
    expect(without(`;;;${S}=abc;;;`)).toBe('');
  });

  it('keeps every other cookie byte for byte, and leaves none of ours (property)', () => {
    const name = fc.oneof(
      fc.constantFrom(S, `${S}.1`, `${S}.2`, `${S}-login-0123456789abcdef`, `${S}-theme`, `${S}x`, 'a', 'b', '_ga', ''),
      fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/),
    );
    const value = fc.stringMatching(/^[A-Za-z0-9_."=-]{0,10}$/);
    const piece = fc.tuple(fc.constantFrom('', ' ', '  ', '\t'), name, fc.boolean(), value).map(([sp, n, eq, v]) => `${sp}${n}${eq ? '=' : ''}${eq ? v : ''}`);
    fc.assert(fc.property(fc.array(piece, { maxLength: 8 }), fc.constantFrom(';', '; '), (pieces, sep) => {
      const h = pieces.join(sep);
      const out = without(h);
      const ours = (p: string) => {
        const eq = p.indexOf('=');
        return eq >= 0 && NAMES.exact.concat([`${S}-login-0123456789abcdef`]).includes(p.slice(0, eq).trim());
      };
      const kept = h.split(';').filter((p) => p.trim() !== '' && !ours(p)).map((p) => p.trim());
      if (!pieces.some((p) => ours(p))) expect(out).toBe(h);
      else expect(out.split(';').map((p) => p.trim()).filter((p) => p !== '')).toEqual(kept);
      for (const n of NAMES.exact) expect(findCookie(out, n)).toBeUndefined();
    }), { numRuns: 2000 });
  });
});

describe('stripOwnCookies on the header list sent upstream', () => {
  it('edits each cookie header, drops the emptied ones, leaves other headers alone', () => {
    const h = ['accept', 'text/html', 'cookie', `${S}=abc`, 'x-a', '1', 'cookie', `a=1; ${S}.1=c1`, 'cookie', 'b=2'];
    stripOwnCookies(h, NAMES);
    expect(h).toEqual(['accept', 'text/html', 'x-a', '1', 'cookie', 'a=1', 'cookie', 'b=2']);
    const same = ['cookie', 'a=1'];
    stripOwnCookies(same, NAMES);
    expect(same).toEqual(['cookie', 'a=1']);
    const untouched = ['cookie', `${S}=x`];
    stripOwnCookies(untouched, null);
    expect(untouched).toEqual(['cookie', `${S}=x`]);
  });

  it('merges the names of several authenticators', () => {
    const m = mergeOwnCookieNames([NAMES, ownCookieNames(['other']), NAMES]);
    expect(cookieWithout(`other=1; ${S}=2; keep=3`, m)).toBe('keep=3');
    expect(m.exact.filter((n) => n === S)).toHaveLength(1);
  });

  it('an OIDC authenticator names its session cookie, every chunk and its login-state cookies', async () => {
    const plan = validateConfig({
      upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
      authenticators: { sso: { type: 'oidc', issuer: 'http://127.0.0.1:1', client_id: 'c', public_url: 'https://app.test', session: { cookie: 'sess', secret: 's'.repeat(40) } } },
      routes: [{ name: 'app', match: { path_prefix: '/' }, authenticate: ['sso'], upstream: 'u' }],
    });
    const pool = createWorkerPool({ threads: 1, maxQueue: 1, inert: true });
    const a = compileOidc('sso', plan.config.authenticators.sso as never, 'authenticators.sso', makeCompileContext(plan, []), pool);
    try {
      const all = ['sess', ...Array.from({ length: 7 }, (_, i) => `sess.${i + 1}`), 'sess-login-AAAAAAAAAAAAAAAA'];
      expect(cookieWithout([...all.map((n) => `${n}=v`), 'app=1'].join('; '), a.cookieNames)).toBe('app=1');
    } finally {
      a.close();
      await pool.close();
    }
  });
});

describe('the compiled routes carry the gateway cookies to strip', () => {
  it('every route, OIDC or not, names every OIDC authenticator\'s cookies; none without OIDC', async () => {
    const { buildRuntime } = await import('../../src/server/build.js');
    const oidc = (cookie: string) => ({ type: 'oidc', issuer: 'http://127.0.0.1:1', client_id: 'c', public_url: 'https://app.test', session: { cookie, secret: 's'.repeat(40) } });
    const plan = validateConfig({
      upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
      authenticators: { a: oidc('sa'), b: oidc('sb'), k: { type: 'jwt', issuer: 'i', audience: ['x'], algorithms: ['HS256'], secret: 'k'.repeat(40) } },
      routes: [
        { name: 'one', match: { path_prefix: '/a' }, authenticate: ['a'], upstream: 'u' },
        { name: 'two', match: { path_prefix: '/b' }, authenticate: ['b'], upstream: 'u' },
        { name: 'api', match: { path_prefix: '/api' }, authenticate: ['k'], upstream: 'u' },
        { name: 'open', match: { path_prefix: '/' }, anonymous: true, upstream: 'u' },
      ],
    });
    const rt = await buildRuntime(plan, { threadSlot: 0, threads: 1, checkOnly: true });
    try {
      for (const r of rt.routes) {
        expect(r.ownCookies, r.name).not.toBeNull();
        expect(cookieWithout('sa=1; sb=2; sa.3=x; sb-login-AAAAAAAAAAAAAAAA=y; app=ok', r.ownCookies!), r.name).toBe('app=ok');
      }
    } finally {
      await rt.close();
    }
    const none = await buildRuntime(validateConfig({
      upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
      routes: [{ name: 'open', match: { path_prefix: '/' }, anonymous: true, upstream: 'u' }],
    }), { threadSlot: 0, threads: 1, checkOnly: true });
    expect(none.routes[0]!.ownCookies).toBeNull();
    await none.close();
  });
});
