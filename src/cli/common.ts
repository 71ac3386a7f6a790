// What every command shares: where the package is, its version, which config
// file a command reads, and how config problems are printed.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, formatIssue } from '../config/errors.js';
import type { OptionSpec, Parsed } from './args.js';
import { one } from './args.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** The embedded default: the demo `npm start` runs. */
export const DEFAULT_CONFIG = path.join(ROOT, 'native-config', 'portcullis.yaml');

export const CONFIG_OPTION: OptionSpec = {
  name: 'config', short: 'c', value: 'FILE',
  help: `config file (default: $PORTCULLIS_CONFIG, else the embedded demo ${path.relative(process.cwd(), DEFAULT_CONFIG) || DEFAULT_CONFIG})`,
};

/** --config, else $PORTCULLIS_CONFIG, else the embedded default; absolute. */
export function configPath(p: Parsed): string {
  return path.resolve(one(p, 'config') ?? (process.env.PORTCULLIS_CONFIG || DEFAULT_CONFIG));
}

/** Every problem, one per line, `file:line:column path: message`, then a count. */
export function printConfigError(e: ConfigError): void {
  for (const i of e.issues) process.stderr.write(`${formatIssue(i, e.file)}\n`);
  process.stderr.write(`portcullis: ${e.file}: ${e.issues.length} problem${e.issues.length === 1 ? '' : 's'}\n`);
}

export interface Command {
  readonly spec: import('./args.js').CommandSpec;
  /** Exit code; -1 keeps the process running (start). */
  run(p: Parsed): Promise<number>;
}
