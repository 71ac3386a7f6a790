// The per-request face of a `type: mtls` authenticator: the identity of the
// client certificate the listener's handshake verified (view.clientCert).
// Hit path: the certificate's cached verdict (no parsing, no allocation in
// our code). Miss path: parse once, apply deny_fingerprints and allow, build
// the identity (claims, forward_claims, x-forwarded-client-cert), cache it.
// No certificate is AUTH_ABSENT, so `authenticate: [devices, corp-jwt]` falls
// through to the next authenticator.
import { AUTH_ABSENT, AUTH_OK, AUTH_REJECT, type Authenticator, type Identity, type RequestView } from '../../contracts.js';
import { R } from '../../reasons.js';
import { clockNow } from '../../lib/clock.js';
import { makeIdentity } from '../identity.js';
import { certFacts, xfccOf, type CertFacts } from './certificate.js';
import { CertIdentityCache, type CertVerdict } from './identity-cache.js';

export type ConsumerFrom = 'san_uri' | 'san_dns' | 'subject_cn' | 'fingerprint';

export interface MtlsParts {
  readonly name: string;
  readonly consumerFrom: ConsumerFrom;
  /** allow.san_uri_prefix (null = not checked). */
  readonly uriPrefixes: readonly string[] | null;
  /** allow.san_dns, exact names (null = not checked; see dnsSuffixes). */
  readonly dnsExact: ReadonlySet<string> | null;
  /** allow.san_dns `*.` entries as the suffix after the `*` (`.devices.example.org`). */
  readonly dnsSuffixes: readonly string[];
  readonly cns: ReadonlySet<string> | null;
  /** deny_fingerprints, lower-case hex without colons. */
  readonly denied: ReadonlySet<string>;
  /** forward.header ('' = no x-forwarded-client-cert). */
  readonly forwardHeader: string;
  readonly forwardClaims: Readonly<Record<string, string>>;
  readonly maxEntries: number;
}

export class MtlsStats {
  /** Certificates parsed (cache misses). */
  parsed = 0;
  accepted = 0;
  refused = 0;
  cached = 0;
}

export class MtlsAuthenticator implements Authenticator {
  readonly name: string;
  /** No HTTP authentication scheme asks for a client certificate. */
  readonly challenge = '';
  readonly stats = new MtlsStats();
  private readonly cache: CertIdentityCache;

  constructor(private readonly p: MtlsParts) {
    this.name = p.name;
    this.cache = new CertIdentityCache(p.maxEntries);
  }

  authenticate(view: RequestView): number {
    const pem = view.clientCert;
    if (pem === undefined || pem === '') return AUTH_ABSENT;
    let v = this.cache.get(pem);
    if (v === undefined) {
      v = this.judge(pem);
      this.cache.set(pem, v);
      this.stats.cached = this.cache.size;
    }
    if (typeof v === 'number') {
      this.stats.refused++;
      view.reason = v;
      return AUTH_REJECT;
    }
    // The handshake checked validity when the connection opened; a kept-alive one may outlive the certificate.
    if (clockNow() > v.expiresAt) {
      this.stats.refused++;
      view.reason = R.client_cert_expired;
      return AUTH_REJECT;
    }
    this.stats.accepted++;
    view.identity = v;
    return AUTH_OK;
  }

  hasCredential(view: RequestView): boolean {
    return view.clientCert !== undefined && view.clientCert !== '';
  }

  challengeFor(_reason: number): string {
    return '';
  }

  /** Cache miss: what this authenticator says about one certificate. */
  private judge(pem: string): CertVerdict {
    this.stats.parsed++;
    const f = certFacts(pem);
    if (f === null) return R.client_cert_not_allowed;
    const p = this.p;
    if (p.denied.has(f.fingerprint)) return R.client_cert_revoked;
    const uri = p.uriPrefixes === null ? f.sanUris[0] : f.sanUris.find((u) => p.uriPrefixes!.some((x) => u.startsWith(x)));
    if (p.uriPrefixes !== null && uri === undefined) return R.client_cert_not_allowed;
    const dns = p.dnsExact === null ? f.sanDns[0] : f.sanDns.find((d) => this.dnsAllowed(d));
    if (p.dnsExact !== null && dns === undefined) return R.client_cert_not_allowed;
    if (p.cns !== null && !p.cns.has(f.cn)) return R.client_cert_not_allowed;
    const consumer = p.consumerFrom === 'san_uri' ? uri
      : p.consumerFrom === 'san_dns' ? dns
        : p.consumerFrom === 'subject_cn' ? f.cn : f.fingerprint;
    // A certificate without the name this authenticator takes its consumer from proves no consumer.
    if (consumer === undefined || consumer === '') return R.client_cert_not_allowed;
    return this.identityOf(f, consumer);
  }

  private dnsAllowed(d: string): boolean {
    const p = this.p;
    const name = d.toLowerCase();
    if (p.dnsExact!.has(name)) return true;
    for (const s of p.dnsSuffixes) {
      // `*.` stands for exactly one label, as in certificate name matching (RFC 6125).
      if (name.length > s.length && name.endsWith(s) && name.lastIndexOf('.', name.length - s.length - 1) < 0) return true;
    }
    return false;
  }

  private identityOf(f: CertFacts, consumer: string): Identity {
    const claims: Record<string, unknown> = {
      subject: f.subject,
      subject_cn: f.cn,
      issuer: f.issuer,
      fingerprint: f.fingerprint,
      not_after: Math.floor(f.notAfter / 1000),
      san_uri_all: f.sanUris,
      san_dns_all: f.sanDns,
    };
    if (f.sanUris.length > 0) claims.san_uri = f.sanUris[0];
    if (f.sanDns.length > 0) claims.san_dns = f.sanDns[0];
    const id = makeIdentity(this.name, consumer, claims, this.p.forwardClaims, f.notAfter);
    if (this.p.forwardHeader === '') return id;
    return Object.freeze({ ...id, forwardHeaders: Object.freeze([...id.forwardHeaders, this.p.forwardHeader, xfccOf(f)]) });
  }
}
