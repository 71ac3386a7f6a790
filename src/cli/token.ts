// portcullis token: mint a JWT from a local private key, to try a config
// (the demo's key by default; never for production credentials).
import { readFileSync } from 'node:fs';
import { loadConfigFile } from '../config/load.js';
import { ConfigError } from '../config/errors.js';
import { parseDuration } from '../config/units.js';
import { ALGORITHMS } from '../config/schema.js';
import { many, one, UsageError, type Parsed } from './args.js';
import { CONFIG_OPTION, configPath, DEFAULT_CONFIG, printConfigError, type Command } from './common.js';
import { DEMO_AUDIENCE, DEMO_ISSUER, ensureDemoKeys } from './demo-key.js';

export const token: Command = {
  spec: {
    name: 'token',
    summary: 'Mint a test JWT from a local private key (the demo key when --key is not given).',
    options: [
      { name: 'key', value: 'FILE', help: 'private key: a JWK (JSON) or PKCS#8 PEM file; default: the demo key under .demo/' },
      { name: 'alg', value: 'ALG', help: 'signing algorithm (default: the JWK\'s alg, else RS256)' },
      { name: 'kid', value: 'KID', help: 'key id in the header (default: the JWK\'s kid)' },
      CONFIG_OPTION,
      { name: 'authenticator', value: 'NAME', help: 'take issuer and audience from this jwt authenticator of the config' },
      { name: 'iss', value: 'ISSUER', help: 'iss claim' },
      { name: 'aud', value: 'AUDIENCE', repeat: true, help: 'aud claim' },
      { name: 'sub', value: 'SUBJECT', help: 'sub claim (default "test-user")' },
      { name: 'scope', value: "'A B'", help: 'scope claim (space-separated)' },
      { name: 'ttl', value: 'DURATION', help: 'lifetime (default 1h)' },
      { name: 'claim', value: 'NAME=VALUE', repeat: true, help: 'another claim; VALUE is JSON when it parses (["a","b"], 3, true), else a string' },
    ],
    args: [],
    details: `Examples:
  portcullis token --sub alice --scope orders:read --claim region=eu      # for the demo config
  portcullis token --key signing.jwk.json --config my.yaml --authenticator api-jwt --sub bob`,
  },
  async run(p) {
    const claims = claimsFrom(p);
    const ttlText = one(p, 'ttl') ?? '1h';
    const ttl = parseDuration(ttlText);
    if (Number.isNaN(ttl) || ttl <= 0) throw new UsageError(token.spec, `--ttl "${ttlText}" is not a duration; write e.g. 15m or 1h`);
    const jose = await import('jose');
    let iss = one(p, 'iss');
    let aud: string[] = [...many(p, 'aud')];
    let jwk: Record<string, unknown> | null = null;
    let pem: string | null = null;
    const keyFile = one(p, 'key');
    if (keyFile) {
      let text: string;
      try { text = readFileSync(keyFile, 'utf8'); } catch (e) {
        process.stderr.write(`portcullis token: cannot read --key ${keyFile}: ${(e as NodeJS.ErrnoException).code}\n`);
        return 1;
      }
      if (text.includes('-----BEGIN')) pem = text;
      else {
        try { jwk = JSON.parse(text) as Record<string, unknown>; } catch {
          process.stderr.write(`portcullis token: ${keyFile} is neither a JWK (JSON) nor a PEM private key\n`);
          return 1;
        }
        if (Array.isArray((jwk as { keys?: unknown }).keys)) jwk = ((jwk as { keys: Record<string, unknown>[] }).keys)[0] ?? null;
        if (!jwk || jwk.d === undefined && jwk.k === undefined) {
          process.stderr.write(`portcullis token: ${keyFile} holds a public key; a token is signed with the private key (the JWK with "d")\n`);
          return 1;
        }
      }
    } else {
      jwk = await ensureDemoKeys();
      iss ??= DEMO_ISSUER;
      if (!aud.length) aud = [DEMO_AUDIENCE];
    }
    const name = one(p, 'authenticator');
    if (name) {
      const file = configPath(p);
      let a;
      try { a = loadConfigFile(file).config.authenticators[name]; } catch (e) {
        if (e instanceof ConfigError) { printConfigError(e); return 1; }
        throw e;
      }
      if (!a || a.type !== 'jwt') {
        process.stderr.write(`portcullis token: ${file} has no jwt authenticator "${name}"\n`);
        return 1;
      }
      iss ??= Array.isArray(a.issuer) ? a.issuer[0] : a.issuer;
      if (!aud.length && a.audience !== undefined) aud = Array.isArray(a.audience) ? [a.audience[0]!] : [a.audience];
    } else if (one(p, 'config') && configPath(p) !== DEFAULT_CONFIG) {
      throw new UsageError(token.spec, '--config is only read with --authenticator NAME');
    }
    const alg = one(p, 'alg') ?? (typeof jwk?.alg === 'string' ? jwk.alg : 'RS256');
    if (!(ALGORITHMS as readonly string[]).includes(alg)) throw new UsageError(token.spec, `--alg ${alg}: one of ${ALGORITHMS.join(', ')}`);
    let key;
    try {
      key = pem ? await jose.importPKCS8(pem, alg) : await jose.importJWK(jwk as never, alg);
    } catch (e) {
      process.stderr.write(`portcullis token: the key cannot sign ${alg}: ${(e as Error).message}\n`);
      return 1;
    }
    const kid = one(p, 'kid') ?? (typeof jwk?.kid === 'string' ? jwk.kid : undefined);
    const jwt = new jose.SignJWT({ sub: one(p, 'sub') ?? 'test-user', ...(one(p, 'scope') ? { scope: one(p, 'scope') } : {}), ...claims })
      .setProtectedHeader({ alg, typ: 'JWT', ...(kid ? { kid } : {}) })
      .setIssuedAt()
      .setExpirationTime(Math.floor((Date.now() + ttl) / 1000));
    if (iss) jwt.setIssuer(iss);
    if (aud.length) jwt.setAudience(aud.length === 1 ? aud[0]! : aud);
    process.stdout.write(`${await jwt.sign(key)}\n`);
    return 0;
  },
};

function claimsFrom(p: Parsed): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of many(p, 'claim')) {
    const i = c.indexOf('=');
    if (i <= 0) throw new UsageError(token.spec, `--claim "${c}" is not NAME=VALUE`);
    const v = c.slice(i + 1);
    let value: unknown = v;
    try { value = JSON.parse(v); } catch { /* a plain string */ }
    setPath(out, c.slice(0, i), value);
  }
  return out;
}

/** `realm_access.roles=["admin"]` nests, as Keycloak's claims do. */
function setPath(o: Record<string, unknown>, dotted: string, v: unknown): void {
  const parts = dotted.split('.');
  let cur = o;
  for (const k of parts.slice(0, -1)) cur = (cur[k] ??= {}) as Record<string, unknown>;
  cur[parts[parts.length - 1]!] = v;
}
