// Where the tests find promtool: PROMTOOL, else where scripts/test-setup.sh
// unpacks Debian's prometheus package. In CI (CI=true) a missing promtool is
// a failure, never a skip: the lint and rule checks must run there.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../helpers/gateway.js';

export const PROMTOOL = process.env.PROMTOOL ?? path.join(ROOT, '.cache/test-tools/prometheus/usr/bin/promtool');
export const HAVE_PROMTOOL = existsSync(PROMTOOL);
export const MUST_HAVE_PROMTOOL = process.env.CI === 'true' || process.env.CI === '1';

/** Fails with what to run when promtool is missing (used first in each promtool test). */
export function requirePromtool(): void {
  if (!HAVE_PROMTOOL) throw new Error(`promtool not found at ${PROMTOOL}: run scripts/test-setup.sh (or set PROMTOOL)`);
}

export function promtool(args: string[], input?: string): { code: number | null; out: string } {
  const r = spawnSync(PROMTOOL, args, { input, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}
