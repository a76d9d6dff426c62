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

describe('cert-manager manifests with only the API group changed (no convert)', () => {
  it('apply as they are, except what certkeeper does not serve, which the API server refuses saying why', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const accepted: string[] = [];
    const refused: Record<string, string> = {};
    for (const file of readdirSync(corpus).filter((f) => /\.ya?ml$/.test(f)).sort()) {
      const docs = (loadAll(readFileSync(path.join(corpus, file), 'utf8')) as { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } }[]).filter(Boolean);
      for (const doc of docs) {
        if (doc.apiVersion !== 'cert-manager.io/v1' || !['Issuer', 'ClusterIssuer', 'Certificate'].includes(doc.kind ?? '')) continue;
        const edited = { ...doc, apiVersion: 'certkeeper.io/v1alpha1', metadata: { ...doc.metadata, ...(doc.metadata?.namespace ? { namespace: ns } : {}) } };
        const id = `${file} ${doc.kind} ${doc.metadata?.name}`;
        try {
          await kubectl(['apply', '--dry-run=server', '-f', '-'], JSON.stringify(edited));
          accepted.push(id);
        } catch (error) {
          refused[id] = (error as { stderr: string }).stderr;
        }
      }
    }
    // What certkeeper does not serve is refused, with the reason in the message; nothing else
    // (selfSigned and ca issuers, and isCA, uris and emails, which an ACME issuer refuses at sync time, apply).
    expect(Object.keys(refused).sort()).toEqual([
      '18-certificate-ed25519-uris.yaml Certificate mesh-gateway',
      '19-external-issuer.yaml Certificate internal-api',
      '28-cluster-ca-subject-and-sans.yaml Certificate kerberos-gateway',
      '28-cluster-ca-subject-and-sans.yaml Certificate partner-intermediate',
      '31-vault-venafi-issuers.yaml ClusterIssuer vault-pki',
      '31-vault-venafi-issuers.yaml Issuer venafi-tpp',
    ]);
    expect(refused['18-certificate-ed25519-uris.yaml Certificate mesh-gateway']).toContain('Ed25519');
    expect(refused['19-external-issuer.yaml Certificate internal-api']).toContain('spec.issuerRef.kind: Unsupported value: "AWSPCAClusterIssuer"');
    expect(refused['28-cluster-ca-subject-and-sans.yaml Certificate kerberos-gateway']).toContain('otherNames cannot be requested');
    expect(refused['28-cluster-ca-subject-and-sans.yaml Certificate partner-intermediate']).toContain('nameConstraints cannot be requested');
    expect(refused['31-vault-venafi-issuers.yaml ClusterIssuer vault-pki']).toContain('unknown field "spec.vault"');
    expect(refused['31-vault-venafi-issuers.yaml Issuer venafi-tpp']).toContain('unknown field "spec.venafi"');
    // Every other issuer and Certificate of the corpus applies unchanged.
    expect(accepted).toHaveLength(38);
  });
});

describe('certkeeper convert', () => {
  it('converts the corpus without a cluster, and the API server accepts every object it writes', async () => {
    // No kubeconfig and no proxy: the command must not need either.
    const { stdout, stderr } = await run(process.execPath, [path.join(repoRoot, 'bin/certkeeper.js'), 'convert', '-f', corpus], {
      env: { PATH: process.env.PATH, KUBECONFIG: '/nonexistent', HTTPS_PROXY: 'http://127.0.0.1:9' },
      maxBuffer: 16 * 1024 * 1024,
    });
    expect(stderr).toMatch(/^certkeeper convert: 47 converted, 3 passed through unchanged, 10 skipped; \d+ thing\(s\) not carried over:/);
    expect(stderr).toContain('Certificate mesh/mesh-gateway: spec.uris');
    expect(stderr).toContain('Certificate edge/edge-ca: spec.isCA');
    expect(stderr).not.toContain('monitoring-operator');
    expect(stdout).not.toMatch(/cert-manager\.io\/(inject-|allow-direct-injection)/);
    const objects = (loadAll(stdout) as { kind: string; apiVersion: string; metadata: { namespace?: string; name: string } }[]).filter(Boolean);
    expect(objects.filter((o) => o.apiVersion === 'certkeeper.io/v1alpha1').length).toBeGreaterThanOrEqual(18);
    // Into this test's namespace (the corpus uses many); ClusterIssuers stay cluster-scoped.
    for (const object of objects) if (object.metadata.namespace !== undefined) object.metadata.namespace = ns;
    const { stdout: applied } = await kubectl(['apply', '--dry-run=server', '-f', '-'], objects.map((o) => dump(o)).join('---\n'));
    expect(applied.trim().split('\n')).toHaveLength(objects.length);
  });

  it('writes a chart\'s selfSigned → root CA → ca issuer chain and its webhook configurations so they are stored as written', async () => {
    const { stdout } = await run(process.execPath, [path.join(repoRoot, 'bin/certkeeper.js'), 'convert', '-f', path.join(corpus, '27-ca-chain-admission.yaml')]);
    const objects = (loadAll(stdout) as { kind: string; apiVersion: string; metadata: { namespace?: string; name: string; annotations?: Record<string, string> }; spec?: Record<string, unknown>; webhooks?: unknown[] }[]).filter(Boolean);
    // Cluster-scoped names made unique to this run; namespaced objects into this test's namespace.
    const suffix = ns.slice(ns.lastIndexOf('-'));
    for (const object of objects) {
      if (object.metadata.namespace !== undefined) object.metadata.namespace = ns;
      else object.metadata.name += suffix;
    }
    const created: string[] = [];
    try {
      await kubectl(['create', '-f', '-'], objects.map((o) => dump(o)).join('---\n'));
      created.push(...objects.filter((o) => o.metadata.namespace === undefined).map((o) => `${o.kind.toLowerCase()}/${o.metadata.name}`));
      const stored = async (kind: string, name: string) => JSON.parse((await kubectl(['get', kind, name, '-n', ns, '-o', 'json'])).stdout) as typeof objects[number];
      // An empty selfSigned: {} is kept (not pruned), so the operator reads the issuer type it was given.
      expect((await stored('issuers.certkeeper.io', 'monitoring-operator-root')).spec).toEqual({ selfSigned: {} });
      expect((await stored('issuers.certkeeper.io', 'monitoring-operator-ca')).spec).toEqual({ ca: { secretName: 'monitoring-operator-root-cert' } });
      expect((await stored('certificates.certkeeper.io', 'monitoring-operator-root-cert')).spec).toMatchObject({ isCA: true, commonName: 'ca.webhook.monitoring-operator', duration: '43800h0m0s' });
      for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
        const written = objects.find((o) => o.kind === kind)!;
        const object = await stored(kind.toLowerCase(), written.metadata.name);
        expect(object.metadata.annotations).toEqual({ 'certkeeper.io/inject-ca-from': 'monitoring/monitoring-operator-admission' });
        expect(object.webhooks).toMatchObject(written.webhooks!);
      }
    } finally {
      for (const name of created) await kubectl(['delete', '--ignore-not-found', name]);
    }
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
