// portcullis hash-password: an scrypt hash for a Basic users_file line.
import { flag, type Parsed } from './args.js';
import type { Command } from './common.js';
import { readSecretLine, readStdin } from './prompt.js';

export const hashPasswordCmd: Command = {
  spec: {
    name: 'hash-password',
    summary: 'Print an scrypt hash for a Basic users_file line (`user:HASH`).',
    options: [{ name: 'stdin', help: 'read the password from standard input even when it is a terminal' }],
    args: [{ name: 'PASSWORD', optional: true, help: 'the password (visible in `ps` and shell history: prefer the prompt or stdin)' }],
    details: `Without PASSWORD: on a terminal, asks twice without echo; otherwise reads
standard input (one trailing newline is dropped), e.g.
  printf %s "$PW" | portcullis hash-password`,
  },
  async run(p: Parsed) {
    let pw = p.args[0];
    if (pw === undefined) {
      if (process.stdin.isTTY && !flag(p, 'stdin')) {
        pw = await readSecretLine('Password: ');
        const again = await readSecretLine('Again: ');
        if (pw !== again) { process.stderr.write('portcullis hash-password: the passwords differ; nothing printed\n'); return 1; }
      } else {
        pw = (await readStdin()).replace(/\r?\n$/, '');
      }
    }
    if (!pw) { process.stderr.write('portcullis hash-password: empty password\n'); return 1; }
    const { hashPassword } = await import('../auth/basic/index.js');
    process.stdout.write(`${await hashPassword(pw)}\n`);
    return 0;
  },
};
