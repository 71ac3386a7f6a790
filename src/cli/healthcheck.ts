// portcullis healthcheck: exit 0 when the running gateway is ready (for a
// container HEALTHCHECK or a monitoring probe). Asks the admin listener's
// /readyz, which needs no token.
import { loadConfigFile } from '../config/load.js';
import { ConfigError } from '../config/errors.js';
import { parseDuration } from '../config/units.js';
import { one, UsageError } from './args.js';
import { CONFIG_OPTION, configPath, printConfigError, type Command } from './common.js';

export const healthcheck: Command = {
  spec: {
    name: 'healthcheck',
    summary: 'Exit 0 when the gateway on this machine is ready (GET /readyz on the admin listener), 1 when not.',
    options: [
      CONFIG_OPTION,
      { name: 'url', value: 'URL', help: 'readiness URL to ask instead of the config\'s admin.listen (e.g. http://127.0.0.1:9901/readyz)' },
      { name: 'timeout', value: 'DURATION', help: 'give up after this long (default 2s)' },
    ],
    args: [],
    details: `Dockerfile:  HEALTHCHECK CMD ["portcullis", "healthcheck", "--config", "/etc/portcullis/portcullis.yaml"]
/readyz is 503 while the gateway drains (SIGTERM) and before its first config is live.`,
  },
  async run(p) {
    const timeoutText = one(p, 'timeout') ?? '2s';
    const timeout = parseDuration(timeoutText);
    if (Number.isNaN(timeout) || timeout <= 0) throw new UsageError(healthcheck.spec, `--timeout "${timeoutText}" is not a duration; write e.g. 500ms or 2s`);
    let url = one(p, 'url');
    if (url === undefined) {
      const file = configPath(p);
      let admin;
      try {
        admin = loadConfigFile(file).config.admin;
      } catch (e) {
        if (e instanceof ConfigError) { printConfigError(e); return 1; }
        throw e;
      }
      if (!admin) {
        process.stderr.write(`portcullis healthcheck: ${file} has no admin section, so there is no /readyz to ask; add admin: { listen: { host: 127.0.0.1, port: 9901 } } or pass --url\n`);
        return 1;
      }
      const h = admin.listen.host;
      const host = h === '0.0.0.0' || h === '' ? '127.0.0.1' : h === '::' ? '[::1]' : h.includes(':') ? `[${h}]` : h;
      url = `http://${host}:${admin.listen.port}/readyz`;
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeout), redirect: 'manual' });
      const body = (await res.text()).trim();
      if (res.status === 200) { process.stdout.write(`ready: ${url}\n`); return 0; }
      process.stderr.write(`not ready: ${url} answered ${res.status}${body ? `: ${body.replace(/\s+/g, ' ').slice(0, 500)}` : ''}\n`);
      return 1;
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      const why = err.name === 'TimeoutError' ? `no answer within ${timeoutText}` : err.cause?.code ?? err.message;
      process.stderr.write(`not ready: ${url}: ${why}\n`);
      return 1;
    }
  },
};
