// Request ids: a random per-process prefix and a counter. Unique enough to
// correlate logs across gateway and upstream; cheap; not a secret.
let counter = 0;
const prefix = Math.floor(Math.random() * 0xffffffff).toString(16).padStart(8, '0');

export function newRequestId(): string {
  counter = (counter + 1) >>> 0;
  return `${prefix}-${Date.now().toString(36)}-${counter.toString(36)}`;
}
