// Session cookies: `__Host-`-style attributes (Secure, HttpOnly,
// SameSite=Lax, Path=/, no Domain), chunked across NAME, NAME.1, NAME.2…
// when the sealed session is larger than one cookie may be.

/** Browsers accept at least 4096 bytes per cookie including name and attributes. */
export const CHUNK = 3800;
export const MAX_CHUNKS = 8;

export function setCookie(name: string, value: string, maxAgeSec: number): string {
  return `${name}=${value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSec}`;
}

export function clearCookie(name: string): string {
  return `${name}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0`;
}

/** The names of the chunks after the first: NAME.1 … NAME.(MAX_CHUNKS-1). */
export function chunkNames(name: string): readonly string[] {
  return Array.from({ length: MAX_CHUNKS - 1 }, (_, i) => `${name}.${i + 1}`);
}

/**
 * Set-Cookie values for a sealed session split into chunks, plus deletions of
 * chunks the browser still holds from a larger earlier session. null when the
 * session does not fit in MAX_CHUNKS cookies.
 */
export function sessionCookies(name: string, chunks: readonly string[], sealed: string, maxAgeSec: number, presentChunks: number): string[] | null {
  const n = Math.ceil(sealed.length / CHUNK);
  if (n > MAX_CHUNKS) return null;
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(setCookie(i === 0 ? name : chunks[i - 1]!, sealed.slice(i * CHUNK, (i + 1) * CHUNK), maxAgeSec));
  for (let i = n; i < presentChunks; i++) out.push(clearCookie(chunks[i - 1]!));
  return out;
}
