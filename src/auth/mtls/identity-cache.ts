// Verified client certificates → what the mtls authenticator decided about
// them (an Identity, or a rejection reason), keyed by the certificate's PEM
// exactly as uWS hands it over. A kept-alive connection presents the same
// certificate on every request: the last one is compared first (one string
// compare, no hashing), then the map. Bounded: the oldest entry goes first.
import type { Identity } from '../../contracts.js';

/** An Identity, or the reason id a certificate is refused with. */
export type CertVerdict = Identity | number;

export class CertIdentityCache {
  private readonly map = new Map<string, CertVerdict>();
  private lastPem = '';
  private lastVerdict: CertVerdict = 0;

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.map.size;
  }

  /** The verdict for this PEM, or undefined on a miss. Allocates nothing. */
  get(pem: string): CertVerdict | undefined {
    if (pem === this.lastPem) return this.lastVerdict;
    const v = this.map.get(pem);
    if (v !== undefined) {
      this.lastPem = pem;
      this.lastVerdict = v;
    }
    return v;
  }

  set(pem: string, v: CertVerdict): void {
    this.lastPem = pem;
    this.lastVerdict = v;
    if (this.maxEntries === 0) return;
    if (this.map.size >= this.maxEntries) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(pem, v);
  }
}
