// Work held back until after the event loop's poll phase (setImmediate):
// upstream request heads are written together instead of one by one between
// client requests, and upstream responses of one loop turn are handled
// together, so each side is woken once per batch rather than once per request.

/** A batch member: a throw while it runs is its own failure, not the batch's. */
export interface Batched {
  crashed(e: unknown): void;
}

export class TurnBatch<T extends Batched> {
  private readonly items: T[] = [];

  constructor(private readonly run: (item: T) => void) {}

  /** Runs `item` after this turn's poll phase, with every other item added meanwhile. */
  add(item: T): void {
    this.items.push(item);
    if (this.items.length === 1) setImmediate(this.flush);
  }

  // One failing item must not stop the batch: the list would stay non-empty
  // and no later turn would be scheduled (every later item would hang).
  private readonly flush = (): void => {
    const items = this.items;
    for (let i = 0; i < items.length; i++) {
      const c = items[i]!;
      try { this.run(c); } catch (e) { c.crashed(e); }
    }
    items.length = 0;
  };
}
