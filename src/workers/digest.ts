// SHA-256 as base64url for cache keys: one-shot crypto.hash where Node has it
// (≥ 20.12, no Hash object per call), createHash otherwise.
import * as crypto from 'node:crypto';

export const sha256url: (s: string) => string = typeof crypto.hash === 'function'
  ? (s) => crypto.hash('sha256', s, 'base64url')
  : (s) => crypto.createHash('sha256').update(s).digest('base64url');
