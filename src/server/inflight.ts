// The exchanges in flight on one thread, for the timeout sweep and the drain.
// An array with each member's index kept on the member: add and delete are a
// push and a swap, with no hashing and none of the rehash allocations a Set
// makes while its size swings with the load.
export interface Slotted {
  /** Index in its Inflight, -1 when not in one. */
  slot: number;
}

export class Inflight<T extends Slotted> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  add(x: T): void {
    x.slot = this.items.length;
    this.items.push(x);
  }

  delete(x: T): void {
    const i = x.slot;
    const items = this.items;
    if (i < 0 || items[i] !== x) return;
    const last = items.pop()!;
    if (last !== x) {
      items[i] = last;
      last.slot = i;
    }
    x.slot = -1;
  }

  /** Calls fn for each member, last first, so fn may delete the member it was given. */
  forEach(fn: (x: T) => void): void {
    const items = this.items;
    for (let i = items.length - 1; i >= 0; i--) {
      const x = items[i];
      if (x !== undefined) fn(x);
    }
  }
}

/** What the timeout sweep needs of an exchange in flight. */
export interface Sweepable extends Slotted {
  readonly deadline: number;
  readonly expectBody: boolean;
  readonly bodyComplete: boolean;
  readonly lastClientData: number;
  fail(reason: number, closeAfter?: boolean): void;
}

/** Cuts requests past request_timeout (504) and bodies idle past idle_timeout (408, connection closed). */
export function sweepInflight<T extends Sweepable>(inflight: Inflight<T>, now: number, idleMs: number, timeoutReason: number, idleReason: number): void {
  inflight.forEach((ex) => {
    if (now > ex.deadline) ex.fail(timeoutReason);
    else if (ex.expectBody && !ex.bodyComplete && now - ex.lastClientData > idleMs) ex.fail(idleReason, true);
  });
}
