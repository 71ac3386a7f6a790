// Strict command-line parsing: a command declares its options and arguments;
// anything else (an unknown option, a missing value, a stray argument) is a
// usage error, exit 2. A mistyped `--confg` must never fall back to a default.
import { didYouMean } from '../config/schema.js';

export interface OptionSpec {
  /** Long name without dashes: `config` for `--config`. */
  readonly name: string;
  readonly short?: string;
  /** Placeholder of the value (`FILE`); absent for a switch. */
  readonly value?: string;
  /** May be given more than once (values collected in order). */
  readonly repeat?: boolean;
  readonly help: string;
}

export interface ArgSpec {
  readonly name: string;
  readonly optional?: boolean;
  readonly help: string;
}

export interface CommandSpec {
  /** `check`, or `config print` for a sub-command. */
  readonly name: string;
  readonly summary: string;
  readonly options: readonly OptionSpec[];
  readonly args: readonly ArgSpec[];
  /** More text for `--help`: what it prints, exit codes, examples. */
  readonly details?: string;
}

export interface Parsed {
  readonly options: ReadonlyMap<string, readonly string[] | true>;
  readonly args: readonly string[];
}

export class UsageError extends Error {
  readonly command: CommandSpec;
  constructor(command: CommandSpec, message: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** Thrown for `--help`/`-h`: the caller prints the command's help and exits 0. */
export class HelpRequested extends Error {
  readonly command: CommandSpec;
  constructor(command: CommandSpec) {
    super('help');
    this.command = command;
  }
}

const HELP: OptionSpec = { name: 'help', short: 'h', help: 'show this help' };

export function usageLine(c: CommandSpec): string {
  const opts = c.options.map((o) => {
    const flag = `--${o.name}${o.value ? ` ${o.value}` : ''}`;
    return `[${flag}]${o.repeat ? '…' : ''}`;
  });
  const args = c.args.map((a) => (a.optional ? `[${a.name}]` : a.name));
  return ['portcullis', c.name, ...args, ...opts].join(' ');
}

export function helpText(c: CommandSpec): string {
  const rows: [string, string][] = [];
  for (const a of c.args) rows.push([a.name, a.help]);
  for (const o of [...c.options, HELP]) {
    rows.push([`${o.short ? `-${o.short}, ` : ''}--${o.name}${o.value ? ` ${o.value}` : ''}`, o.help + (o.repeat ? ' (repeatable)' : '')]);
  }
  const w = Math.max(...rows.map((r) => r[0].length));
  return `${c.summary}\n\nUsage: ${usageLine(c)}\n\n${rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n')}\n${c.details ? `\n${c.details.trimEnd()}\n` : ''}`;
}

/**
 * Parses argv against the spec. `--name value`, `--name=value`, `-s value`;
 * `--` ends the options (so an argument may start with a dash).
 */
export function parseArgs(spec: CommandSpec, argv: readonly string[]): Parsed {
  const options = new Map<string, string[] | true>();
  const args: string[] = [];
  const all = [...spec.options, HELP];
  const byLong = new Map(all.map((o) => [o.name, o]));
  const byShort = new Map(all.filter((o) => o.short).map((o) => [o.short!, o]));
  let rest = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (rest || a === '-' || !a.startsWith('-')) { args.push(a); continue; }
    if (a === '--') { rest = true; continue; }
    let name: string;
    let inline: string | undefined;
    let o: OptionSpec | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      inline = eq >= 0 ? a.slice(eq + 1) : undefined;
      o = byLong.get(name);
      if (!o) {
        throw new UsageError(spec, `unknown option --${name}${didYouMean(name, all.map((x) => x.name)).replace(/"([^"]+)"/, '"--$1"')}`);
      }
    } else {
      name = a.slice(1, 2);
      inline = a.length > 2 ? a.slice(2) : undefined;
      o = byShort.get(name);
      if (!o) throw new UsageError(spec, `unknown option -${name}`);
    }
    if (o === HELP) throw new HelpRequested(spec);
    let value: string | true = true;
    if (o.value) {
      if (inline !== undefined) value = inline;
      else {
        const next = argv[i + 1];
        if (next === undefined || (next.startsWith('-') && next !== '-')) throw new UsageError(spec, `--${o.name} needs a value (${o.value})`);
        value = next;
        i++;
      }
      if (value === '') throw new UsageError(spec, `--${o.name} needs a value (${o.value}), not an empty string`);
    } else if (inline !== undefined) {
      throw new UsageError(spec, `--${o.name} takes no value`);
    }
    const prev = options.get(o.name);
    if (prev !== undefined && !o.repeat) throw new UsageError(spec, `--${o.name} given twice`);
    if (value === true) options.set(o.name, true);
    else options.set(o.name, [...(prev === undefined || prev === true ? [] : prev), value]);
  }
  const required = spec.args.filter((x) => !x.optional).length;
  if (args.length > spec.args.length) {
    const stray = args[spec.args.length]!;
    const hint = /\.(ya?ml|json)$/i.test(stray) && spec.options.some((o) => o.name === 'config')
      ? `; to use a config file, write --config ${stray}` : '';
    throw new UsageError(spec, `unexpected argument "${stray}"${hint}`);
  }
  if (args.length < required) {
    throw new UsageError(spec, `missing ${spec.args.slice(args.length).filter((x) => !x.optional).map((x) => x.name).join(' and ')}`);
  }
  return { options, args };
}

/** The one value of an option, or undefined. */
export function one(p: Parsed, name: string): string | undefined {
  const v = p.options.get(name);
  return v === undefined || v === true ? undefined : v[v.length - 1];
}

export function many(p: Parsed, name: string): readonly string[] {
  const v = p.options.get(name);
  return v === undefined || v === true ? [] : v;
}

export function flag(p: Parsed, name: string): boolean {
  return p.options.get(name) === true;
}
