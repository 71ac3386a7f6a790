// Captures the gateway's log lines (written to stderr) during a test.
import { vi, type MockInstance } from 'vitest';

export class LogCapture {
  readonly lines: string[] = [];
  private spy: MockInstance | null = null;
  start(): this {
    this.spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => {
      for (const l of String(chunk).split('\n')) if (l) this.lines.push(l);
      return true;
    });
    return this;
  }
  stop(): void {
    this.spy?.mockRestore();
    this.spy = null;
  }
  /** The first line matching every pattern. */
  find(...res: RegExp[]): string | undefined {
    return this.lines.find((l) => res.every((re) => re.test(l)));
  }
}
