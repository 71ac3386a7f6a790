import { describe, expect, it } from 'vitest';
import { ParsedParent, parseTraceparent, formatTraceparent } from '../../src/trace/traceparent.js';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';

describe('traceparent', () => {
  it('reads a valid header, its ids and sampled flag', () => {
    const p = new ParsedParent();
    expect(parseTraceparent(`00-${T}-${S}-01`, p)).toBe(true);
    expect(p.traceId()).toBe(T);
    expect(p.spanId()).toBe(S);
    expect(p.sampled).toBe(true);
    expect(parseTraceparent(`00-${T}-${S}-00`, p)).toBe(true);
    expect(p.sampled).toBe(false);
    expect(parseTraceparent(`00-${T}-${S}-03`, p) && p.sampled).toBe(true);
  });

  it('accepts a later version with more fields after a dash', () => {
    const p = new ParsedParent();
    expect(parseTraceparent(`01-${T}-${S}-01-what-comes-next`, p)).toBe(true);
    expect(p.traceId()).toBe(T);
    expect(parseTraceparent(`01-${T}-${S}-01x`, p)).toBe(false);
  });

  it.each([
    ['all-zero trace id', `00-${'0'.repeat(32)}-${S}-01`],
    ['all-zero parent id', `00-${T}-${'0'.repeat(16)}-01`],
    ['version ff', `ff-${T}-${S}-01`],
    ['upper-case hex', `00-${T.toUpperCase()}-${S}-01`],
    ['bad hex', `00-${T.slice(0, 31)}g-${S}-01`],
    ['version 00 too long', `00-${T}-${S}-01-x`],
    ['too short', `00-${T}-${S}-1`],
    ['wrong separators', `00_${T}_${S}_01`],
    ['bad flags', `00-${T}-${S}-0z`],
    ['empty', ''],
  ])('rejects %s', (_what, h) => {
    expect(parseTraceparent(h, new ParsedParent())).toBe(false);
  });

  it('formats a sampled child traceparent', () => {
    expect(formatTraceparent(T, S)).toBe(`00-${T}-${S}-01`);
  });
});
