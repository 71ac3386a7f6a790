// portcullis start: run the gateway until SIGTERM/SIGINT.
import { ConfigError } from '../config/errors.js';
import { log } from '../observe/log.js';
import { CONFIG_OPTION, configPath, printConfigError, type Command } from './common.js';
import { prepareConfig } from './demo-key.js';

export const start: Command = {
  spec: {
    name: 'start',
    summary: 'Run the gateway.',
    options: [CONFIG_OPTION],
    args: [],
    details: `The config is checked exactly as \`portcullis check\` does; on any problem
nothing starts and every problem is listed (exit 1).

Signals: SIGHUP reloads the config (a bad file keeps the running one),
SIGTERM/SIGINT drain in-flight requests and exit, SIGUSR1 reopens the access log.`,
  },
  async run(p) {
    const file = configPath(p);
    const prep = await prepareConfig(file);
    if (prep) { process.stderr.write(`portcullis: ${prep}\n`); return 1; }
    const { startGateway } = await import('../server/main.js');
    let r;
    try {
      r = await startGateway(file);
    } catch (e) {
      if (e instanceof ConfigError) { printConfigError(e); return 1; }
      log.error('failed to start', { error: (e as Error).message });
      return 1;
    }
    const running = r;
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info('stopping: draining in-flight requests', { signal });
      void running.stop().then(() => {
        log.info('stopped');
        process.exit(0);
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => { void running.reload(); });
    process.on('SIGUSR1', () => running.reopenLogs());
    return -1;
  },
};
