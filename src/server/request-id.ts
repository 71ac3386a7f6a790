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
