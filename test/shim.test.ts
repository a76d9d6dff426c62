// The Ingress and Gateway shim on the real API server, with the real operator
// process: an annotated Ingress gets a Certificate that is issued over HTTP-01
// by the GTS-like CA; its hosts and annotations follow the Ingress; removing
// the annotation (or the object) removes the Certificate; a Certificate made by
// hand is never touched; Gateways (Gateway API v1) get one per HTTPS listener's
// Secret; cert-manager's annotations count only with the flag.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../src/api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { certificates, gateways } from '../src/controllers/shim/controller.ts';
import { ingresses } from '../src/solvers/http01/routes.ts';
import { mintEabKey } from './env/ca-client.ts';
import { createNamespace, env, kubeClient, waitFor } from './helpers.ts';
import { startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };

interface CertificateObject extends KubeObject {
  spec: { secretName: string; dnsNames?: string[]; issuerRef: { name: string; kind?: string }; duration?: string; commonName?: string };
  status?: { conditions?: { type: string; status: string; observedGeneration?: number }[] };
}
interface EventObject extends KubeObject {
  reason: string;
  message: string;
  type: string;
  involvedObject: { name: string; kind: string };
}

let kube: KubeClient;
let operator: OperatorProcess;
let systemNamespace: string;
let ns: string;
let nameCounter = 0;
/** A unique DNS name the test DNS resolves to 127.0.0.1. */
const testName = (label: string) => `${label}-${process.pid}-${++nameCounter}.certkeeper.test`;

function ingress(name: string, annotations: Record<string, string>, tls: { hosts: string[]; secretName: string }[]) {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: ns, annotations },
    spec: {
      ingressClassName: 'nginx',
      tls,
      rules: tls.flatMap((t) => t.hosts).map((host) => ({ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } })),
    },
  } as KubeObject;
}

const getCertificate = (name: string) => kube.get<CertificateObject>(certificates, ns, name);
const readyCertificate = (c: CertificateObject | undefined) => c?.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True' && x.observedGeneration === c.metadata.generation) ?? false;

async function events(objectName: string, reason: string): Promise<EventObject[]> {
  const list = await kube.list<EventObject>(core.events, { namespace: ns });
  return list.items.filter((e) => e.involvedObject.name === objectName && e.reason === reason);
}

beforeAll(async () => {
  kube = await kubeClient();
  systemNamespace = await createNamespace(kube, 'certkeeper-system');
  ns = await createNamespace(kube, 'shim');
  const eab = await mintEabKey(env().acme.managementUrl);
  await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'eab', namespace: ns }, stringData: { secret: eab.hmacKey } } as KubeObject);
  await kube.create(issuers, {
    apiVersion: API_VERSION,
    kind: 'Issuer',
    metadata: { name: 'gts', namespace: ns },
    spec: {
      acme: {
        server: env().acme.directoryUrl,
        email: 'ops@example.com',
        privateKeySecretRef: { name: 'account-key' },
        externalAccountBinding: { keyID: eab.keyId, keySecretRef: { name: 'eab' } },
        caBundle: readFileSync(env().acme.caRootFile).toString('base64'),
        solvers: [{ http01: { ingress: { ingressClassName: 'nginx' } } }],
      },
    },
  } as KubeObject);
  operator = await startOperatorProcess({ clusterResourceNamespace: systemNamespace });
});

afterAll(async () => {
  await operator?.stop();
  kube?.close();
});

