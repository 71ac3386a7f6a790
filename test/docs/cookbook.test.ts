// Every whole config in the IdP cookbook and the migration guides passes
// `portcullis check` as written (a YAML block with `routes:` is a whole config).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, ROOT, tempDir } from '../helpers/gateway.js';

const dir = tempDir('portcullis-docs-');
// The secrets the examples read from the environment, as systemd's EnvironmentFile would set them.
const env = { ...process.env, OIDC_CLIENT_SECRET: 'client-secret-for-the-check', PORTCULLIS_SESSION_SECRET: 's'.repeat(64) };

function configsIn(doc: string): { title: string; yaml: string }[] {
  const text = readFileSync(path.join(ROOT, 'docs', doc), 'utf8');
  const out: { title: string; yaml: string }[] = [];
  let title = doc;
  const re = /^## (.+)$|^```yaml\n([\s\S]*?)^```$/gm;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[1] !== undefined) title = m[1];
    else if (/^routes:/m.test(m[2]!)) out.push({ title, yaml: m[2]! });
  }
  return out;
}

for (const doc of ['cookbook.md', 'migrating.md']) {
  describe(`docs/${doc}`, () => {
    const configs = configsIn(doc);
    it('has whole configs to check', () => expect(configs.length).toBeGreaterThanOrEqual(doc === 'cookbook.md' ? 5 : 2));
    configs.forEach((c, i) => {
      it(`${c.title}: portcullis check passes`, () => {
        const f = path.join(dir, `${doc}-${i}.yaml`);
        writeFileSync(f, c.yaml);
        const r = spawnSync(process.execPath, [CLI, 'check', '--config', f], { encoding: 'utf8', env, timeout: 30_000 });
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
      });
    });
  });
}

it('the cookbook covers Keycloak (realm_access.roles), Auth0, Okta, Entra ID and Google', () => {
  const titles = configsIn('cookbook.md').map((c) => c.title).join(' | ');
  for (const idp of ['Keycloak', 'Auth0', 'Okta', 'Entra ID', 'Google']) expect(titles).toContain(idp);
  expect(configsIn('cookbook.md').find((c) => c.title === 'Keycloak')!.yaml).toContain('roles_claim: realm_access.roles');
});
