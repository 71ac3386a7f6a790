// `type: mtls` config → a ready MtlsAuthenticator: allow lists split into
// exact sets and wildcard suffixes, fingerprints normalised, once at load.
import type { CompileContext } from '../../config/load.js';
import type { MtlsConfig } from '../../config/schema.js';
import { MtlsAuthenticator } from './authenticator.js';

export { MtlsAuthenticator } from './authenticator.js';

/** `AB:CD:…` or `abcd…` → `abcd…` (what the fingerprint claim holds). */
export function normalizeFingerprint(f: string): string {
  return f.replace(/:/g, '').toLowerCase();
}

export function compileMtls(name: string, cfg: MtlsConfig, at: string, ctx: CompileContext): MtlsAuthenticator {
  const allow = cfg.allow;
  const dns = allow?.san_dns;
  const listeners = ctx.plan.config.server.listen;
  if (!listeners.some((l) => l.tls?.client_ca !== undefined)) {
    ctx.issue(`${at}.type`, 'an mtls authenticator needs a listener that asks for client certificates: set server.listen[].tls.client_ca (and client_cert: optional to let routes decide)');
  }
  return new MtlsAuthenticator({
    name,
    consumerFrom: cfg.consumer_from,
    uriPrefixes: allow?.san_uri_prefix ?? null,
    dnsExact: dns ? new Set(dns.filter((d) => !d.startsWith('*.')).map((d) => d.toLowerCase())) : null,
    dnsSuffixes: (dns ?? []).filter((d) => d.startsWith('*.')).map((d) => d.slice(1).toLowerCase()),
    cns: allow?.subject_cn ? new Set(allow.subject_cn) : null,
    denied: new Set(cfg.deny_fingerprints.map(normalizeFingerprint)),
    forwardHeader: cfg.forward ? cfg.forward.header.toLowerCase() : '',
    forwardClaims: cfg.forward_claims,
    maxEntries: cfg.cache.max_entries,
  });
}
