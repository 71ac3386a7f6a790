// One bounded GET of a JWK Set: a deadline for the whole exchange, a size cap
// on the body, no redirects (undici's request() does not follow them), and an
// error that says what went wrong in words an operator can act on.
import { request } from 'undici';

export const JWKS_MAX_BYTES = 1024 * 1024;
const ACCEPT = { accept: 'application/jwk-set+json, application/json' };

/** The parsed JSON document, or throws an Error whose message is fit for a log line. */
/** `traceparent` ('' = none): sent when a sampled request triggered the fetch (tracing). */
export async function fetchJwks(url: string, timeoutMs: number, maxBytes: number, stop: AbortSignal, traceparent = ''): Promise<unknown> {
  const signal = AbortSignal.any([stop, AbortSignal.timeout(timeoutMs)]);
  let res;
  try {
    res = await request(url, {
      method: 'GET',
      headers: traceparent !== '' ? { ...ACCEPT, traceparent } : ACCEPT,
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  } catch (e) {
    throw new Error(describe(e, timeoutMs));
  }
  if (res.statusCode !== 200) {
    discard(res.body);
    const redirect = res.statusCode >= 300 && res.statusCode < 400 ? ' (redirects are not followed: configure the final URL)' : '';
    throw new Error(`HTTP ${res.statusCode}${redirect}`);
  }
  const declared = Number(res.headers['content-length'] ?? -1);
  if (declared > maxBytes) {
    discard(res.body);
    throw new Error(`JWKS is ${declared} bytes, more than the ${maxBytes}-byte cap`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body) {
      total += (chunk as Buffer).length;
      if (total > maxBytes) {
        discard(res.body);
        throw new Error(`JWKS is larger than the ${maxBytes}-byte cap`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (e) {
    throw new Error(describe(e, timeoutMs));
  }
  try {
    return JSON.parse(Buffer.concat(chunks, total).toString('utf8'));
  } catch (e) {
    throw new Error(`JWKS is not valid JSON: ${(e as Error).message}`);
  }
}

/** Drop a body we will not read; its abort error is expected and handled here. */
function discard(body: NodeJS.ReadableStream & { destroy(): void }): void {
  body.on('error', () => {});
  body.destroy();
}

function describe(e: unknown, timeoutMs: number): string {
  const err = e as Error & { code?: string; cause?: { code?: string } };
  if (err.name === 'TimeoutError' || err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT') {
    return `no answer within ${timeoutMs} ms (jwks_timeout)`;
  }
  if (err.name === 'AbortError') return 'aborted (authenticator closed)';
  const code = err.code ?? err.cause?.code;
  return code ? `${code}: ${err.message}` : err.message;
}
