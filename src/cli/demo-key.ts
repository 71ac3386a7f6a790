// The embedded demo config verifies tokens against .demo/jwks.json. The key
// pair is made by whichever command needs it first (start, check, route,
// token, npm start), so the default config passes `check` in a fresh clone.
// Nothing secret is committed: each checkout makes its own key.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_CONFIG, ROOT } from './common.js';

export const DEMO_DIR = path.join(ROOT, '.demo');
export const DEMO_PRIVATE_KEY = path.join(DEMO_DIR, 'demo-signing-key.jwk.json');
export const DEMO_JWKS = path.join(DEMO_DIR, 'jwks.json');
export const DEMO_ISSUER = 'https://demo.portcullis.local/';
export const DEMO_AUDIENCE = 'demo-api';

/** Makes the demo key pair when absent; returns the private JWK (with kid and alg). */
export async function ensureDemoKeys(): Promise<Record<string, unknown>> {
  const jose = await import('jose');
  mkdirSync(DEMO_DIR, { recursive: true, mode: 0o700 });
  let priv: Record<string, unknown>;
  if (existsSync(DEMO_PRIVATE_KEY)) {
    priv = JSON.parse(readFileSync(DEMO_PRIVATE_KEY, 'utf8')) as Record<string, unknown>;
  } else {
    const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
    priv = { ...(await jose.exportJWK(privateKey)), kid: `demo-${Date.now().toString(36)}`, alg: 'RS256' };
    writeFileSync(DEMO_PRIVATE_KEY, JSON.stringify(priv), { mode: 0o600 });
  }
  if (!existsSync(DEMO_JWKS)) {
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = priv;
    writeFileSync(DEMO_JWKS, JSON.stringify({ keys: [{ ...pub, use: 'sig' }] }, null, 2));
  }
  return priv;
}

/** For the embedded default only: make the demo keys. Returns a message when that fails. */
export async function prepareConfig(file: string): Promise<string | null> {
  if (path.resolve(file) !== DEFAULT_CONFIG) return null;
  try {
    await ensureDemoKeys();
    return null;
  } catch (e) {
    return `cannot create the demo key under ${DEMO_DIR} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); `
      + 'the embedded demo config needs it. Pass your own config with --config FILE';
  }
}
