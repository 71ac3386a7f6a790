// Revocations persisted to `session.revocation_file`, so a restart does not
// revive a logged-out cookie. One text line per revocation, appended on
// logout under the table's writer lock (so the threads of a process never
// interleave with a compaction):
//   r <key hex> <exp> <before>     a revoked key (epoch seconds)
//   f <floor>                      every session that began up to <floor> is revoked
// Loading inserts the live lines into the table and rewrites the file without
// the expired ones (write to a temporary file, then rename). The file stays
// bounded: entries end with their session, and after COMPACT_EVERY appends by
// one thread the file is compacted again. No fsync: a process restart keeps
// what the kernel holds; a machine crash may lose the last few logouts.
import { accessSync, appendFileSync, constants, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { log } from '../../observe/log.js';
import { keyFromHex, keyToHex, type RevocationKey, type RevocationTable } from './revocation.js';

const HEADER = '# portcullis OIDC session revocations v1: "r KEY EXP BEFORE" and "f FLOOR" lines, epoch seconds\n';
const COMPACT_EVERY = 4096;
const LINE_RE = /^r ([0-9a-f]{32}) (\d{1,12}) (\d{1,12})$|^f (\d{1,12})$/;

/** Why `file` cannot hold revocations ('' when it can): for `portcullis check` and startup. */
export function revocationFileProblem(file: string): string {
  const dir = path.dirname(file);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (e) {
    return `${dir} is not a writable directory (${(e as NodeJS.ErrnoException).code ?? String(e)})`;
  }
  if (existsSync(file)) {
    try {
      accessSync(file, constants.R_OK | constants.W_OK);
    } catch (e) {
      return `${file} is not readable and writable (${(e as NodeJS.ErrnoException).code ?? String(e)})`;
    }
  }
  return '';
}

interface Line { readonly hex: string; readonly exp: number; readonly before: number }

export class RevocationFile {
  private appended = 0;
  /** Writes that failed (the revocation still holds in this process). */
  failures = 0;

  constructor(readonly file: string, private readonly table: RevocationTable, private readonly authenticator: string) {}

  /** Inserts the file's live revocations into the table and compacts the file. Returns how many were live. */
  load(nowSec = Date.now() / 1000): number {
    return this.table.locked(() => {
      const { lines, floor } = this.read(nowSec);
      if (floor > 0) this.table.raiseFloor(floor);
      let live = 0;
      for (const l of lines) {
        const k = keyFromHex(l.hex);
        if (k !== null && this.table.add(k, l.exp, l.before, nowSec) !== 'known') live++;
      }
      this.rewrite(nowSec, { lines, floor });
      return live;
    });
  }

  /** The live revocations the file holds (written back to a Redis that lost them). */
  live(nowSec = Date.now() / 1000): { hex: string; exp: number; before: number }[] {
    try {
      return this.table.locked(() => this.read(nowSec).lines);
    } catch {
      return [];
    }
  }

  /** Appends one revocation (call inside table.locked after table.add said 'new' or 'floor'). */
  append(key: RevocationKey, expSec: number, beforeSec: number): void {
    this.write(`r ${keyToHex(key)} ${Math.floor(expSec)} ${Math.floor(beforeSec)}\n`);
  }

  appendFloor(floorSec: number): void {
    this.write(`f ${Math.floor(floorSec)}\n`);
  }

  private write(line: string): void {
    try {
      appendFileSync(this.file, line, { mode: 0o600 });
      if (++this.appended >= COMPACT_EVERY) this.rewrite(Date.now() / 1000);
    } catch (e) {
      this.failures++;
      log.error('OIDC revocation not persisted: it holds in this process until restart', {
        authenticator: this.authenticator, file: this.file, error: (e as Error).message,
        fix: `make ${this.file} writable by the gateway, or point session.revocation_file at a writable path`,
      });
    }
  }

  private read(nowSec: number): { lines: Line[]; floor: number } {
    let text = '';
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const lines: Line[] = [];
    let floor = 0;
    let bad = 0;
    for (const raw of text.split('\n')) {
      if (raw === '' || raw.startsWith('#')) continue;
      const m = LINE_RE.exec(raw);
      if (m === null) { bad++; continue; }
      if (m[4] !== undefined) floor = Math.max(floor, Number(m[4]));
      else if (Number(m[2]) > nowSec) lines.push({ hex: m[1]!, exp: Number(m[2]), before: Number(m[3]) });
    }
    if (bad > 0) log.warn('OIDC revocation file has unreadable lines; they were skipped', { authenticator: this.authenticator, file: this.file, lines: bad });
    return { lines, floor };
  }

  /** The file with only what still matters: the floor and live entries it does not cover. */
  private rewrite(nowSec: number, known?: { lines: Line[]; floor: number }): void {
    const { lines, floor } = known ?? this.read(nowSec);
    const f = Math.max(floor, this.table.floor);
    let out = HEADER;
    if (f > 0) out += `f ${f}\n`;
    for (const l of lines) if (l.before > f) out += `r ${l.hex} ${l.exp} ${l.before}\n`;
    const tmp = `${this.file}.tmp-${process.pid}`;
    writeFileSync(tmp, out, { mode: 0o600 });
    renameSync(tmp, this.file);
    this.appended = 0;
  }
}
