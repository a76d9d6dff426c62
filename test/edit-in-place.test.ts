// HTTP-01 edit-in-place on the real API server with the real operator and the
// GTS-like CA: the challenge path goes into the user's own Ingress (the one of
// the named name in the Certificate's namespace), routed to a selectorless
// Service there whose EndpointSlice mirrors certkeeper's solver Service, and
// everything is taken back after validation: the Ingress spec exactly as the
// user had it (with any edit the user made meanwhile), the Service and
// EndpointSlice gone. Pebble validates against the operator's responder on the
// host here; the objects are what is checked (test/node/ingress.test.ts routes
// through a real ingress controller).
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../src/api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { Informer } from '../src/kube/informer.ts';
import { certificates } from '../src/controllers/shim/controller.ts';
import { endpointSlices, services, undoEditsFor, presentInPlace, type IngressObject } from '../src/solvers/http01/edit-in-place.ts';
import { ingresses, routeName } from '../src/solvers/http01/routes.ts';
import { dropHeldChallenges, getHeldChallenges, getOrders, holdNextChallenge, mintEabKey } from './env/ca-client.ts';
import { createNamespace, env, kubeClient, waitFor } from './helpers.ts';
import { startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };
const clusterIssuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'clusterissuers', namespaced: false };

interface CertificateObject extends KubeObject {
  status?: { conditions?: { type: string; status: string; reason: string; message: string; observedGeneration?: number }[]; order?: unknown; failedIssuanceAttempts?: number };
}
interface ServiceObject extends KubeObject {
  spec: { type: string; selector?: unknown; ports: { name: string; port: number }[] };
}
interface SliceObject extends KubeObject {
  addressType: string;
  endpoints: { addresses: string[] }[];
  ports: { name: string; port: number }[];
}

let kube: KubeClient;
let operator: OperatorProcess;
let systemNamespace: string;
let ns: string;
let otherNamespace: string;
let clusterIssuer: string;
/** Every version of every Ingress in ns, as the watch delivered them. */
const ingressVersions: IngressObject[] = [];
/** Every Service and EndpointSlice created in ns. */
const createdServices: ServiceObject[] = [];
const createdSlices: SliceObject[] = [];
const informers: Informer<KubeObject>[] = [];

let nameCounter = 0;
/** A unique DNS name the test DNS resolves to 127.0.0.1. */
const testName = (label: string) => `${label}-${process.pid}-${++nameCounter}.certkeeper.test`;
/**
 * Where the solver Service's endpoint says certkeeper's responder is: this
 * machine's own address (EndpointSlices refuse loopback; the responder itself
 * listens on 127.0.0.1, which is what Pebble reaches here).
 */
const SOLVER_ENDPOINT = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address ?? '192.0.2.10';

const userPath = (service: string) => ({ path: '/', pathType: 'Prefix', backend: { service: { name: service, port: { number: 80 } } } });

function userIngress(namespace: string, name: string, hosts: string[], annotations: Record<string, string> = {}, tls: { hosts: string[]; secretName: string }[] = []) {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace, annotations: { 'kubernetes.io/ingress.class': 'gce', ...annotations } },
    spec: {
      defaultBackend: { service: { name: 'web', port: { number: 80 } } },
      ...(tls.length ? { tls } : {}),
      rules: hosts.map((host) => ({ host, http: { paths: [userPath('web')] } })),
    },
  } as KubeObject;
}

const ready = (c: CertificateObject | undefined) => c?.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True' && x.observedGeneration === c.metadata.generation) ?? false;

async function waitForReady(namespace: string, name: string): Promise<CertificateObject> {
  let last = '';
  try {
    return await waitFor(`${namespace}/${name} to be Ready`, async () => {
      const c = await kube.get<CertificateObject>(certificates, namespace, name);
      last = JSON.stringify(c?.status?.conditions ?? []);
      return ready(c) ? c : undefined;
    }, { timeoutMs: 90_000 });
  } catch (error) {
    throw new Error(`${(error as Error).message}; last conditions: ${last}`);
  }
}

function watch(type: typeof ingresses, namespace: string, onChange: (object: KubeObject) => void): Promise<void> {
  const informer = new Informer<KubeObject>({ kube, type, namespace, log: pino({ level: 'silent' }) });
  informer.onChange((_key, current) => {
    if (current) onChange(structuredClone(current));
  });
  informers.push(informer);
  informer.start();
  return informer.waitForSync();
}

