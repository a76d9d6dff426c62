// Writes crds/*.yaml from the zod schemas in src/api.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCrdFiles } from '../src/api/crd-files.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
for (const [file, content] of Object.entries(renderCrdFiles())) {
  writeFileSync(path.join(root, 'crds', file), content);
  console.log(`wrote crds/${file}`);
}
