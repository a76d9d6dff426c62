// The DNS providers' code and SDKs are loaded only when a solver of their kind
// is used: nothing the operator process imports statically (src/main.ts and the
// operator.ts it loads, following `import ... from` but not `import type` or
// `import()`) reaches a provider folder or a cloud SDK.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** The static value imports of a module: relative files resolved, packages by name. */
function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*import\s+(type\s+)?([^'"]*?)\s*from\s*'([^']+)'|^\s*import\s+'([^']+)'/gm)) {
    if (m[1]) continue; // import type: erased
    const clause = m[2] ?? '';
    // `import { type A, type B } from` is erased too.
    if (/^\{[^}]*\}$/.test(clause) && clause.slice(1, -1).split(',').every((part) => part.trim() === '' || part.trim().startsWith('type '))) continue;
    const specifier = m[3] ?? m[4]!;
    out.push(specifier.startsWith('.') ? path.resolve(path.dirname(file), specifier) : specifier);
  }
  return out;
}

function reachable(...entries: string[]): Set<string> {
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const next = queue.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    if (next.startsWith('/') && next.endsWith('.ts')) queue.push(...staticImports(next));
  }
  return seen;
}

describe('lazy loading of DNS providers', () => {
  it('keeps every provider module and cloud SDK out of the operator\'s static import graph', () => {
    // main.ts loads operator.ts with import() when the controller starts.
    const graph = [...reachable(path.join(src, 'main.ts'), path.join(src, 'operator.ts'))];
    // The walk does reach the dns01 factory.
    expect(graph).toContain(path.join(src, 'solvers/dns01-handle.ts'));
    expect(graph).toContain(path.join(src, 'controllers/certificate/controller.ts'));
    const providers = graph.filter((f) => /\/solvers\/dns01\/(route53|clouddns|cloudflare|azuredns|digitalocean|acmedns|webhook)\//.test(f) || f.endsWith('/rfc2136-solver.ts'));
    const sdks = graph.filter((f) => /^(@aws-sdk|@azure|google-auth-library|@smithy)/.test(f));
    expect(providers).toEqual([]);
    expect(sdks).toEqual([]);
  });

  it('would notice a static import (the check can fail)', () => {
    expect(staticImports(path.join(src, 'solvers/dns01/route53/index.ts'))).toContain('@aws-sdk/client-route-53');
    expect(staticImports(path.join(src, 'solvers/dns01/route53/index.ts'))).not.toContain('zod'); // import type { z }
  });
});
