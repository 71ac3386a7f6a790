// Errors of the upstream HTTP/1.1 client. Codes match undici's where the
// meaning is the same, so the Exchange classifies both clients' errors alike
// (timeouts → 504, connect failures → 503 + passive health, the rest → 502).
export type UpstreamErrorCode =
  | 'UND_ERR_CONNECT_TIMEOUT'
  | 'UND_ERR_HEADERS_TIMEOUT'
  | 'UND_ERR_BODY_TIMEOUT'
  | 'UND_ERR_SOCKET'
  | 'UND_ERR_ABORTED'
  | 'UND_ERR_CLOSED'
  | 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH'
  | 'HPE_INVALID_RESPONSE'
  | typeof TLS_RESET_AFTER_HANDSHAKE;

/**
 * A TLS connection the upstream reset before any byte of its first response.
 * Under TLS 1.3 the server judges our client certificate after the client's
 * side of the handshake is done, so a refused (or missing) one often arrives
 * as a reset that discards the alert: reported as a TLS failure (upstream_tls).
 */
export const TLS_RESET_AFTER_HANDSHAKE = 'ERR_TLS_RESET_AFTER_HANDSHAKE';

export class UpstreamError extends Error {
  constructor(readonly code: UpstreamErrorCode, message: string) {
    super(message);
    this.name = 'UpstreamError';
  }
}

/** A response the parser refused: the connection is closed and the client gets a 502. */
export function invalidResponse(what: string): UpstreamError {
  return new UpstreamError('HPE_INVALID_RESPONSE', `upstream sent an invalid response: ${what}`);
}
