import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderCrdFiles } from './crd-files.ts';
import { customResourceDefinitions, toStructural } from './crds.ts';

const crdDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../crds');

describe('CRDs', () => {
  it('crds/ holds exactly what src/api generates (run `npm run crds` after changing a schema)', () => {
    const generated = renderCrdFiles();
    const onDisk = readdirSync(crdDir).filter((f) => f.endsWith('.yaml')).sort();
    expect(onDisk).toEqual(Object.keys(generated).sort());
    for (const [file, content] of Object.entries(generated)) {
      expect(readFileSync(path.join(crdDir, file), 'utf8'), file).toBe(content);
    }
  });

  it('drops what a structural schema forbids and keeps validation rules', () => {
    const out = toStructural({
      $schema: 'x',
      type: 'object',
      additionalProperties: false,
      properties: {
        email: { type: 'string', format: 'email', pattern: '^js-only$' },
        count: { type: 'integer', maximum: Number.MAX_SAFE_INTEGER },
        free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, additionalProperties: {} },
      },
      'x-kubernetes-validations': [{ rule: 'true' }],
    });
    expect(out).toEqual({
      type: 'object',
      properties: {
        email: { type: 'string', format: 'email' },
        count: { type: 'integer' },
        free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      },
      'x-kubernetes-validations': [{ rule: 'true' }],
    });
  });

  it('describes every field, so kubectl explain is useful', () => {
    const undocumented: string[] = [];
    const walk = (schema: Record<string, unknown>, at: string) => {
      const props = schema.properties as Record<string, Record<string, unknown>> | undefined;
      for (const [name, child] of Object.entries(props ?? {})) {
        const where = `${at}.${name}`;
        if (!child.description && !['apiVersion', 'kind', 'metadata'].includes(name)) undocumented.push(where);
        walk(child, where);
        if (child.items) walk(child.items as Record<string, unknown>, `${where}[]`);
      }
    };
    for (const crd of Object.values(customResourceDefinitionsForTest())) walk(crd, '');
    expect(undocumented).toEqual([]);
  });
});

function customResourceDefinitionsForTest(): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [file, crd] of Object.entries(customResourceDefinitions())) {
    const spec = crd.spec as { versions: { schema: { openAPIV3Schema: Record<string, unknown> } }[] };
    out[file] = spec.versions[0]!.schema.openAPIV3Schema;
  }
  return out;
}