describe('the Ingress shim', () => {
  it('creates a Certificate owned by an annotated Ingress, and it is issued over HTTP-01', async () => {
    const host = testName('shop');
    const created = await kube.create(ingresses, ingress('shop', { 'certkeeper.io/issuer': 'gts', 'certkeeper.io/duration': '2160h' }, [{ hosts: [host], secretName: 'shop-tls' }]));
    const cert = await waitFor('the Certificate to be Ready', async () => {
      const c = await getCertificate('shop-tls');
      return readyCertificate(c) ? c : undefined;
    }, { timeoutMs: 90_000 });
    expect(cert!.spec).toMatchObject({ secretName: 'shop-tls', dnsNames: [host], issuerRef: { name: 'gts', kind: 'Issuer' }, duration: '2160h' });
    expect(cert!.metadata.ownerReferences).toEqual([{ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'shop', uid: created.metadata.uid, controller: true }]);
    const secret = await kube.get<KubeObject & { type: string; data: Record<string, string> }>(core.secrets, ns, 'shop-tls');
    expect(secret!.type).toBe('kubernetes.io/tls');
    expect((await events('shop', 'CreatedCertificate'))).toHaveLength(1);
  });

  it('follows the Ingress: new hosts and annotations change the Certificate, a deleted Certificate comes back', async () => {
    const hosts = [testName('follow'), testName('follow')];
    await kube.create(ingresses, ingress('follow', { 'certkeeper.io/issuer': 'gts' }, [{ hosts: [hosts[0]!], secretName: 'follow-tls' }]));
    await waitFor('the Certificate', () => getCertificate('follow-tls'));
    await kube.mergePatch(ingresses, ns, 'follow', {
      metadata: { annotations: { 'certkeeper.io/common-name': hosts[0]! } },
      spec: { tls: [{ hosts, secretName: 'follow-tls' }, { hosts: [hosts[1]!], secretName: 'follow-tls' }] },
    });
    await waitFor('the new hosts and common name on the Certificate', async () => {
      const c = await getCertificate('follow-tls');
      return c !== undefined && c.spec.commonName === hosts[0] && JSON.stringify(c.spec.dnsNames) === JSON.stringify(hosts);
    });
    const before = (await getCertificate('follow-tls'))!;
    await kube.delete(certificates, ns, 'follow-tls');
    await waitFor('the Certificate to be re-created', async () => {
      const c = await getCertificate('follow-tls');
      return c && c.metadata.uid !== before.metadata.uid ? c : undefined;
    });
  });

  it('deletes the Certificate when the annotation is removed, and when the Ingress is deleted', async () => {
    await kube.create(ingresses, ingress('gone', { 'certkeeper.io/issuer': 'gts' }, [{ hosts: [testName('gone')], secretName: 'gone-tls' }, { hosts: [testName('gone2')], secretName: 'gone2-tls' }]));
    await waitFor('both Certificates', async () => (await getCertificate('gone-tls')) && (await getCertificate('gone2-tls')));
    // Removing one tls entry removes its Certificate only.
    const current = (await kube.get<KubeObject & { spec: { tls: unknown[] } }>(ingresses, ns, 'gone'))!;
    await kube.mergePatch(ingresses, ns, 'gone', { spec: { tls: [current.spec.tls[0]] } });
    await waitFor('the second Certificate to be deleted', async () => (await getCertificate('gone2-tls')) === undefined);
    expect(await getCertificate('gone-tls')).toBeDefined();
    await kube.mergePatch(ingresses, ns, 'gone', { metadata: { annotations: { 'certkeeper.io/issuer': null } } });
    await waitFor('the Certificate to be deleted', async () => (await getCertificate('gone-tls')) === undefined);
    expect((await events('gone', 'DeletedCertificate')).length).toBeGreaterThanOrEqual(1);

    // The test API server runs no garbage collector: the shim removes what it owned itself.
    await kube.create(ingresses, ingress('deleted', { 'certkeeper.io/issuer': 'gts' }, [{ hosts: [testName('deleted')], secretName: 'deleted-tls' }]));
    await waitFor('the Certificate', () => getCertificate('deleted-tls'));
    await kube.delete(ingresses, ns, 'deleted');
    await waitFor('the Certificate to go with the Ingress', async () => (await getCertificate('deleted-tls')) === undefined);
  });

  it('never touches a Certificate made by hand, and says so on the Ingress', async () => {
    const handMade = { secretName: 'mine-tls', issuerRef: { name: 'gts' }, dnsNames: [testName('mine')] };
    await kube.create(certificates, { apiVersion: API_VERSION, kind: 'Certificate', metadata: { name: 'mine-tls', namespace: ns }, spec: handMade } as KubeObject);
    const original = (await getCertificate('mine-tls'))!;
    await kube.create(ingresses, ingress('clash', { 'certkeeper.io/issuer': 'gts' }, [{ hosts: [testName('clash')], secretName: 'mine-tls' }]));
    const [conflict] = await waitFor('a CertificateConflict event', async () => {
      const found = await events('clash', 'CertificateConflict');
      return found.length > 0 ? found : undefined;
    });
    expect(conflict!.type).toBe('Warning');
    expect(conflict!.message).toContain('mine-tls');
    // Removing the annotation must not delete it either.
    await kube.mergePatch(ingresses, ns, 'clash', { metadata: { annotations: { 'certkeeper.io/issuer': null } } });
    await kube.delete(ingresses, ns, 'clash');
    // The operator has handled both changes once the Ingress it watches is gone and a later Ingress is served.
    await kube.create(ingresses, ingress('after-clash', { 'certkeeper.io/issuer': 'gts' }, [{ hosts: [testName('after')], secretName: 'after-clash-tls' }]));
    await waitFor('a later Ingress to be served', () => getCertificate('after-clash-tls'));
    const now = (await getCertificate('mine-tls'))!;
    expect(now.metadata.uid).toBe(original.metadata.uid);
    expect(now.metadata.generation).toBe(original.metadata.generation);
    expect(now.spec).toEqual(original.spec);
    expect(now.metadata.ownerReferences).toBeUndefined();
  });

  it('warns about annotations that have no effect yet, and about invalid ones without changing anything', async () => {
    await kube.create(ingresses, ingress('noted', {
      'certkeeper.io/issuer': 'gts',
      'certkeeper.io/revision-history-limit': '2',
      'certkeeper.io/http01-ingress-class': 'traefik',
    }, [{ hosts: [testName('noted')], secretName: 'noted-tls' }]));
    const [warning] = await waitFor('an AnnotationsIgnored event', async () => {
      const found = await events('noted', 'AnnotationsIgnored');
      return found.length > 0 ? found : undefined;
    });
    expect(warning!.message).toContain('certkeeper.io/revision-history-limit has no effect');
    expect(warning!.message).not.toContain('http01-ingress-class');
    const cert = await waitFor('the Certificate', () => getCertificate('noted-tls'));
    // The ingress class annotation works: it reaches the Certificate, whose challenge Ingresses take that class.
    expect(cert.metadata.annotations).toMatchObject({ 'certkeeper.io/http01-ingress-class': 'traefik' });

    await kube.mergePatch(ingresses, ns, 'noted', { metadata: { annotations: { 'certkeeper.io/duration': 'ninety days' } } });
    const [bad] = await waitFor('a BadAnnotation event', async () => {
      const found = await events('noted', 'BadAnnotation');
      return found.length > 0 ? found : undefined;
    });
    expect(bad!.message).toContain('certkeeper.io/duration');
    const after = (await getCertificate('noted-tls'))!;
    expect(after.metadata.uid).toBe(cert.metadata.uid);
    expect(after.spec.duration).toBeUndefined();
  });

  it('does not read cert-manager.io/ annotations without the flag', async () => {
    await kube.create(ingresses, ingress('cm-off', { 'cert-manager.io/issuer': 'gts' }, [{ hosts: [testName('cmoff')], secretName: 'cm-off-tls' }]));
    await kube.create(ingresses, ingress('cm-off-witness', { 'certkeeper.io/issuer': 'gts' }, [{ hosts: [testName('witness')], secretName: 'cm-off-witness-tls' }]));
    await waitFor('the witness Certificate', () => getCertificate('cm-off-witness-tls'));
    expect(await getCertificate('cm-off-tls')).toBeUndefined();
  });
});

