// 16-byte client address (IPv4 as ::ffff:a.b.c.d, as RequestView.clientIp16
// holds it) back to text. Used on scrape/dashboard only.

export function ip16ToText(b: Uint8Array, off = 0): string {
  let v4 = true;
  for (let i = 0; i < 10; i++) if (b[off + i] !== 0) { v4 = false; break; }
  if (v4 && b[off + 10] === 0xff && b[off + 11] === 0xff) {
    return `${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
  }
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!);
  // RFC 5952: compress the longest run (≥ 2) of zero groups, the first one on ties.
  let bestAt = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestAt < 0) return hex.join(':');
  return hex.slice(0, bestAt).join(':') + '::' + hex.slice(bestAt + bestLen).join(':');
}

/** Text address to 16 bytes (IPv4 mapped); for tests and tools. Returns null when not an address. */
export function textToIp16(s: string): Uint8Array | null {
  const out = new Uint8Array(16);
  const m4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (m4) {
    out[10] = 0xff; out[11] = 0xff;
    for (let i = 0; i < 4; i++) {
      const n = Number(m4[i + 1]);
      if (n > 255) return null;
      out[12 + i] = n;
    }
    return out;
  }
  if (!/^[0-9a-f:]+$/i.test(s)) return null;
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return null;
  const groups = [...head, ...new Array<string>(fill).fill('0'), ...tail];
  for (let i = 0; i < 8; i++) {
    const n = parseInt(groups[i]!, 16);
    if (!(n >= 0 && n <= 0xffff) || groups[i]!.length > 4) return null;
    out[2 * i] = n >> 8; out[2 * i + 1] = n & 0xff;
  }
  return out;
}
