// Waiting in tests: a plain timer (bounded waits only; never assert on how long it took).

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