/** The challenge paths certkeeper put into an Ingress version: path, backend Service, and the rule's host. */
function challengePaths(ingress: IngressObject) {
  return (ingress.spec?.rules ?? []).flatMap((rule) => (rule.http?.paths ?? [])
    .filter((p) => p.path?.startsWith('/.well-known/acme-challenge/'))
    .map((p) => ({ host: rule.host, path: p.path!, pathType: p.pathType, service: p.backend?.service?.name, port: p.backend?.service?.port?.number })));
}

beforeAll(async () => {
  kube = await kubeClient();
  systemNamespace = await createNamespace(kube, 'certkeeper-system');
  ns = await createNamespace(kube, 'edit');
  otherNamespace = await createNamespace(kube, 'edit-other');

  // certkeeper's solver Service as the chart makes it; its endpoints are where the responder listens.
  await kube.create(services, {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'certkeeper-http01', namespace: systemNamespace },
    spec: { ports: [{ name: 'http01', port: 8089, targetPort: 8089 }] },
  } as KubeObject);
  await kube.create(endpointSlices, {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: 'certkeeper-http01-x1', namespace: systemNamespace, labels: { 'kubernetes.io/service-name': 'certkeeper-http01' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [SOLVER_ENDPOINT], conditions: { ready: true } }],
    ports: [{ name: 'http01', port: env().acme.httpChallengePort, protocol: 'TCP' }],
  } as KubeObject);

  const caBundle = readFileSync(env().acme.caRootFile).toString('base64');
  // A ClusterIssuer that edits the Ingress "web" of each Certificate's namespace.
  clusterIssuer = `edit-in-place-${process.pid}`;
  const clusterEab = await mintEabKey(env().acme.managementUrl);
  await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'eab', namespace: systemNamespace }, stringData: { secret: clusterEab.hmacKey } } as KubeObject);
  await kube.create(clusterIssuers, {
    apiVersion: API_VERSION, kind: 'ClusterIssuer', metadata: { name: clusterIssuer },
    spec: { acme: {
      server: env().acme.directoryUrl, email: 'ops@example.com', caBundle,
      privateKeySecretRef: { name: `${clusterIssuer}-account` },
      externalAccountBinding: { keyID: clusterEab.keyId, keySecretRef: { name: 'eab' } },
      solvers: [{ http01: { ingress: { name: 'web', serviceType: 'ClusterIP' } } }],
    } },
  } as KubeObject);
  // An Issuer with a plain Ingress solver, for the shim's edit-in-place annotation.
  const eab = await mintEabKey(env().acme.managementUrl);
  await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'eab', namespace: ns }, stringData: { secret: eab.hmacKey } } as KubeObject);
  await kube.create(issuers, {
    apiVersion: API_VERSION, kind: 'Issuer', metadata: { name: 'plain', namespace: ns },
    spec: { acme: {
      server: env().acme.directoryUrl, email: 'ops@example.com', caBundle,
      privateKeySecretRef: { name: 'plain-account' },
      externalAccountBinding: { keyID: eab.keyId, keySecretRef: { name: 'eab' } },
      solvers: [{ http01: { ingress: { ingressClassName: 'nginx' } } }],
    } },
  } as KubeObject);

  await Promise.all([
    watch(ingresses, ns, (o) => ingressVersions.push(o as IngressObject)),
    watch(services, ns, (o) => {
      if (!createdServices.some((s) => s.metadata.uid === o.metadata.uid)) createdServices.push(o as ServiceObject);
    }),
    watch(endpointSlices, ns, (o) => {
      if (!createdSlices.some((s) => s.metadata.uid === o.metadata.uid)) createdSlices.push(o as SliceObject);
    }),
  ]);
  operator = await startOperatorProcess({ clusterResourceNamespace: systemNamespace });
});

afterAll(async () => {
  await operator?.stop();
  await Promise.all(informers.map((i) => i.stop()));
  if (clusterIssuer) await kube?.delete(clusterIssuers, undefined, clusterIssuer);
  kube?.close();
});

