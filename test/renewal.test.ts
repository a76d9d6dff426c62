// Renewal without anyone touching anything: a CA of its own whose certificates
// live 40 seconds, with Pebble's random badNonce switched on (20 %) so the
// whole path (registration, orders, renewal) survives nonce rejections.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../src/api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { startCa, type RunningCa } from './env/ca.ts';
import { createNamespace, env, kubeClient, waitFor } from './helpers.ts';
import { startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };
const certificates = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'certificates', namespaced: true };

interface CertificateObject extends KubeObject {
  status?: { conditions?: { type: string; status: string; reason: string }[]; revision?: number; notBefore?: string; notAfter?: string; renewalTime?: string };
}

let kube: KubeClient;
let ca: RunningCa;
let operator: OperatorProcess;
let ns: string;
let workDir: string;

beforeAll(async () => {
  kube = await kubeClient();
  workDir = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-renewal-'));
  // Pebble validates HTTP-01 on the port the operator answers on.
  ca = await startCa({ workDir, validityPeriodSeconds: 40, nonceRejectPercent: 20, httpChallengePort: env().acme.httpChallengePort, dnsServer: env().dns.server });
  ns = await createNamespace(kube, 'renewal');
  const eab = await ca.mintEabKey();
  await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'eab', namespace: ns }, stringData: { secret: eab.hmacKey } } as KubeObject);
  await kube.create(issuers, {
    apiVersion: API_VERSION, kind: 'Issuer', metadata: { name: 'short', namespace: ns },
    spec: { acme: {
      server: ca.directoryUrl, email: 'ops@example.com', privateKeySecretRef: { name: 'account' },
      externalAccountBinding: { keyID: eab.keyId, keySecretRef: { name: 'eab' } },
      caBundle: readFileSync(ca.caRootFile).toString('base64'),
      solvers: [{ http01: {} }],
    } },
  } as KubeObject);
  operator = await startOperatorProcess({ clusterResourceNamespace: ns, args: ['--enable-certificate-owner-ref'] });
});

afterAll(async () => {
  await operator?.stop();
  await ca?.stop();
  kube?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('renewal', () => {
  it('renews a short-lived certificate before it expires, without user action', async () => {
    await kube.create(certificates, {
      apiVersion: API_VERSION, kind: 'Certificate', metadata: { name: 'short', namespace: ns },
      spec: { secretName: 'short-tls', issuerRef: { name: 'short' }, dnsNames: [`renew-${process.pid}.${env().dns.zone}`], renewBefore: '25s' },
    } as KubeObject);
    const serialOf = async () => {
      const secret = await kube.get<KubeObject & { data?: Record<string, string> }>(core.secrets, ns, 'short-tls');
      return secret?.data?.['tls.crt'] ? new X509Certificate(Buffer.from(secret.data['tls.crt'], 'base64')) : undefined;
    };
    const first = await waitFor('revision 1', async () => {
      const cert = await kube.get<CertificateObject>(certificates, ns, 'short');
      return cert?.status?.revision === 1 && cert.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? cert : undefined;
    });
    const firstLeaf = (await serialOf())!;
    // --enable-certificate-owner-ref: the Secret goes with its Certificate.
    const owned = await kube.get<KubeObject & { metadata: { ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[] } }>(core.secrets, ns, 'short-tls');
    expect(owned!.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Certificate', name: 'short', uid: first.metadata.uid, controller: true })]);
    // Renewal is scheduled no later than renewBefore (25 s) before expiry, and
    // earlier when the CA's renewal window (ARI) says so; never before issuance.
    const renewal = Date.parse(first.status!.renewalTime!);
    const notAfter = Date.parse(first.status!.notAfter!);
    expect(notAfter - renewal).toBeGreaterThanOrEqual(25_000);
    expect(renewal).toBeGreaterThanOrEqual(Date.parse(first.status!.notBefore!));

    const second = await waitFor('revision 2 (renewed)', async () => {
      const cert = await kube.get<CertificateObject>(certificates, ns, 'short');
      return (cert?.status?.revision ?? 0) >= 2 ? cert : undefined;
    }, { timeoutMs: 60_000 });
    const secondLeaf = (await serialOf())!;
    expect(secondLeaf.serialNumber).not.toBe(firstLeaf.serialNumber);
    // Renewed before the first certificate expired.
    expect(Date.parse(second.status!.notBefore ?? '') || Date.now()).toBeLessThan(notAfter);
    // Events are recorded just after the status write, so wait for it rather than race it.
    await waitFor('the Renewed event', async () => {
      const events = await kube.list<KubeObject & { reason: string; involvedObject: { name: string } }>(core.events, { namespace: ns });
      return events.items.some((e) => e.involvedObject.name === 'short' && e.reason === 'Renewed');
    }, { timeoutMs: 10_000 });
  });
});
