// Deadlines for many pending calls from few timers: calls with the same
// timeout expire in the order they were added, so each distinct timeout is a
// FIFO with one timer armed for its head. Adding and settling are O(1) and
// allocate no timer; a settled entry is skipped when it reaches the head.
export interface Expiring {
  /** performance.now() ms at which the entry expires. */
  readonly expiresAt: number;
  /** True once answered (or expired): the queue then ignores it. */
  readonly settled: boolean;
  expire(): void;
}

class Fifo {
  private items: (Expiring | undefined)[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | null = null;

  add(e: Expiring): void {
    this.items.push(e);
    if (this.timer === null) this.arm();
  }

  private arm(): void {
    while (this.head < this.items.length && this.items[this.head]!.settled) this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
      this.timer = null;
      return;
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    const wait = Math.max(0, this.items[this.head]!.expiresAt - performance.now());
    this.timer = setTimeout(this.fire, Math.ceil(wait));
  }

  private readonly fire = (): void => {
    const now = performance.now();
    while (this.head < this.items.length) {
      const e = this.items[this.head]!;
      if (!e.settled) {
        if (e.expiresAt > now) break;
        e.expire();
      }
      this.items[this.head++] = undefined;
    }
    this.arm();
  };

  clear(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

export class DeadlineQueue {
  private readonly byTimeout = new Map<number, Fifo>();

  /** Tracks `e`, which must expire `timeoutMs` after now. */
  add(e: Expiring, timeoutMs: number): void {
    let f = this.byTimeout.get(timeoutMs);
    if (f === undefined) {
      f = new Fifo();
      this.byTimeout.set(timeoutMs, f);
    }
    f.add(e);
  }

  close(): void {
    for (const f of this.byTimeout.values()) f.clear();
  }
}
