// `authenticate: [a, b, …]` on a route: each authenticator in order; the
// first that finds its credential decides — accepted, or refused by that one.
// A credential that is present but invalid is never treated as missing (Envoy
// CVE-2021-21378): only AUTH_ABSENT moves on to the next authenticator. When
// none finds a credential, the answer is 401 no_credentials with every
// authenticator's challenge.
//
// The query parameters the route's authenticators read are singletons,
// checked before any of them runs (whichever ends up deciding): a repeat, in
// any spelling, is 400 duplicate_credential and never reaches an upstream.
import { AUTH_ABSENT, AUTH_OK, AUTH_REJECT, type AuthResult, type Authenticator, type BodyEndpoint, type Identity, type RequestView } from '../contracts.js';
import { R, REASONS } from '../reasons.js';
import { QuerySingletons } from './query-credential.js';

/** Optional: lets the chain tell, from the request alone, which authenticator decided. */
export interface CredentialProbe {
  hasCredential?(view: RequestView): boolean;
  /** The query parameter the credential is read from, when it is one ('' or absent otherwise). */
  readonly queryCredential?: string;
}

/**
 * Optional on the pipeline's view: a copy that outlives the synchronous part.
 * Needed only to go on to the next authenticator after one answered
 * AUTH_ABSENT asynchronously; without it the chain fails closed (no_credentials).
 */
export interface DetachableView {
  detachView?(): RequestView;
}

const NO_CREDENTIALS: AuthResult = Object.freeze({ outcome: AUTH_REJECT, identity: null, reason: R.no_credentials });

export class AuthChain {
  private readonly all: readonly string[];
  /** [authenticator][reason] → its WWW-Authenticate values for that reason, built once. */
  private readonly byReason: readonly (readonly (readonly string[])[])[];
  /** Index of the authenticator that decided the last synchronous run (-1: none). */
  private lastDecider = -1;
  /** The credential query parameters of this chain (null: none reads the query). */
  private readonly querySingletons: QuerySingletons | null;
  /** WWW-Authenticate values for duplicate_credential: those of the authenticators that read the query. */
  private readonly duplicate: readonly string[];
  /** POST endpoints the chain's authenticators answer from the body, by path (null: none). */
  readonly endpoints: ReadonlyMap<string, BodyEndpoint> | null;

  constructor(private readonly list: readonly (Authenticator & CredentialProbe)[]) {
    const one = (s: string): readonly string[] => Object.freeze(s === '' ? [] : [s]);
    this.all = Object.freeze(list.map((a) => a.challenge).filter((c) => c !== ''));
    this.byReason = list.map((a) => REASONS.map((_, r) => one(a.challengeFor(r))));
    const fromQuery = list.filter((a) => a.queryCredential !== undefined && a.queryCredential !== '');
    this.querySingletons = fromQuery.length > 0 ? new QuerySingletons(fromQuery.map((a) => a.queryCredential!)) : null;
    this.duplicate = Object.freeze(fromQuery.map((a) => a.challengeFor(R.duplicate_credential)).filter((c) => c !== ''));
    const eps = list.flatMap((a) => (a.bodyEndpoint !== undefined ? [a.bodyEndpoint] : []));
    this.endpoints = eps.length > 0 ? new Map(eps.map((e) => [e.path, e])) : null;
  }

  /** AUTH_OK (view.identity set), AUTH_REJECT (view.reason set), AUTH_RESPOND, or a Promise when one had to wait. */
  run(view: RequestView): number | Promise<AuthResult> {
    const qs = this.querySingletons;
    if (qs !== null && qs.repeated(view.query)) {
      this.lastDecider = -1;
      view.reason = R.duplicate_credential;
      return AUTH_REJECT;
    }
    const list = this.list;
    for (let i = 0; i < list.length; i++) {
      const r = list[i]!.authenticate(view);
      if (r === AUTH_ABSENT) continue;
      this.lastDecider = i;
      if (typeof r === 'number') return r;
      return this.continueFrom(i, r, i + 1 < list.length ? detach(view) : null);
    }
    this.lastDecider = -1;
    view.reason = R.no_credentials;
    return AUTH_REJECT;
  }

  /**
   * WWW-Authenticate values for a 401: every challenge when no credential was
   * found, else the deciding authenticator's answer for `reason`. The decider
   * is found from the request (hasCredential); for authenticators without that
   * probe, from the last synchronous run — call it right after run() then.
   */
  challenges(view: RequestView, reason: number): readonly string[] {
    if (reason === R.no_credentials || reason === R.ok) return this.all;
    if (reason === R.duplicate_credential) return this.duplicate;
    const d = this.decider(view);
    if (d < 0) return this.all;
    return this.byReason[d]![reason] ?? this.all;
  }

  /** Stop every authenticator's timers and sockets. */
  close(): void {
    for (const a of this.list) a.close?.();
  }

  private decider(view: RequestView): number {
    const list = this.list;
    for (let i = 0; i < list.length; i++) {
      const a = list[i]!;
      if (a.hasCredential === undefined) return this.lastDecider;
      if (a.hasCredential(view)) return i;
    }
    return -1;
  }

  private async continueFrom(i: number, pending: Promise<AuthResult>, view: RequestView | null): Promise<AuthResult> {
    const list = this.list;
    let r = await pending;
    while (r.outcome === AUTH_ABSENT) {
      if (view === null) return NO_CREDENTIALS;
      let next: number | Promise<AuthResult> = AUTH_ABSENT;
      for (i = i + 1; i < list.length; i++) {
        next = list[i]!.authenticate(view);
        if (next !== AUTH_ABSENT) break;
      }
      if (i >= list.length) return NO_CREDENTIALS;
      if (typeof next === 'number') return settled(next, view.identity, view.reason);
      r = await next;
    }
    return r;
  }
}

function settled(outcome: number, identity: Identity | null, reason: number): AuthResult {
  return outcome === AUTH_OK ? { outcome, identity, reason: R.ok } : { outcome, identity: null, reason };
}

function detach(view: RequestView): RequestView | null {
  const d = (view as RequestView & DetachableView).detachView;
  return typeof d === 'function' ? d.call(view) : null;
}

export function compileChain(list: readonly Authenticator[]): AuthChain {
  return new AuthChain(list);
}