describe('the Gateway shim', () => {
  it('creates one Certificate per HTTPS listener Secret, follows the listeners, and removes it with the Gateway', async () => {
    const [a, b] = [testName('gw'), testName('gw')];
    const created = await kube.create(gateways, {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'edge', namespace: ns, annotations: { 'certkeeper.io/issuer': 'gts' } },
      spec: {
        gatewayClassName: 'example',
        listeners: [
          { name: 'http', protocol: 'HTTP', port: 80, hostname: a },
          { name: 'https', protocol: 'HTTPS', port: 443, hostname: a, tls: { mode: 'Terminate', certificateRefs: [{ kind: 'Secret', name: 'edge-tls' }] } },
        ],
      },
    } as KubeObject);
    const cert = await waitFor('the Certificate to be Ready', async () => {
      const c = await getCertificate('edge-tls');
      return readyCertificate(c) ? c : undefined;
    }, { timeoutMs: 90_000 });
    expect(cert.spec).toMatchObject({ secretName: 'edge-tls', dnsNames: [a] });
    expect(cert.metadata.ownerReferences).toEqual([{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'edge', uid: created.metadata.uid, controller: true }]);

    const gateway = (await kube.get<KubeObject & { spec: { listeners: unknown[] } }>(gateways, ns, 'edge'))!;
    await kube.mergePatch(gateways, ns, 'edge', { spec: { listeners: [...gateway.spec.listeners, { name: 'https-b', protocol: 'HTTPS', port: 443, hostname: b, tls: { certificateRefs: [{ name: 'edge-tls' }] } }] } });
    await waitFor('the second hostname on the Certificate', async () => JSON.stringify((await getCertificate('edge-tls'))?.spec.dnsNames) === JSON.stringify([a, b]));

    await kube.delete(gateways, ns, 'edge');
    await waitFor('the Certificate to go with the Gateway', async () => (await getCertificate('edge-tls')) === undefined);
  });
});

