// What crosses a callout lane (src/workers/callout-lanes.ts ⇄ tasks/http.ts):
// one string per message, JSON of a flat array, so a batch is one copy of its
// bytes instead of a structured clone of an object graph per call.
//   calls:   [id, deadline, maxBody, url, method, headers, body | null, …]
//   answers: [id, answer, …]
import type { CalloutAnswer } from './callout.js';
import type { OutgoingCall } from './h1-client.js';

const CALL_FIELDS = 7;

export function encodeCall(out: unknown[], id: number, c: OutgoingCall): void {
  out.push(id, c.deadline, c.maxBody, c.url, c.method, c.headers, c.body ?? null);
}

export function encodeCalls(batch: unknown[]): string {
  return JSON.stringify(batch);
}

export function decodeCalls(msg: string, each: (id: number, call: OutgoingCall) => void): void {
  const a = JSON.parse(msg) as unknown[];
  for (let i = 0; i + CALL_FIELDS <= a.length; i += CALL_FIELDS) {
    const body = a[i + 6] as string | null;
    each(a[i] as number, {
      deadline: a[i + 1] as number,
      maxBody: a[i + 2] as number,
      url: a[i + 3] as string,
      method: a[i + 4] as string,
      headers: a[i + 5] as Record<string, string>,
      body: body === null ? undefined : body,
    });
  }
}

export function encodeAnswers(batch: (number | CalloutAnswer)[]): string {
  return JSON.stringify(batch);
}

export function decodeAnswers(msg: string, each: (id: number, a: CalloutAnswer) => void): void {
  const a = JSON.parse(msg) as (number | CalloutAnswer)[];
  for (let i = 0; i + 2 <= a.length; i += 2) each(a[i] as number, a[i + 1] as CalloutAnswer);
}
