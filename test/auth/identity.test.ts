// Identities are built once: scopes and upstream headers computed at
// verification time, unsafe header values dropped.
import { describe, expect, it } from 'vitest';
import { makeIdentity, claimValue } from '../../src/auth/identity.js';
import { compileTokenSource } from '../../src/auth/extract.js';
import { TestView } from './helpers.js';

describe('makeIdentity', () => {
  it('collects scopes from scope (space-separated) and scp (array or string)', () => {
    expect([...makeIdentity('a', 'c', { scope: 'a  b', scp: ['c', 'a', 7] }, {}, 0).scopes]).toEqual(['a', 'b', 'c']);
    expect([...makeIdentity('a', 'c', { scp: 'x y' }, {}, 0).scopes]).toEqual(['x', 'y']);
    expect(makeIdentity('a', 'c', {}, {}, 0).scopes.size).toBe(0);
  });

  it('flattens forward_claims into [header, value…], lower-casing header names', () => {
    const id = makeIdentity('a', 'c', {
      sub: 'u1', n: 42, ok: true, groups: ['x', 'y'], org: { id: 3 }, realm_access: { roles: ['admin', 'ops'] },
    }, { sub: 'X-User', n: 'x-n', ok: 'x-ok', groups: 'x-groups', org: 'x-org', 'realm_access.roles': 'x-roles', missing: 'x-missing' }, 0);
    expect(id.forwardHeaders).toEqual([
      'x-user', 'u1', 'x-n', '42', 'x-ok', 'true', 'x-groups', 'x,y', 'x-org', '{"id":3}', 'x-roles', 'admin,ops',
    ]);
  });

  it('keeps claim values as text, controls included: the upstream head gate refuses them, a claim is never silently dropped', () => {
    const id = makeIdentity('a', 'c', { a: 'ok\r\nx-admin: 1', b: 'nul\u0000', c: ['fine', 'bad\n'], d: 'tab\tok' }, { a: 'x-a', b: 'x-b', c: 'x-c', d: 'x-d' }, 0);
    expect(id.forwardHeaders).toEqual(['x-a', 'ok\r\nx-admin: 1', 'x-b', 'nul\u0000', 'x-c', 'fine,bad\n', 'x-d', 'tab\tok']);
  });

  it('keeps non-ASCII claim text as text (the gate writes it as UTF-8 bytes)', () => {
    const id = makeIdentity('a', 'c', { name: 'Zoë' }, { name: 'x-name' }, 0);
    expect(id.forwardHeaders[1]).toBe('Zoë');
  });

  it('is frozen', () => {
    const id = makeIdentity('a', 'c', { sub: 'u' }, {}, 5);
    expect(Object.isFrozen(id)).toBe(true);
    expect(Object.isFrozen(id.claims)).toBe(true);
  });

  it('reads a dotted claim path only when no claim has the literal name', () => {
    expect(claimValue({ 'a.b': 1, a: { b: 2 } }, 'a.b')).toBe(1);
    expect(claimValue({ a: { b: 2 } }, 'a.b')).toBe(2);
    expect(claimValue({ a: { b: 2 } }, 'a.c')).toBeUndefined();
    expect(claimValue({}, 'constructor')).toBeUndefined();
  });
});

describe('token sources', () => {
  it('defaults to Authorization: Bearer, scheme matched case-insensitively', () => {
    const x = compileTokenSource(undefined);
    expect(x.extract(new TestView({ headers: { authorization: 'Bearer abc' } }))).toBe('abc');
    expect(x.extract(new TestView({ headers: { authorization: 'BEARER   abc' } }))).toBe('abc');
    expect(x.extract(new TestView({ headers: { authorization: 'Bearer' } }))).toBe('');
    expect(x.extract(new TestView({ headers: { authorization: 'Bearerabc' } }))).toBeUndefined();
    expect(x.extract(new TestView({ headers: { authorization: 'Basic abc' } }))).toBeUndefined();
    expect(x.extract(new TestView())).toBeUndefined();
  });
  it('uses Bearer for the authorization header when no scheme is given', () => {
    expect(compileTokenSource({ header: 'Authorization' }).extract(new TestView({ headers: { authorization: 'Bearer t' } }))).toBe('t');
  });
  it('takes the whole value of another header without a scheme', () => {
    const x = compileTokenSource({ header: 'X-Token' });
    expect(x.extract(new TestView({ headers: { 'x-token': 'Bearer t' } }))).toBe('Bearer t');
    expect(x.extract(new TestView())).toBeUndefined();
  });
  it('honours a custom scheme', () => {
    const x = compileTokenSource({ header: 'authorization', scheme: 'DPoP' });
    expect(x.extract(new TestView({ headers: { authorization: 'dpop t' } }))).toBe('t');
    expect(x.extract(new TestView({ headers: { authorization: 'Bearer t' } }))).toBeUndefined();
  });
  it('reads a cookie or a query parameter; empty means absent', () => {
    expect(compileTokenSource({ cookie: 'at' }).extract(new TestView({ cookies: { at: 't' } }))).toBe('t');
    expect(compileTokenSource({ cookie: 'at' }).extract(new TestView({ cookies: { at: '' } }))).toBeUndefined();
    expect(compileTokenSource({ query: 'access_token' }).extract(new TestView({ query: { access_token: 't' } }))).toBe('t');
    expect(compileTokenSource({ query: 'access_token' }).extract(new TestView())).toBeUndefined();
  });
});
