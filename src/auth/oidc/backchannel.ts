// OIDC Back-Channel Logout 1.0 at `backchannel_logout_path`: the provider
// POSTs a logout token; it is verified on the worker pool (workers/tasks/oidc.ts
// logoutToken: keys, iss/aud, age, event, sid/sub, jti, no nonce), a replay is
// refused (in this process and, with a cluster, in Redis), and the sessions it
// names are revoked (session-revocation.ts).
import type { DirectResponse } from '../../contracts.js';
import type { OidcConfig } from '../../config/schema.js';
import { log } from '../../observe/log.js';
import { ExpiringCache } from '../../workers/expiring-cache.js';
import type { WorkerPool } from '../../workers/pool.js';
import type { LogoutTokenInput, LogoutTokenResult } from '../../workers/tasks/oidc.js';
import type { Discovery } from './discovery.js';
import type { SessionRevocation } from './session-revocation.js';

const HEADERS = Object.freeze(['content-type', 'application/json', 'cache-control', 'no-store']);
/** Largest logout POST read (a logout token is a few hundred bytes). */
export const BACKCHANNEL_MAX_BODY = 16_384;
const MAX_TOKEN = 8192;

/** The answer for the provider: 200 with no body, or an OAuth-style error (§2.8). */
export function backchannelAnswer(status: number, error?: string, description?: string): DirectResponse {
  return Object.freeze({ status, headers: HEADERS, body: error === undefined ? '' : JSON.stringify({ error, error_description: description }) });
}

export interface Backchannel {
  /** The body of a POST to backchannel_logout_path and its content type → the answer. */
  logout(body: string, contentType: string): Promise<DirectResponse>;
}

export function compileBackchannel(
  name: string, cfg: OidcConfig, discovery: Discovery, pool: WorkerPool, revocation: SessionRevocation, leewaySec: number,
): Backchannel {
  /** Logout token ids already acted on in this process (§2.6 step 8). */
  const used = new ExpiringCache<object>(100_000);
  const refuse = (kind: string, detail: string) => log.warn('OIDC back-channel logout refused', { authenticator: name, kind, detail });

  return {
    logout(body, contentType) {
      if (!/^application\/x-www-form-urlencoded\b/i.test(contentType)) return Promise.resolve(backchannelAnswer(400, 'invalid_request', 'expected an application/x-www-form-urlencoded body'));
      const token = body.length <= BACKCHANNEL_MAX_BODY ? new URLSearchParams(body).get('logout_token') : null;
      if (token === null || token === '' || token.length > MAX_TOKEN) return Promise.resolve(backchannelAnswer(400, 'invalid_request', 'no logout_token'));
      return discovery.get().then(async (meta) => {
        if (meta === null) return backchannelAnswer(503, 'temporarily_unavailable', 'the provider metadata could not be loaded');
        const input: LogoutTokenInput = { token, jwksUri: meta.jwksUri, issuer: meta.issuer, clientId: cfg.client_id, algorithms: meta.algorithms, leewaySec };
        const r = await pool.run<LogoutTokenResult>('oidc#logoutToken', input, cfg.timeout).catch((e: unknown): LogoutTokenResult => ({
          ok: false, kind: 'unavailable', detail: e instanceof Error ? e.message : String(e),
        }));
        if (!r.ok) {
          refuse(r.kind, r.detail);
          return r.kind === 'unavailable' ? backchannelAnswer(503, 'temporarily_unavailable', 'the provider keys could not be loaded') : backchannelAnswer(400, 'invalid_request', 'the logout token is not valid');
        }
        const now = Date.now();
        const until = Math.max(r.exp * 1000, now) + leewaySec * 1000;
        // A replay matters: a sub-only token replayed later would end sessions begun after the real logout.
        // Here always (marked before any await, so two copies at once cannot both pass); cluster-wide when Redis answers.
        const seenHere = used.get(r.jti, now) !== undefined;
        used.set(r.jti, {}, until);
        if (seenHere || (await revocation.claimOnce(`${cfg.issuer}\t${r.jti}`, until - now)) === false) {
          refuse('replayed', 'logout token jti already used');
          return backchannelAnswer(400, 'invalid_request', 'the logout token was already used');
        }
        if (r.sid !== null) revocation.revokeProvider('sid', r.sid);
        else revocation.revokeProvider('sub', r.sub!);
        log.info('OIDC back-channel logout', { authenticator: name, by: r.sid !== null ? 'sid' : 'sub' });
        return backchannelAnswer(200);
      });
    },
  };
}
