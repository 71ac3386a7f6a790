// portcullis config print: the effective config — every default filled in,
// durations and sizes in user units, secrets redacted.
import { stringify } from 'yaml';
import { loadConfigFile } from '../config/load.js';
import { ConfigError } from '../config/errors.js';
import { humanize } from '../config/humanize.js';
import { configSchema } from '../config/schema.js';
import { redactConfig } from '../observe/redact.js';
import { one, UsageError } from './args.js';
import { CONFIG_OPTION, configPath, printConfigError, type Command } from './common.js';
import { prepareConfig } from './demo-key.js';

export const configPrint: Command = {
  spec: {
    name: 'config print',
    summary: 'Print the effective config: defaults filled in, durations and sizes in user units, secrets redacted.',
    options: [CONFIG_OPTION, { name: 'format', value: 'yaml|json', help: 'output format (default yaml)' }],
    args: [],
  },
  async run(p) {
    const format = one(p, 'format') ?? 'yaml';
    if (format !== 'yaml' && format !== 'json') throw new UsageError(configPrint.spec, `--format ${format}: yaml or json`);
    const file = configPath(p);
    const prep = await prepareConfig(file);
    if (prep) { process.stderr.write(`portcullis: ${prep}\n`); return 1; }
    let plan;
    try {
      plan = loadConfigFile(file);
    } catch (e) {
      if (e instanceof ConfigError) { printConfigError(e); return 1; }
      throw e;
    }
    const effective = redactConfig(humanize(configSchema, plan.config));
    process.stdout.write(format === 'json' ? `${JSON.stringify(effective, null, 2)}\n` : `# effective config of ${file}\n${stringify(effective, { lineWidth: 0 })}`);
    return 0;
  },
};
