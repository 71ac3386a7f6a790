// An HdrHistogram whose counts live in a Float64Array we own, so each
// event-loop thread can record into its slice of a SharedArrayBuffer and the
// admin thread can sum the slices and ask hdr-histogram-js for percentiles.
// JsHistogram is the library's extension point (its abstract count accessors
// are what Int32Histogram & co. implement); we only supply the storage.
import { JsHistogram } from 'hdr-histogram-js';

/** Latencies are recorded in microseconds, 1 µs … 60 s, 2 significant digits (≤ 1% error). */
export const HDR_LOWEST = 1;
export const HDR_HIGHEST = 60_000_000;
export const HDR_DIGITS = 2;

export class CountsHistogram extends JsHistogram {
  counts: Float64Array<ArrayBufferLike>;

  constructor(counts?: Float64Array<ArrayBufferLike>) {
    super(HDR_LOWEST, HDR_HIGHEST, HDR_DIGITS);
    this.autoResize = false;
    this.counts = counts ?? new Float64Array(this.countsArrayLength);
    if (this.counts.length !== this.countsArrayLength) {
      throw new Error(`histogram counts need ${this.countsArrayLength} slots, got ${this.counts.length}`);
    }
  }

  getCountAtIndex(index: number): number {
    return this.counts[index]!;
  }
  incrementCountAtIndex(index: number): void {
    this.counts[index]!++;
  }
  addToCountAtIndex(index: number, value: number): void {
    this.counts[index]! += value;
  }
  setCountAtIndex(index: number, value: number): void {
    this.counts[index] = value;
  }
  clearCounts(): void {
    this.counts.fill(0);
  }
  protected _getEstimatedFootprintInBytes(): number {
    return 512 + this.counts.byteLength;
  }
  resize(): void {
    throw new Error('CountsHistogram has a fixed range; clamp values to HDR_HIGHEST');
  }
  copyCorrectedForCoordinatedOmission(): never {
    throw new Error('not supported');
  }

  /** Recomputes total/min/max after the counts array was written directly (summed slices). */
  refresh(): this {
    this.establishInternalTackingValues();
    return this;
  }
}

const shape = new CountsHistogram();

/** Number of count slots one histogram needs (the same for every instance). */
export const HDR_SLOTS: number = shape.countsArrayLength;

const HALF_MAG = shape.subBucketHalfCountMagnitude;
const HALF = shape.subBucketHalfCount;
if (shape.unitMagnitude !== 0) throw new Error('latency histogram expects a unit magnitude of 0');

/**
 * The counts index hdr-histogram-js's countsArrayIndex() gives for an integer
 * 0 ≤ v ≤ HDR_HIGHEST, with clz32 and shifts instead of log2/pow: this runs
 * once per request. A test checks it against the library over the whole range.
 */
export function latencyIndex(v: number): number {
  let bucket = 31 - Math.clz32(v) - HALF_MAG;
  if (bucket < 0) bucket = 0;
  return ((bucket + 1) << HALF_MAG) + (v >>> bucket) - HALF;
}
