// `type: api_key` config → an ApiKeyAuthenticator.
import type { CompileContext } from '../../config/load.js';
import type { ApiKeyConfig } from '../../config/schema.js';
import { ApiKeyAuthenticator } from './authenticator.js';
import { loadKeys } from './keys-file.js';

export function compileApiKey(name: string, cfg: ApiKeyConfig, at: string, ctx: CompileContext): ApiKeyAuthenticator {
  const file = ctx.resolvePath(cfg.keys_file);
  const entries = loadKeys(file, (msg) => ctx.issue(`${at}.keys_file`, msg));
  const source = 'header' in cfg.from ? { header: cfg.from.header.toLowerCase() } : { query: cfg.from.query };
  return new ApiKeyAuthenticator(name, source, entries);
}
