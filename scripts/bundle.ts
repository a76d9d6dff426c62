// Bundles the operator for the image: src/main.ts and everything it imports,
// production dependencies included, into dist-bundle/ (ESM, Node 24), so the
// image ships no node_modules. Libraries loaded lazily with import() (acme-client,
// @kubernetes/client-node, the operator, the account CLI) stay separate chunks
// that load only when used. No minification of names, so stack traces read
// as the source does.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist-bundle');
rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'external',
  chunkNames: 'chunks/[name]-[hash]',
  // CommonJS dependencies (pino, prom-client, acme-client) call require() for Node's own modules.
  banner: { js: "import { createRequire as __certkeeperCreateRequire } from 'node:module'; const require = __certkeeperCreateRequire(import.meta.url);" },
  metafile: true,
  logLevel: 'warning',
});
const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
console.log(`bundled into ${path.relative(root, outdir)}/: ${Object.keys(result.metafile.outputs).length} files, ${(bytes / 1024 / 1024).toFixed(1)} MiB`);
