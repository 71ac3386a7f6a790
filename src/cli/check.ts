// portcullis check: everything `start` would refuse, in one pass, without starting.
import { ConfigError } from '../config/errors.js';
import { CONFIG_OPTION, configPath, printConfigError, type Command } from './common.js';
import { prepareConfig } from './demo-key.js';

export const check: Command = {
  spec: {
    name: 'check',
    summary: 'Validate a config file without starting: every problem `start` would refuse, in one pass.',
    options: [CONFIG_OPTION],
    args: [],
    details: `Reports schema errors, unknown references, compilation problems (bad CIDRs,
key files, TLS pairs) and files that cannot be read, each as
  FILE:LINE:COLUMN path.to.field: what is wrong and how to fix it
Exit 0 when the file is good, 1 when it has problems, 2 on a usage mistake.
No network call is made: remote key sets and IdPs are not contacted.`,
  },
  async run(p) {
    const file = configPath(p);
    const prep = await prepareConfig(file);
    if (prep) { process.stderr.write(`portcullis: ${prep}\n`); return 1; }
    const { checkConfigFile } = await import('../server/check.js');
    try {
      const plan = await checkConfigFile(file);
      process.stdout.write(`portcullis: ${file}: ok (${plan.config.routes.length} routes, ${Object.keys(plan.config.upstreams).length} upstreams)\n`);
      return 0;
    } catch (e) {
      if (e instanceof ConfigError) { printConfigError(e); return 1; }
      process.stderr.write(`portcullis: ${file}: ${(e as Error).message}\n`);
      return 1;
    }
  },
};
