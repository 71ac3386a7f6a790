// `type: jwt` config → a ready JwtAuthenticator. Every problem with the key
// material is reported through ctx.issue with the field path and a fix.
import { readFileSync } from 'node:fs';
import type { CompileContext } from '../../config/load.js';
import type { JwtConfig } from '../../config/schema.js';
import { log } from '../../observe/log.js';
import { compileTokenSource } from '../extract.js';
import { JwtAuthenticator } from './authenticator.js';
import { bearerChallenges } from './challenge.js';
import { compileClaimRules } from './claims.js';
import { KeyStore } from './key-store.js';
import { importJwk, importJwks, importPem, importSecret, type KeyEntry } from './keys.js';
import { JWKS_MAX_BYTES } from './jwks-fetch.js';
import { TokenCache } from './token-cache.js';
import { ALG_SPECS } from './verifier.js';

export { JwtAuthenticator } from './authenticator.js';

/** Knobs that are not config: tests move the clock and shorten the refetch interval. */
export interface JwtRuntimeOptions {
  /** Clock, epoch milliseconds. Default Date.now. */
  readonly now?: () => number;
  /** Least time between two unknown-kid JWKS refetches. Default 10 s. */
  readonly minRefetchMs?: number;
  /** Largest JWKS body accepted. Default 1 MiB. */
  readonly maxJwksBytes?: number;
}

export const MIN_REFETCH_MS = 10_000;

export function compileJwt(name: string, cfg: JwtConfig, at: string, ctx: CompileContext, opts: JwtRuntimeOptions = {}): JwtAuthenticator {
  let broken = false;
  const issue = (path: string, msg: string) => {
    broken = true;
    ctx.issue(path, msg);
  };
  const allowed = cfg.algorithms.filter((a) => ALG_SPECS[a] !== undefined);
  const hs = allowed.filter((a) => a.startsWith('HS'));
  const staticKeys: KeyEntry[] = [];

  cfg.keys?.forEach((k, i) => {
    const e = typeof k === 'string' ? importPem(k, allowed) : importJwk(k, allowed);
    if (typeof e === 'string') issue(`${at}.keys[${i}]`, `${e}; give a PEM public key or a public JWK whose type fits algorithms`);
    else staticKeys.push(e);
  });

  if (cfg.jwks_file !== undefined) {
    const file = ctx.resolvePath(cfg.jwks_file);
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      issue(`${at}.jwks_file`, err.code ? `cannot read ${file}: ${err.code}` : `${file} is not valid JSON: ${err.message}`);
    }
    if (doc !== undefined) {
      const r = importJwks(doc, allowed);
      if (typeof r === 'string') issue(`${at}.jwks_file`, `${file}: ${r}`);
      else {
        for (const s of r.skipped) log.warn('jwks_file key skipped', { authenticator: name, file, problem: s });
        if (r.entries.length === 0) issue(`${at}.jwks_file`, `${file} has no key usable with [${allowed.join(', ')}]${r.skipped.length ? `: ${r.skipped.join('; ')}` : ''}`);
        staticKeys.push(...r.entries);
      }
    }
  }

  const secret = ctx.secret(cfg, 'secret', at, false);
  if (secret !== undefined) {
    if (hs.length === 0) issue(`${at}.secret`, 'a shared secret is only used with HS256/HS384/HS512; add one to algorithms or remove the secret');
    else {
      const e = importSecret(secret, hs);
      if (typeof e === 'string') issue(`${at}.secret`, `${e}; use a random secret of at least 64 bytes, e.g. \`openssl rand -base64 64\``);
      else staticKeys.push(e);
    }
  }

  if (hs.length > 0 && !staticKeys.some((k) => hs.some((a) => k.verifiers.has(a))) && cfg.jwks_uri === undefined && !broken) {
    issue(`${at}.algorithms`, `${hs.join(', ')} needs a shared secret: set secret, secret_file or secret_env`);
  }
  if (cfg.jwks_uri !== undefined && /^http:/i.test(cfg.jwks_uri) && !/^http:\/\/(127\.|localhost[:/]|\[::1\])/i.test(cfg.jwks_uri)) {
    log.warn('jwks_uri is plain http: anyone on the path can swap the keys; use https', { authenticator: name, jwks_uri: cfg.jwks_uri });
  }

  const now = opts.now ?? Date.now;
  const minRefetchMs = opts.minRefetchMs ?? MIN_REFETCH_MS;
  const cache = new TokenCache(cfg.cache.max_entries, now);
  const store = new KeyStore({
    name,
    allowed,
    staticKeys,
    // A config with problems is never served: do not contact the IdP for it.
    jwksUri: broken ? undefined : cfg.jwks_uri,
    refreshMs: cfg.jwks_refresh,
    timeoutMs: cfg.jwks_timeout,
    maxBytes: opts.maxJwksBytes ?? JWKS_MAX_BYTES,
    minRefetchMs,
    now,
    onChange: (removed) => cache.clear(removed),
  });
  const { challenge, byReason } = bearerChallenges(name);
  return new JwtAuthenticator({
    name,
    extractor: compileTokenSource(cfg.from),
    maxTokenBytes: cfg.max_token_bytes ?? ctx.plan.config.server.limits.max_token_bytes,
    allowed: new Set(allowed),
    store,
    cache,
    rules: compileClaimRules(cfg.issuer, cfg.audience, cfg.leeway, cfg.required_claims, cfg.consumer_claim),
    forwardClaims: cfg.forward_claims,
    now,
    minRefetchMs,
    challenge,
    challenges: byReason,
  });
}
