// `certkeeper convert` as a user runs it (the built CLI, no cluster, no
// network) on the cert-manager corpus, and its output applied to the real API
// server with --dry-run=server: every converted object passes the CRDs'
// schemas and CEL rules (and the Ingress and Gateway schemas).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { dump, loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../src/kube/client.ts';
import { repoRoot } from './env/tools.ts';
import { createNamespace, kubeClient, kubectl } from './helpers.ts';

const run = promisify(execFile);
const corpus = path.join(repoRoot, 'test/fixtures/cert-manager');

let kube: KubeClient;
let ns: string;

beforeAll(async () => {
  kube = await kubeClient();
  ns = await createNamespace(kube, 'convert');
});

afterAll(() => kube?.close());

describe('certkeeper convert', () => {
  it('converts the corpus without a cluster, and the API server accepts every object it writes', async () => {
    // No kubeconfig and no proxy: the command must not need either.
    const { stdout, stderr } = await run(process.execPath, [path.join(repoRoot, 'bin/certkeeper.js'), 'convert', '-f', corpus], {
      env: { PATH: process.env.PATH, KUBECONFIG: '/nonexistent', HTTPS_PROXY: 'http://127.0.0.1:9' },
      maxBuffer: 16 * 1024 * 1024,
    });
    expect(stderr).toMatch(/^certkeeper convert: 24 converted, 2 passed through unchanged, 6 skipped; \d+ thing\(s\) not carried over:/);
    expect(stderr).toContain('Certificate mesh/mesh-gateway: spec.uris');
    const objects = (loadAll(stdout) as { kind: string; apiVersion: string; metadata: { namespace?: string; name: string } }[]).filter(Boolean);
    expect(objects.filter((o) => o.apiVersion === 'certkeeper.io/v1alpha1').length).toBeGreaterThanOrEqual(18);
    // Into this test's namespace (the corpus uses many); ClusterIssuers stay cluster-scoped.
    for (const object of objects) if (object.metadata.namespace !== undefined) object.metadata.namespace = ns;
    const { stdout: applied } = await kubectl(['apply', '--dry-run=server', '-f', '-'], objects.map((o) => dump(o)).join('---\n'));
    expect(applied.trim().split('\n')).toHaveLength(objects.length);
  });

  it('reads stdin and says which file is not YAML', async () => {
    const child = run(process.execPath, [path.join(repoRoot, 'bin/certkeeper.js'), 'convert']);
    child.child.stdin!.end('apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: a, namespace: b}\nspec: {secretName: a-tls, dnsNames: [a.example.com], issuerRef: {name: le, kind: ClusterIssuer}}\n');
    const { stdout } = await child;
    expect(loadAll(stdout)).toEqual([{ apiVersion: 'certkeeper.io/v1alpha1', kind: 'Certificate', metadata: { name: 'a', namespace: 'b' }, spec: { secretName: 'a-tls', dnsNames: ['a.example.com'], issuerRef: { name: 'le', kind: 'ClusterIssuer' }, privateKey: { algorithm: 'RSA', encoding: 'PKCS1' } } }]);

    const dir = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-convert-'));
    try {
      writeFileSync(path.join(dir, 'broken.yaml'), 'kind: Certificate\nspec: [unclosed\n');
      const failed = await run(process.execPath, [path.join(repoRoot, 'bin/certkeeper.js'), 'convert', '-f', path.join(dir, 'broken.yaml')]).catch((e: { code: number; stderr: string }) => e);
      expect(failed).toMatchObject({ code: 2 });
      expect((failed as { stderr: string }).stderr).toContain('broken.yaml: not YAML or JSON');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
