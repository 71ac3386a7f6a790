// Text that must be a JSON object (a token segment, a session cookie, a
// called service's answer): anything else — invalid JSON, null, an array, a
// scalar — is null, so callers treat all garbage alike and never throw.

export function parseJsonObject(text: string): Record<string, unknown> | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}
