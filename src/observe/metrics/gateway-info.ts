// Build info and config reloads, kept by the main thread (reloads are
// coordinated there) and exported as one Collector.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { family } from '../prom.js';

export interface GatewayInfo {
  /** Counts a reload attempt: ok = the new plan runs in every thread. */
  reloaded(ok: boolean): void;
  readonly collector: () => string;
}

/** The version in the nearest package.json named `name` at or above `from`. */
function packageVersion(from: string, name: string): string {
  try {
    let dir = path.dirname(from);
    for (let i = 0; i < 8; i++) {
      try {
        const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name) return pkg.version ?? 'unknown';
      } catch { /* no package.json here: go up */ }
      dir = path.dirname(dir);
    }
  } catch { /* unresolvable: reported as unknown */ }
  return 'unknown';
}

function resolved(spec: string): string {
  try { return createRequire(import.meta.url).resolve(spec); } catch { return '/'; }
}

// Read once at load: the versions cannot change under a running process.
const VERSION = packageVersion(fileURLToPath(import.meta.url), 'portcullis');
const UWS = packageVersion(resolved('@btc-vision/uwebsockets.js'), '@btc-vision/uwebsockets.js');

export function createGatewayInfo(): GatewayInfo {
  let ok = 0, failed = 0;
  // The first config load counts as the last successful one.
  let lastOk = Date.now() / 1000, lastAttempt = lastOk;
  const info = family('portcullis_build_info', 'gauge', 'Always 1; the labels name the gateway version, Node.js and uWebSockets.js packages.',
    [[{ version: VERSION, node: process.versions.node, uws: UWS }, 1]]);
  return {
    reloaded(success) {
      lastAttempt = Date.now() / 1000;
      if (success) { ok++; lastOk = lastAttempt; } else failed++;
    },
    collector: () => info +
      family('portcullis_config_reloads_total', 'counter', 'Config reloads (SIGHUP, POST /reload) by result; a failed one keeps the running config.',
        [[{ result: 'success' }, ok], [{ result: 'failure' }, failed]]) +
      family('portcullis_config_last_reload_success_timestamp_seconds', 'gauge', 'When the running config was loaded (start or last successful reload), Unix seconds.', [[null, Math.floor(lastOk)]]) +
      family('portcullis_config_last_reload_attempt_timestamp_seconds', 'gauge', 'When a config was last loaded or a reload last tried, Unix seconds.', [[null, Math.floor(lastAttempt)]]),
  };
}
