// What the upstream client is given per request and whom it reports to.

import type { Readable } from 'node:stream';

/** The handler interface of undici's Dispatcher (the Exchange implements it for both clients). */
export interface UpstreamHandler {
  onConnect(abort: (err?: Error) => void): void;
  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: null): void;
  onError(err: Error): void;
}

export interface UpstreamRequest {
  readonly method: string;
  readonly path: string;
  /** Flat [name, value, …]: byte strings (one char per byte) from prepareUpstreamHead. */
  readonly headers: readonly string[];
  readonly body: Readable | null;
}

/** The request's content-length value (flat [name, value, …], lower-case names). */
export function declaredLength(h: readonly string[]): number {
  for (let i = 0; i + 1 < h.length; i += 2) {
    if (h[i] === 'content-length') { const v = Number(h[i + 1]); return v >= 0 ? v : 0; }
  }
  return 0;
}
