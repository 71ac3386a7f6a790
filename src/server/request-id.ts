// Request ids: a random per-process prefix and a counter. Unique enough to
// correlate logs across gateway and upstream; cheap; not a secret.
// The start time is in the prefix: ids stay unique across restarts without a
// clock read per request.
let counter = 0;
const prefix = `${Math.floor(Math.random() * 0xffffffff).toString(16).padStart(8, '0')}-${Date.now().toString(36)}-`;

export function newRequestId(): string {
  counter++;
  return prefix + counter.toString(36);
}

/** Visible ASCII, as a header value we write back must be. */
const SAFE_ID = /^[\x21-\x7e]{1,200}$/;

/** A trusted proxy's x-request-id we may keep and write back. */
export function safeRequestId(id: string): boolean {
  return SAFE_ID.test(id);
}

/**
 * Gives a request its id once, for the gateway's own answers (rejections,
 * respond routes): a trusted proxy's x-request-id is kept, else a new one.
 * A request already given one (or proxied, src/proxy/forward-headers.ts) keeps it.
 */
export function assignRequestId(v: { requestId: string; peerTrusted: boolean }, fromClient: string): void {
  if (v.requestId !== '') return;
  v.requestId = v.peerTrusted && fromClient !== '' && SAFE_ID.test(fromClient) ? fromClient : newRequestId();
}
