// Files `start` reads or opens outside the stage compilers, checked at build
// time so `check` refuses what `start` would: the admin token file, the
// cluster's Redis password and the access log (opened for appending; /var/log/portcullis is made by the unit).
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { CompileContext } from '../config/load.js';
import type { Config } from '../config/schema.js';

/** native-config/portcullis.service: LogsDirectory=portcullis. */
const SYSTEMD_LOGS_DIRECTORY = '/var/log/portcullis';

export function checkFilesStartReads(c: Config, ctx: CompileContext): void {
  if (c.admin) ctx.secret(c.admin, 'token', 'admin', false);
  // The rate-limit sync resolves it again when it connects (src/ratelimit/cluster-sync.ts).
  if (c.cluster && typeof c.cluster.redis !== 'string') ctx.secret(c.cluster.redis, 'password', 'cluster.redis', false);
  const p = c.access_log.enabled ? c.access_log.path : undefined;
  if (p === undefined) return;
  const file = ctx.resolvePath(p);
  const dir = path.dirname(file);
  // The unit's LogsDirectory= makes it (owned by the service user) before start:
  // a check from a shell, before the first start, must not refuse it.
  if (dir === SYSTEMD_LOGS_DIRECTORY && !existsSync(dir)) return;
  try {
    if (existsSync(file)) {
      if (statSync(file).isDirectory()) { ctx.issue('access_log.path', `${file} is a directory; give a file name`); return; }
      accessSync(file, constants.W_OK);
    } else {
      accessSync(dir, constants.W_OK);
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    ctx.issue('access_log.path', code === 'ENOENT'
      ? `directory ${dir} does not exist; create it (owned by the gateway's user) or change access_log.path`
      : `cannot open ${file} for appending (${code}); make it writable by the gateway's user or change access_log.path`);
  }
}
