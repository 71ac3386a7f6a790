// The facts of one verified client certificate, read once from its PEM
// (node:crypto's X509Certificate). The chain was verified by the TLS
// handshake against the listener's client_ca; this only extracts names.
import { X509Certificate } from 'node:crypto';

export interface CertFacts {
  /** Subject DN in RFC 4514 order (most specific first), e.g. `CN=device-42,O=Example`. */
  readonly subject: string;
  readonly issuer: string;
  /** The subject's common name ('' when none). */
  readonly cn: string;
  readonly sanUris: readonly string[];
  readonly sanDns: readonly string[];
  /** SHA-256 of the DER, lower-case hex without colons. */
  readonly fingerprint: string;
  /** validTo, epoch ms. */
  readonly notAfter: number;
}

/** Parses a PEM certificate; null when it is not one (never thrown). */
export function certFacts(pem: string): CertFacts | null {
  let x: X509Certificate;
  try {
    x = new X509Certificate(pem);
  } catch {
    return null;
  }
  const subject = dnParts(x.subject);
  const sans = sanEntries(x.subjectAltName ?? '');
  return Object.freeze({
    subject: rfc4514(subject),
    issuer: rfc4514(dnParts(x.issuer)),
    cn: lastValue(subject, 'CN'),
    sanUris: Object.freeze(sans.filter((s) => s[0] === 'URI').map((s) => s[1])),
    sanDns: Object.freeze(sans.filter((s) => s[0] === 'DNS').map((s) => s[1])),
    fingerprint: x.fingerprint256.replace(/:/g, '').toLowerCase(),
    notAfter: Date.parse(x.validTo),
  });
}

/** node's DN text: one `KEY=value` a line, in encoding order; special values JSON-quoted. */
function dnParts(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    out.push([line.slice(0, eq), unquote(line.slice(eq + 1))]);
  }
  return out;
}

function lastValue(parts: readonly [string, string][], key: string): string {
  for (let i = parts.length - 1; i >= 0; i--) if (parts[i]![0] === key) return parts[i]![1];
  return '';
}

/** RFC 4514: most specific RDN first, `,` `+` `"` `\` `<` `>` `;` `=` escaped. */
function rfc4514(parts: readonly [string, string][]): string {
  const out: string[] = [];
  for (let i = parts.length - 1; i >= 0; i--) out.push(`${parts[i]![0]}=${parts[i]![1].replace(/[,+"\\<>;=]/g, '\\$&')}`);
  return out.join(',');
}

/**
 * node's subjectAltName text: `DNS:a, URI:b, IP Address:…`, where a value
 * holding `,` or `"` (any special character) is written as a JSON string.
 */
function sanEntries(text: string): [string, string][] {
  const out: [string, string][] = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) break;
    const kind = text.slice(i, colon);
    let j = colon + 1;
    let value: string;
    if (text.charCodeAt(j) === 34) {
      let k = j + 1;
      while (k < text.length && text.charCodeAt(k) !== 34) k += text.charCodeAt(k) === 92 ? 2 : 1;
      value = unquote(text.slice(j, k + 1));
      j = k + 1;
    } else {
      const end = text.indexOf(', ', j);
      value = text.slice(j, end < 0 ? text.length : end);
      j = end < 0 ? text.length : end;
    }
    out.push([kind, value]);
    i = text.startsWith(', ', j) ? j + 2 : j;
  }
  return out;
}

function unquote(v: string): string {
  if (v.length < 2 || v.charCodeAt(0) !== 34) return v;
  try {
    const s: unknown = JSON.parse(v);
    return typeof s === 'string' ? s : v;
  } catch {
    return v;
  }
}

/**
 * Envoy's x-forwarded-client-cert element for this certificate:
 * `Hash=…;Subject="…";URI=…;DNS=…` (one URI= / DNS= per name). A value with
 * `,` `;` `=` or `"` is quoted, `"` and `\` escaped, as Envoy writes it.
 */
export function xfccOf(f: CertFacts): string {
  let s = `Hash=${f.fingerprint};Subject="${escapeQuoted(f.subject)}"`;
  for (const u of f.sanUris) s += `;URI=${xfccValue(u)}`;
  for (const d of f.sanDns) s += `;DNS=${xfccValue(d)}`;
  return s;
}

function xfccValue(v: string): string {
  return /[,;="\\]/.test(v) ? `"${escapeQuoted(v)}"` : v;
}

function escapeQuoted(v: string): string {
  return v.replace(/["\\]/g, '\\$&');
}