describe('HTTP-01 edit in place', () => {
  it('adds exactly one path to the named Ingress, to a Service beside it that mirrors the solver\'s endpoints, and gives the Ingress back exactly as it was', async () => {
    const host = testName('www');
    const original = await kube.create<IngressObject>(ingresses, userIngress(ns, 'web', [testName('other'), host]));
    // The same name in another namespace: never the one a Certificate in ns edits.
    const elsewhere = await kube.create<IngressObject>(ingresses, userIngress(otherNamespace, 'web', [host]));
    await kube.create(certificates, {
      apiVersion: API_VERSION, kind: 'Certificate', metadata: { name: 'www', namespace: ns },
      spec: { secretName: 'www-tls', issuerRef: { name: clusterIssuer, kind: 'ClusterIssuer' }, dnsNames: [host] },
    } as KubeObject);
    await waitForReady(ns, 'www');

    // While the challenge ran: one path, on the host's own rule, after the user's, to a Service in this namespace.
    const edited = ingressVersions.filter((i) => i.metadata.name === 'web' && challengePaths(i).length > 0);
    expect(edited.length).toBeGreaterThan(0);
    for (const version of edited) expect(challengePaths(version)).toHaveLength(1);
    const [added] = challengePaths(edited[0]!);
    expect(added).toMatchObject({ host, pathType: 'Exact', port: 8089 });
    expect(added!.path).toMatch(/^\/\.well-known\/acme-challenge\/[\w-]{22,}$/);
    const rule = edited[0]!.spec!.rules!.find((r) => r.host === host)!;
    expect(rule.http!.paths).toEqual([userPath('web'), expect.objectContaining({ path: added!.path })]);
    expect(edited[0]!.spec!.rules).toHaveLength(2);

    const service = createdServices.find((s) => s.metadata.name === added!.service)!;
    expect(service.metadata.namespace).toBe(ns);
    expect(service.spec.type).toBe('ClusterIP');
    expect(service.spec.selector).toBeUndefined();
    expect(service.spec.ports).toMatchObject([{ name: 'http01', port: 8089 }]);
    const slice = createdSlices.find((s) => s.metadata.labels?.['kubernetes.io/service-name'] === added!.service)!;
    expect(slice.metadata.namespace).toBe(ns);
    expect(slice.addressType).toBe('IPv4');
    expect(slice.endpoints.map((e) => e.addresses)).toEqual([[SOLVER_ENDPOINT]]);
    expect(slice.ports).toMatchObject([{ name: 'http01', port: env().acme.httpChallengePort }]);

    // After: the spec exactly as the user wrote it, the Service and EndpointSlice gone.
    const after = (await kube.get<IngressObject>(ingresses, ns, 'web'))!;
    expect(after.spec).toEqual(original.spec);
    expect(after.metadata.annotations).toEqual(original.metadata.annotations);
    expect(await kube.get(services, ns, added!.service!)).toBeUndefined();
    expect(await kube.get(endpointSlices, ns, slice.metadata.name)).toBeUndefined();
    expect((await kube.get<IngressObject>(ingresses, otherNamespace, 'web'))!.metadata.resourceVersion).toBe(elsewhere.metadata.resourceVersion);
  });

  it('keeps the user\'s edits made during the challenge, adds a rule of its own for a host the Ingress lacks, and takes it back after a restart', async () => {
    const mgmt = env().acme.managementUrl;
    const host = testName('new');
    const before = (await kube.get<IngressObject>(ingresses, ns, 'web'))!;
    await holdNextChallenge(mgmt);
    await kube.create(certificates, {
      apiVersion: API_VERSION, kind: 'Certificate', metadata: { name: 'new', namespace: ns },
      spec: { secretName: 'new-tls', issuerRef: { name: clusterIssuer, kind: 'ClusterIssuer' }, dnsNames: [host] },
    } as KubeObject);
    await waitFor('the challenge answer to be held by the CA', async () => (await getHeldChallenges(mgmt)) === 1);
    const during = (await kube.get<IngressObject>(ingresses, ns, 'web'))!;
    expect(during.spec!.rules).toHaveLength(before.spec!.rules!.length + 1);
    expect(challengePaths(during)).toMatchObject([{ host }]);

    // The user edits the Ingress meanwhile: a path on their own rule, a rule in front, a label.
    const apiPath = { path: '/api', pathType: 'Prefix', backend: { service: { name: 'api', port: { number: 8080 } } } };
    const userRule = { host: testName('user'), http: { paths: [userPath('shop')] } };
    await kube.jsonPatch(ingresses, ns, 'web', [
      { op: 'add', path: '/spec/rules/0/http/paths/-', value: apiPath },
      { op: 'add', path: '/spec/rules/0', value: userRule },
      { op: 'add', path: '/metadata/labels', value: { team: 'web' } },
    ]);

    // A new process finds its edit from the Service it recorded it in.
    await operator.kill();
    await dropHeldChallenges(mgmt);
    operator = await startOperatorProcess({ clusterResourceNamespace: systemNamespace });
    await waitForReady(ns, 'new');

    const after = (await kube.get<IngressObject>(ingresses, ns, 'web'))!;
    const expected = structuredClone(before.spec!);
    expected.rules![0]!.http!.paths!.push(apiPath);
    expected.rules!.unshift(userRule);
    expect(after.spec).toEqual(expected);
    expect(after.metadata.labels).toEqual({ team: 'web' });
    const records = await kube.list(services, { namespace: ns, labelSelector: 'certkeeper.io/solver=http01-edit-in-place' });
    expect(records.items).toEqual([]);
    expect((await kube.list(endpointSlices, { namespace: ns, labelSelector: 'certkeeper.io/solver=http01-edit-in-place' })).items).toEqual([]);
  });

  it('says a named Ingress is missing before any order is opened, and issues once it exists', async () => {
    const namespace = await createNamespace(kube, 'edit-missing');
    const host = testName('missing');
    await kube.create(certificates, {
      apiVersion: API_VERSION, kind: 'Certificate', metadata: { name: 'site', namespace },
      spec: { secretName: 'site-tls', issuerRef: { name: clusterIssuer, kind: 'ClusterIssuer' }, dnsNames: [host] },
    } as KubeObject);
    const waiting = await waitFor('the IngressNotFound condition', async () => {
      const c = await kube.get<CertificateObject>(certificates, namespace, 'site');
      const condition = c?.status?.conditions?.find((x) => x.type === 'Ready');
      return condition?.reason === 'IngressNotFound' ? { c: c!, condition } : undefined;
    });
    expect(waiting.condition.status).toBe('False');
    expect(waiting.condition.message).toContain(`Ingress ${namespace}/web`);
    expect(waiting.condition.message).toContain('create it');
    expect(waiting.c.status!.failedIssuanceAttempts).toBeUndefined();
    expect((await getOrders(env().acme.managementUrl)).filter((o) => o.identifiers.some((i) => i.value === host))).toEqual([]);

    await kube.create(ingresses, userIngress(namespace, 'web', [host]));
    // Ingresses are not watched; a change to the Certificate makes it look again now rather than at the periodic check.
    await kube.mergePatch(certificates, namespace, 'site', { metadata: { labels: { touched: 'yes' } } });
    await waitForReady(namespace, 'site');
    expect((await getOrders(env().acme.managementUrl)).filter((o) => o.identifiers.some((i) => i.value === host))).toHaveLength(1);
  });

  it('refuses an override annotation that names anything but an Ingress of the Certificate\'s own namespace', async () => {
    await kube.create(certificates, {
      apiVersion: API_VERSION, kind: 'Certificate',
      metadata: { name: 'sneaky', namespace: ns, annotations: { 'certkeeper.io/http01-ingress-name': `${otherNamespace}/web` } },
      spec: { secretName: 'sneaky-tls', issuerRef: { name: clusterIssuer, kind: 'ClusterIssuer' }, dnsNames: [testName('sneaky')] },
    } as KubeObject);
    const condition = await waitFor('the InvalidIngressName condition', async () => {
      const c = await kube.get<CertificateObject>(certificates, ns, 'sneaky');
      return c?.status?.conditions?.find((x) => x.type === 'Ready' && x.reason === 'InvalidIngressName');
    });
    expect(condition.message).toContain(`"${otherNamespace}/web"`);
    const other = (await kube.get<IngressObject>(ingresses, otherNamespace, 'web'))!;
    expect(challengePaths(other)).toEqual([]);
  });

  it('routes the challenges of a shim Certificate through the annotated Ingress itself (certkeeper.io/http01-edit-in-place)', async () => {
    const host = testName('shop');
    const original = await kube.create<IngressObject>(ingresses, userIngress(ns, 'shop', [host], {
      'certkeeper.io/issuer': 'plain',
      'certkeeper.io/http01-edit-in-place': 'true',
    }, [{ hosts: [host], secretName: 'shop-tls' }]));
    const challengeIngressesBefore = (await kube.list(ingresses, { namespace: systemNamespace })).items.length;
    const cert = await waitForReady(ns, 'shop-tls');
    expect(cert.metadata.annotations).toMatchObject({ 'certkeeper.io/http01-ingress-name': 'shop' });

    const edited = ingressVersions.filter((i) => i.metadata.name === 'shop' && challengePaths(i).length > 0);
    expect(edited.length).toBeGreaterThan(0);
    expect(challengePaths(edited[0]!)).toMatchObject([{ host, pathType: 'Exact', port: 8089 }]);
    // No serviceType on the solver: NodePort, cert-manager's default (what GCE needs).
    const service = createdServices.find((s) => s.metadata.name === challengePaths(edited[0]!)[0]!.service)!;
    expect(service.spec.type).toBe('NodePort');
    // No challenge Ingress of certkeeper's own was made for it.
    expect((await kube.list(ingresses, { namespace: systemNamespace })).items.length).toBe(challengeIngressesBefore);
    const after = (await kube.get<IngressObject>(ingresses, ns, 'shop'))!;
    expect(after.spec).toEqual(original.spec);
  });

  it('finds and undoes an edit from its record alone, touching nothing else of the Ingress', async () => {
    // What a restarted process does: no memory of the edit, only the Service in the namespace.
    const host = testName('record');
    const original = await kube.create<IngressObject>(ingresses, userIngress(ns, 'record', [host]));
    const route = { host, token: 'A'.repeat(43), certificate: `${ns}/record` };
    await presentInPlace(kube, { namespace: systemNamespace, name: 'certkeeper-http01', port: 8089 }, { namespace: ns, ingressName: 'record' }, route);
    // A second presentation (a retry) changes nothing.
    await presentInPlace(kube, { namespace: systemNamespace, name: 'certkeeper-http01', port: 8089 }, { namespace: ns, ingressName: 'record' }, route);
    expect(challengePaths((await kube.get<IngressObject>(ingresses, ns, 'record'))!)).toHaveLength(1);
    await undoEditsFor(kube, ns, `${ns}/another-certificate`);
    expect(challengePaths((await kube.get<IngressObject>(ingresses, ns, 'record'))!)).toHaveLength(1);
    await undoEditsFor(kube, ns, `${ns}/record`);
    expect((await kube.get<IngressObject>(ingresses, ns, 'record'))!.spec).toEqual(original.spec);
    expect((await kube.list(services, { namespace: ns, labelSelector: 'certkeeper.io/certificate=' + `${ns}.record` })).items).toEqual([]);
  });

  it('takes over no Service or EndpointSlice of the user\'s that happens to have the name it would use', async () => {
    const host = testName('clash');
    const original = await kube.create<IngressObject>(ingresses, userIngress(ns, 'clash', [host]));
    const solver = { namespace: systemNamespace, name: 'certkeeper-http01', port: 8089 };
    const target = { namespace: ns, ingressName: 'clash' };

    const route = { host, token: 'B'.repeat(43), certificate: `${ns}/clash` };
    const usersService = await kube.create(services, { apiVersion: 'v1', kind: 'Service', metadata: { name: routeName(route), namespace: ns }, spec: { ports: [{ port: 80 }] } } as KubeObject);
    await expect(presentInPlace(kube, solver, target, route)).rejects.toThrow('is not certkeeper\'s record of this challenge');
    await undoEditsFor(kube, ns, route.certificate);
    expect((await kube.get(services, ns, routeName(route)))!.metadata.resourceVersion).toBe(usersService.metadata.resourceVersion);

    const other = { ...route, token: 'C'.repeat(43) };
    const usersSlice = await kube.create(endpointSlices, {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: routeName(other), namespace: ns },
      addressType: 'IPv4', endpoints: [{ addresses: ['192.0.2.1'] }], ports: [{ port: 80 }],
    } as KubeObject);
    await expect(presentInPlace(kube, solver, target, other)).rejects.toThrow('is not certkeeper\'s record of this challenge');
    // Its own Service goes; the user's EndpointSlice of the same name stays as it was.
    await undoEditsFor(kube, ns, other.certificate);
    expect(await kube.get(services, ns, routeName(other))).toBeUndefined();
    expect((await kube.get(endpointSlices, ns, routeName(other)))!.metadata.resourceVersion).toBe(usersSlice.metadata.resourceVersion);
    expect((await kube.get<IngressObject>(ingresses, ns, 'clash'))!.spec).toEqual(original.spec);
  });
});
