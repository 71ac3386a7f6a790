// Worker task: one HTTP request with a hard deadline and a bounded answer.
// Keep-alive connections are reused across tasks of this worker thread.
import { Agent, request } from 'undici';
import type { CalloutAnswer, CalloutRequest, CalloutErrorKind } from '../callout.js';

const agent = new Agent({ keepAliveTimeout: 10_000, connections: 256, pipelining: 1 });
const DEFAULT_MAX_BODY = 1024 * 1024;
const GRACE_MS = 250;

export function classify(e: unknown): CalloutErrorKind {
  const err = e as { name?: string; code?: string; cause?: { code?: string } };
  const code = err.code ?? err.cause?.code ?? '';
  if (err.name === 'TimeoutError' || err.name === 'AbortError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return 'timeout';
  if (code === 'ECONNREFUSED') return 'refused';
  if (err.name === 'HTTPParserError' || code.startsWith('HPE_') || code === 'UND_ERR_INFO' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return 'protocol';
  return 'network';
}

export async function callout(req: CalloutRequest | { warm: true }): Promise<CalloutAnswer> {
  if ('warm' in req) return { ok: false, error: 'expired', detail: 'warm-up' };
  const remaining = (req.deadline ?? Date.now() + 5000) - Date.now();
  if (remaining <= 0) return { ok: false, error: 'expired', detail: 'deadline passed before the task started' };
  const maxBody = req.maxBody ?? DEFAULT_MAX_BODY;
  try {
    const res = await request(req.url, {
      dispatcher: agent,
      method: req.method,
      headers: req.headers,
      body: req.body,
      // The caller's timer rejects at the deadline; this later abort only frees the socket, so the
      // caller, not a race with this answer, decides (and counts) every timeout.
      signal: AbortSignal.timeout(remaining + GRACE_MS),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of res.body) {
      size += (c as Buffer).length;
      if (size > maxBody) {
        res.body.destroy();
        return { ok: false, error: 'too_large', detail: `answer body larger than ${maxBody} bytes` };
      }
      chunks.push(c as Buffer);
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) {
      if (v === undefined || k === 'set-cookie') continue;
      headers[k] = Array.isArray(v) ? v.join(', ') : v;
    }
    return { ok: true, status: res.statusCode, headers, body: Buffer.concat(chunks).toString('utf8') };
  } catch (e) {
    return { ok: false, error: classify(e), detail: (e as Error).message ?? String(e) };
  }
}

export default callout;
