// Writes native-config/portcullis.schema.json from the zod schema (npm run build),
// so editors validate portcullis.yaml with the same rules as `portcullis check`.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { editorSchema } from './editor-schema.js';

export function jsonSchema(): object {
  const s = editorSchema();
  delete s['x-undocumented']; // reported by the reference test, not shipped to editors
  return s;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../native-config/portcullis.schema.json');
  writeFileSync(out, JSON.stringify(jsonSchema(), null, 2) + '\n');
}
