// Worker task: HTTP callouts with a hard deadline and a bounded answer, on
// this thread's keep-alive client (src/workers/h1-client.ts).
// - `attach` opens the callout lane the pool uses for every HTTP callout:
//   batches of calls come in as one JSON string per message, answers go back
//   batched the same way (src/workers/lane-wire.ts), so a busy gateway pays
//   one message per batch, not a structured clone per call each way.
// - `callout` (the default export) runs one call as a Piscina task; other
//   tasks (oidc.ts) call it directly.
import { MessageChannel, threadId, type MessagePort } from 'node:worker_threads';
import { move } from 'piscina';
import type { CalloutAnswer, CalloutRequest } from '../callout.js';
import { send } from '../h1-client.js';
import { decodeCalls, encodeAnswers } from '../lane-wire.js';

const DEFAULT_MAX_BODY = 1024 * 1024;

export function callout(req: CalloutRequest | { warm: true }): Promise<CalloutAnswer> {
  if ('warm' in req) return Promise.resolve({ ok: false, error: 'expired', detail: 'warm-up' });
  return new Promise((resolve) =>
    send({ url: req.url, method: req.method, headers: req.headers, body: req.body, maxBody: req.maxBody ?? DEFAULT_MAX_BODY, deadline: req.deadline ?? Date.now() + 5000 }, resolve),
  );
}

/** Opens one lane: the returned port (moved to the caller) carries call batches in and answer batches out. */
export function attach(): unknown {
  const { port1, port2 } = new MessageChannel();
  serve(port1);
  return move(port2);
}

function serve(port: MessagePort): void {
  let out: (number | CalloutAnswer)[] = [];
  let flushing = false;
  const flush = (): void => {
    flushing = false;
    const batch = out;
    out = [];
    port.postMessage(encodeAnswers(batch));
  };
  // The first message names this thread, so the pool keeps one lane per thread.
  port.postMessage(threadId);
  port.on('message', (msg: string) => {
    decodeCalls(msg, (id, call) =>
      send(call, (a) => {
        out.push(id, a);
        // Answers settled in this turn of the event loop leave in one message.
        if (!flushing) {
          flushing = true;
          setImmediate(flush);
        }
      }),
    );
  });
}

export default callout;
