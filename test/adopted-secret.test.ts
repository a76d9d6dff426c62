// A TLS Secret someone else made (cert-manager, before a migration: no
// certkeeper label) stays in the cache of unlabelled Secrets as metadata only.
// Its Certificate is Ready without an order, and its syncs must not read the
// Secret from the API server each time: a cluster migrated from cert-manager
// holds thousands of them until each is renewed. The witness is a counting
// proxy between the operator and the real API server (GETs of that Secret).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countingProxy, type ApiCounter } from '../scripts/bench/api-count.ts';
import { createLocalCa } from '../scripts/bench/local-ca.ts';
import { API_VERSION } from '../src/api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { getOrders } from './env/ca-client.ts';
import { createEabIssuer, createNamespace, env, kubeClient, waitFor } from './helpers.ts';
import { allOperatorOutput, startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const certificates = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'certificates', namespaced: true };

interface CertificateObject extends KubeObject {
  status?: { conditions?: { type: string; status: string; reason: string }[]; revision?: number };
}

let kube: KubeClient;
let operator: OperatorProcess;
let proxy: ApiCounter;
let workDir: string;
let namespace: string;
let systemNamespace: string;

beforeAll(async () => {
  kube = await kubeClient();
  workDir = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-adopted-'));
  proxy = await countingProxy({ kubeconfig: env().kubeconfig, ca: await createLocalCa('adopted-secret test proxy'), kubeconfigOut: path.join(workDir, 'kubeconfig.json') });
  systemNamespace = await createNamespace(kube, 'adopted-system');
  namespace = await createNamespace(kube, 'adopted');
  operator = await startOperatorProcess({ clusterResourceNamespace: systemNamespace, kubeconfig: proxy.kubeconfig });
});

afterAll(async () => {
  await operator?.stop();
  await proxy?.close();
  kube?.close();
  rmSync(workDir, { recursive: true, force: true });
});

/** Syncs of the Certificate so far, from the operator's debug log. */
const syncs = (key: string) => operator.records().filter((r) => r.msg === 'reconciled' && r.controller === 'certificate' && r.key === key).length;

describe('a TLS Secret certkeeper did not write', () => {
  it('is read once per version, not on every sync of its Certificate', async () => {
    await createEabIssuer(kube, namespace);
    const dnsName = `adopted-${randomBytes(3).toString('hex')}.${env().dns.zone}`;
    const ca = await createLocalCa('cert-manager stand-in');
    const { certificatePem, keyPem } = await ca.issue({ dnsNames: [dnsName] });
    // As cert-manager leaves it: its annotations, no certkeeper label.
    await kube.create(core.secrets, {
      apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls',
      metadata: { name: 'web-tls', namespace, annotations: { 'cert-manager.io/certificate-name': 'web', 'cert-manager.io/issuer-name': 'gts', 'cert-manager.io/issuer-kind': 'Issuer' } },
      data: { 'tls.crt': Buffer.from(certificatePem).toString('base64'), 'tls.key': Buffer.from(keyPem).toString('base64') },
    } as KubeObject);
    await kube.create(certificates, {
      apiVersion: API_VERSION, kind: 'Certificate', metadata: { name: 'web', namespace },
      spec: { secretName: 'web-tls', dnsNames: [dnsName], issuerRef: { name: 'gts' } },
    } as KubeObject);
    const key = `${namespace}/web`;
    const ready = await waitFor('the Certificate to be Ready on the Secret it found', async () => {
      const object = await kube.get<CertificateObject>(certificates, namespace, 'web');
      return object?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? object : undefined;
    });
    expect(ready.status!.revision).toBeUndefined();
    expect((await getOrders(env().acme.managementUrl)).filter((o) => o.identifiers.some((i) => i.value === dnsName))).toHaveLength(0);

    const secretPath = `/api/v1/namespaces/${namespace}/secrets/web-tls`;
    const reads = async () => (await proxy.snapshot()).gets[secretPath] ?? 0;
    // Wait for the syncs the status write itself caused, then count from there.
    await waitFor('the Certificate\'s syncs to settle', async () => {
      const before = syncs(key);
      await new Promise((resolve) => setTimeout(resolve, 500));
      return syncs(key) === before && before > 0;
    });
    const readsBefore = await reads();
    expect(readsBefore).toBeGreaterThanOrEqual(1);

    // Three more syncs (a label change wakes the Certificate): no read of the unchanged Secret.
    for (let i = 0; i < 3; i++) {
      const before = syncs(key);
      await kube.mergePatch(certificates, namespace, 'web', { metadata: { labels: { touched: String(i) } } });
      await waitFor(`sync ${i + 1} after the label change`, async () => syncs(key) > before);
    }
    expect(await reads()).toBe(readsBefore);

    // The user changes the Secret: the next sync reads the new version, once.
    const before = syncs(key);
    await kube.mergePatch(core.secrets, namespace, 'web-tls', { metadata: { annotations: { 'example.com/note': 'edited' } } });
    await waitFor('a sync after the Secret changed', async () => syncs(key) > before);
    expect(await reads()).toBe(readsBefore + 1);
    const again = syncs(key);
    await kube.mergePatch(certificates, namespace, 'web', { metadata: { labels: { touched: 'again' } } });
    await waitFor('a sync after another label change', async () => syncs(key) > again);
    expect(await reads()).toBe(readsBefore + 1);
    expect((await getOrders(env().acme.managementUrl)).filter((o) => o.identifiers.some((i) => i.value === dnsName))).toHaveLength(0);
    expect(allOperatorOutput.join('\n')).not.toContain(keyPem.split('\n')[1]!);
  });
});