describe('with --ingress-shim-cert-manager-annotations', () => {
  it('serves an Ingress annotated for cert-manager, mapping its annotations', async () => {
    await operator.stop();
    operator = await startOperatorProcess({ clusterResourceNamespace: systemNamespace, args: ['--ingress-shim-cert-manager-annotations'] });
    // The Ingress of the earlier test, unchanged, is now served.
    const cert = await waitFor('the Certificate for cert-manager.io/issuer', () => getCertificate('cm-off-tls'));
    expect(cert.spec.issuerRef).toEqual({ name: 'gts', kind: 'Issuer' });

    await kube.create(ingresses, ingress('cm-on', {
      'cert-manager.io/cluster-issuer': 'letsencrypt',
      'cert-manager.io/renew-before': '360h',
      'cert-manager.io/private-key-algorithm': 'RSA',
      'cert-manager.io/private-key-size': '4096',
      'acme.cert-manager.io/http01-edit-in-place': 'true',
    }, [{ hosts: [testName('cmon')], secretName: 'cm-on-tls' }]));
    const mapped = await waitFor('the Certificate for cert-manager.io/cluster-issuer', () => getCertificate('cm-on-tls'));
    expect(mapped.spec).toMatchObject({ issuerRef: { name: 'letsencrypt', kind: 'ClusterIssuer' }, renewBefore: '360h', privateKey: { algorithm: 'RSA', size: 4096 } });
    // cert-manager's edit-in-place: the Certificate's challenges go through this Ingress (test/edit-in-place.test.ts issues one).
    expect(mapped.metadata.annotations).toMatchObject({ 'certkeeper.io/http01-ingress-name': 'cm-on' });
    await kube.mergePatch(ingresses, ns, 'cm-on', { metadata: { annotations: { 'acme.cert-manager.io/http01-edit-in-place': null } } });
    await waitFor('the edit-in-place annotation to leave the Certificate', async () => {
      const c = await getCertificate('cm-on-tls');
      return c !== undefined && c.metadata.uid === mapped.metadata.uid && c.metadata.annotations?.['certkeeper.io/http01-ingress-name'] === undefined;
    });
    // cert-manager's ingress class annotation reaches the Certificate (the challenge Ingress's class: test/certificate.test.ts).
    await kube.mergePatch(ingresses, ns, 'cm-on', { metadata: { annotations: { 'acme.cert-manager.io/http01-ingress-class': 'traefik' } } });
    await waitFor('the ingress class annotation on the Certificate', async () => {
      const c = await getCertificate('cm-on-tls');
      return c?.metadata.annotations?.['certkeeper.io/http01-ingress-class'] === 'traefik' || undefined;
    });
  });
});
