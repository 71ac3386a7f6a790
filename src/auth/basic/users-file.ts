// `name:hash` lines (htpasswd format). Blank lines and `#` comments are
// skipped; every bad line is reported with its number and a fix.
import { readFileSync } from 'node:fs';
import { parseHash, type PasswordHash } from './hash.js';

export function loadUsers(file: string, report: (msg: string) => void): Map<string, PasswordHash> {
  const users = new Map<string, PasswordHash>();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    report(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}; create it with \`htpasswd -cB ${file} USER\``);
    return users;
  }
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const at = `${file} line ${i + 1}`;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      report(`${at}: expected "name:hash"`);
      return;
    }
    const name = line.slice(0, colon);
    const h = parseHash(line.slice(colon + 1));
    if (typeof h === 'string') {
      report(`${at}: user "${name}" has ${h}; make a new hash with \`htpasswd -nB ${name}\` or \`portcullis hash-password\``);
      return;
    }
    if (users.has(name)) {
      report(`${at}: user "${name}" is listed twice`);
      return;
    }
    users.set(name, h);
  });
  return users;
}
