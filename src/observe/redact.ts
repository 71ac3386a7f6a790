// The effective config as /config shows it: a deep copy with every secret
// replaced by "[redacted]". Over-redacting is harmless, leaking is not, so the
// rules are by field name (and for header maps and URLs, by content):
// - a field whose name ends in secret, password, passphrase, token, keys,
//   key_sha256, credentials or a compound *_key is a secret (whatever its type);
// - `NAME_file` / `NAME_env` are shown: a path or a variable name, not the secret;
// - a bare `key` is shown only when it is clearly not key material: a list
//   (authorizer cache key), a rate-limit key spec, or a file path;
// - header maps (request_headers.add…) hide values of credential-like headers;
// - credentials inside URLs (redis://user:pass@host, ?token=…) are masked.

export const REDACTED = '[redacted]';

const SECRET_NAME = /(^|[_-])(secret|password|passwd|passphrase|token|keys|credentials?|key_sha256|sha256|hash|private_key|api_key|[a-z0-9]+_key)$/i;
const SHOWN_SUFFIX = /_(file|env)$/i;
const RATE_KEY = /^(global|ip|consumer|claim:[^\s]+|header:[^\s]+)$/;
const PATH_LIKE = /\.(pem|key|crt|cer|der|p12|pfx|jwk|json)$/i;
const SECRET_HEADER = /(authorization|cookie|token|secret|password|api[-_]?key|x-.*key|auth)/i;
const SECRET_QUERY = /^(token|access_token|id_token|refresh_token|code|key|api_key|apikey|secret|client_secret|password|sig|signature)$/i;

function isSecretField(name: string, value: unknown): boolean {
  if (SHOWN_SUFFIX.test(name)) return false;
  if (name === 'key') {
    if (Array.isArray(value)) return false;
    if (typeof value === 'string' && (RATE_KEY.test(value) || PATH_LIKE.test(value))) return false;
    return true;
  }
  return SECRET_NAME.test(name);
}

/** Masks a password in `scheme://user:pass@host` and credential-like query parameters. */
export function redactUrl(s: string): string {
  let out = s.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/?#\s]*)@/i, (_m, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return colon < 0 ? `${scheme}${REDACTED}@` : `${scheme}${userinfo.slice(0, colon)}:${REDACTED}@`;
  });
  const q = out.indexOf('?');
  if (q >= 0 && /^[a-z][a-z0-9+.-]*:\/\//i.test(out)) {
    const hash = out.indexOf('#', q);
    const query = out.slice(q + 1, hash < 0 ? undefined : hash);
    const masked = query
      .split('&')
      .map((kv) => {
        const eq = kv.indexOf('=');
        const k = eq < 0 ? kv : kv.slice(0, eq);
        return eq >= 0 && SECRET_QUERY.test(decodeURIComponent(k)) ? `${k}=${REDACTED}` : kv;
      })
      .join('&');
    out = out.slice(0, q + 1) + masked + (hash < 0 ? '' : out.slice(hash));
  }
  return out;
}

const NAMED_MAPS = new Set(['authenticators', 'upstreams', 'authorizers', 'rate_limits']);

function walk(v: unknown, parentKey: string): unknown {
  if (typeof v === 'string') return v.includes('://') ? redactUrl(v) : v;
  if (Array.isArray(v)) return v.map((x) => walk(x, parentKey));
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Date) return v.toISOString();
  const headerMap = parentKey === 'add' || parentKey === 'set' || parentKey === 'headers' || parentKey === 'request_headers' || parentKey === 'response_headers';
  const out: Record<string, unknown> = {};
  // Children of these maps are user-chosen names ("keys", "token-auth"), not field names.
  const named = NAMED_MAPS.has(parentKey);
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x === undefined) continue;
    if (named && x !== null && typeof x === 'object' && !Array.isArray(x)) out[k] = walk(x, '');
    else if (isSecretField(k, x) || (headerMap && typeof x === 'string' && SECRET_HEADER.test(k))) out[k] = REDACTED;
    else out[k] = walk(x, k);
  }
  return out;
}

/** A deep copy of `config` with every secret replaced by "[redacted]". */
export function redactConfig(config: unknown): unknown {
  return walk(config, '');
}
