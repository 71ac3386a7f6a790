import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ConfigIssue } from './errors.js';

/**
 * Resolves a secret given as `name`, `name_file` (relative to the config file)
 * or `name_env`. Exactly one may be set. Returns undefined when none is and
 * `required` is false; records an issue otherwise.
 */
export function resolveSecret(
  obj: Record<string, unknown>,
  name: string,
  where: string,
  baseDir: string,
  issues: ConfigIssue[],
  required: boolean,
): string | undefined {
  const inline = obj[name] as string | undefined;
  const file = obj[`${name}_file`] as string | undefined;
  const env = obj[`${name}_env`] as string | undefined;
  const given = [inline !== undefined, file !== undefined, env !== undefined].filter(Boolean).length;
  if (given > 1) {
    issues.push({ path: `${where}.${name}`, message: `give only one of ${name}, ${name}_file, ${name}_env` });
    return undefined;
  }
  if (inline !== undefined) return inline;
  if (file !== undefined) {
    const p = path.resolve(baseDir, file);
    try {
      return readFileSync(p, 'utf8').trim();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const fix = code === 'ENOENT' ? `create it (e.g. umask 077; openssl rand -hex 32 > ${p}) or point ${name}_file elsewhere`
        : code === 'EACCES' ? "make it readable by the gateway's user (chgrp portcullis FILE; chmod 0640 FILE)" : `fix ${name}_file`;
      issues.push({ path: `${where}.${name}_file`, message: `cannot read ${p}: ${code ?? String(e)}; ${fix}` });
      return undefined;
    }
  }
  if (env !== undefined) {
    const v = process.env[env];
    if (v === undefined || v === '') {
      issues.push({ path: `${where}.${name}_env`, message: `environment variable ${env} is not set` });
      return undefined;
    }
    return v;
  }
  if (required) issues.push({ path: `${where}.${name}`, message: `required: set ${name}, ${name}_file or ${name}_env` });
  return undefined;
}
