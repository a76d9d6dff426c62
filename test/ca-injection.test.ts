// CA injection on the real API server, with the real operator process: a
// real HTTPS admission webhook in this process, which the API server cannot
// call until certkeeper copies the CA of the webhook's serving Certificate
// (selfSigned root → ca issuer → serving certificate) into the
// ValidatingWebhookConfiguration; after that the API server calls it (a
// ConfigMap named deny-me is denied with the webhook's own message, others
// pass). Rotating the root and then the serving certificate moves the
// caBundle along, and the API server keeps calling the webhook. Also: a CRD's
// conversion webhook and an APIService get their caBundle; inject-apiserver-ca
// injects the CA the API server's certificate verifies with; a Secret without
// allow-direct-injection, and a Certificate in a namespace that does not
// exist, are Warning events and change nothing; cert-manager's annotations
// count only with --cert-manager-annotations. Under the chart's RBAC without
// the APIService rule, the operator starts, is ready, says once that it
// leaves APIServices out, and injects into the rest; a 403 on a write is a
// Warning event and changes nothing.
import { execFile } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadAll } from 'js-yaml';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../src/api/meta.ts';
import { ApiError, core, type KubeClient, type KubeObject, type ResourceType } from '../src/kube/client.ts';
import { RENEW_REQUEST_ANNOTATION } from '../src/controllers/certificate/checks.ts';
import { TARGET_KINDS } from '../src/controllers/cainjector/injection.ts';
import { chartDir } from '../scripts/render-manifests.ts';
import { kubeconfigYaml } from './env/controlplane.ts';
import { createNamespace, env, kubeClient, kubectl, waitFor } from './helpers.ts';
import { startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };
const certificates = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'certificates', namespaced: true };
const { ValidatingWebhookConfiguration: vwc, MutatingWebhookConfiguration: mwc, CustomResourceDefinition: crd, APIService: apiService } = TARGET_KINDS;

/** What the webhook says when it denies: the API server must pass it on word for word. */
const DENY_MESSAGE = 'the test webhook does not allow a ConfigMap named deny-me';

type Condition = { type: string; status: string; reason: string };
interface StatusObject extends KubeObject {
  status?: { conditions?: Condition[]; revision?: number };
}
interface SecretObject extends KubeObject {
  data?: Record<string, string>;
}
interface WebhookConfiguration extends KubeObject {
  webhooks: { name: string; clientConfig: { url?: string; caBundle?: string } }[];
}
interface EventObject extends KubeObject {
  reason: string;
  message: string;
  type: string;
  involvedObject: { name: string; kind: string };
}

let kube: KubeClient;
let operator: OperatorProcess;
let ns: string;
/** Cluster-scoped objects get this in their names, and are deleted at the end. */
const suffix = randomBytes(3).toString('hex');
const clusterObjects: [ResourceType, string][] = [];

const ready = (object: StatusObject | undefined) => object?.status?.conditions?.find((c) => c.type === 'Ready');
const secretData = async (name: string, key: string) => (await kube.get<SecretObject>(core.secrets, ns, name))?.data?.[key];
const pemOf = (base64: string) => Buffer.from(base64, 'base64').toString('utf8');

async function createCertificate(name: string, spec: object): Promise<void> {
  await kube.create(certificates, { apiVersion: API_VERSION, kind: 'Certificate', metadata: { name, namespace: ns }, spec } as KubeObject);
}

async function readyAtRevision(name: string, revision: number): Promise<void> {
  await waitFor(`Certificate ${name} Ready at revision ${revision}`, async () => {
    const object = await kube.get<StatusObject>(certificates, ns, name);
    return object?.status?.revision === revision && ready(object)?.status === 'True';
  });
}

async function renew(name: string, revision: number): Promise<void> {
  await kube.mergePatch(certificates, ns, name, { metadata: { annotations: { [RENEW_REQUEST_ANNOTATION]: new Date().toISOString() } } });
  await readyAtRevision(name, revision);
}

async function createClusterObject<T extends KubeObject>(type: ResourceType, object: T): Promise<T> {
  clusterObjects.push([type, object.metadata.name]);
  return kube.create(type, object);
}

/** Events about a cluster-scoped object live in "default", as Kubernetes puts them. */
async function eventsOn(name: string, reason: string): Promise<EventObject[]> {
  const list = await kube.list<EventObject>(core.events, { namespace: 'default' });
  return list.items.filter((e) => e.involvedObject.name === name && e.reason === reason);
}

/** A webhook configuration that never applies to anything (the caBundle is what is looked at). */
function inertWebhooks(name: string, annotations: Record<string, string>, caBundle?: string) {
  return {
    apiVersion: vwc.apiVersion, kind: 'ValidatingWebhookConfiguration',
    metadata: { name, annotations },
    webhooks: ['one', 'two'].map((n) => ({
      name: `${n}.inert.certkeeper.test`,
      clientConfig: { url: 'https://127.0.0.1:9/never', ...(caBundle ? { caBundle } : {}) },
      rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }],
      namespaceSelector: { matchLabels: { 'certkeeper.test/never': 'true' } },
      failurePolicy: 'Ignore', sideEffects: 'None', admissionReviewVersions: ['v1'],
    })),
  };
}

const caBundles = async (name: string) => (await kube.get<WebhookConfiguration>(vwc.type, undefined, name))!.webhooks.map((w) => w.clientConfig.caBundle);

/** The admission webhook: HTTPS with the serving certificate's Secret, reloadable. */
interface WebhookServer {
  port: number;
  calls: number;
  reload(): Promise<void>;
  close(): Promise<void>;
}

async function startWebhookServer(secretName: string): Promise<WebhookServer> {
  const pair = async () => ({ cert: pemOf((await secretData(secretName, 'tls.crt'))!), key: pemOf((await secretData(secretName, 'tls.key'))!) });
  const state = { calls: 0 };
  const server = https.createServer(await pair(), (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.startsWith('/validate')) {
        res.writeHead(404).end();
        return;
      }
      state.calls++;
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request: { uid: string; name?: string; object?: { metadata?: { name?: string } } } };
      const name = review.request.object?.metadata?.name ?? review.request.name;
      const allowed = name !== 'deny-me';
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
        response: { uid: review.request.uid, allowed, ...(allowed ? {} : { status: { code: 403, message: DENY_MESSAGE } }) },
      }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get calls() {
      return state.calls;
    },
    // New connections get the Secret's current certificate; the API server opens new ones per call or reuses kept-alive ones.
    async reload() {
      server.setSecureContext(await pair());
      server.closeIdleConnections();
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** Tries to create a ConfigMap in the webhook's namespace: the API server's answer (undefined: created). */
async function createConfigMap(name: string): Promise<string | undefined> {
  try {
    await kube.create({ group: '', version: 'v1', plural: 'configmaps', namespaced: true }, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data: { a: 'b' } } as KubeObject);
    await kube.delete({ group: '', version: 'v1', plural: 'configmaps', namespaced: true }, ns, name);
    return undefined;
  } catch (error) {
    if (error instanceof ApiError) return error.message;
    throw error;
  }
}

let unique = 0;
/** The API server calls the webhook: deny-me is denied with its message and another name is created. */
async function webhookAnswers(webhook: WebhookServer, what: string): Promise<void> {
  const denied = await waitFor(`${what}: deny-me denied by the webhook`, async () => {
    const answer = await createConfigMap('deny-me');
    return answer?.includes(DENY_MESSAGE) ? answer : undefined;
  }, { timeoutMs: 30_000, intervalMs: 250 });
  expect(denied).toContain('admission webhook "deny.certkeeper.test" denied the request');
  const calls = webhook.calls;
  expect(await createConfigMap(`allowed-${++unique}`)).toBeUndefined();
  expect(webhook.calls).toBe(calls + 1);
}

beforeAll(async () => {
  kube = await kubeClient();
  ns = await createNamespace(kube, 'cainjector');
  operator = await startOperatorProcess({ clusterResourceNamespace: ns });
});

afterAll(async () => {
  await operator?.stop();
  for (const [type, name] of clusterObjects) await kube?.delete(type, undefined, name).catch(() => undefined);
  kube?.close();
});

describe('CA injection into a validating webhook', () => {
  let webhook: WebhookServer;
  const name = `certkeeper-test-${suffix}`;

  afterAll(async () => {
    await webhook?.close();
  });

  it('lets the API server call a webhook once certkeeper injects its serving Certificate\'s CA', async () => {
    // The chain: a selfSigned Issuer, a root CA Certificate, a ca Issuer on its Secret, the webhook's serving Certificate.
    await kube.create(issuers, { apiVersion: API_VERSION, kind: 'Issuer', metadata: { name: 'self', namespace: ns }, spec: { selfSigned: {} } } as KubeObject);
    await createCertificate('root', { secretName: 'root-tls', issuerRef: { name: 'self' }, isCA: true, commonName: 'test root', privateKey: { rotationPolicy: 'Always' } });
    await readyAtRevision('root', 1);
    await kube.create(issuers, { apiVersion: API_VERSION, kind: 'Issuer', metadata: { name: 'root', namespace: ns }, spec: { ca: { secretName: 'root-tls' } } } as KubeObject);
    await createCertificate('serving', { secretName: 'serving-tls', issuerRef: { name: 'root' }, ipAddresses: ['127.0.0.1'], dnsNames: [`webhook.${ns}.svc`], privateKey: { rotationPolicy: 'Always' } });
    await readyAtRevision('serving', 1);
    webhook = await startWebhookServer('serving-tls');

    await createClusterObject(vwc.type, {
      apiVersion: vwc.apiVersion, kind: 'ValidatingWebhookConfiguration',
      metadata: { name },
      webhooks: [{
        name: 'deny.certkeeper.test',
        clientConfig: { url: `https://127.0.0.1:${webhook.port}/validate` },
        rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }],
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
        failurePolicy: 'Fail', sideEffects: 'None', admissionReviewVersions: ['v1'], timeoutSeconds: 5,
      }],
    } as KubeObject);

    // Without a caBundle the API server cannot verify the webhook's certificate: with failurePolicy Fail, nothing is created.
    const refused = await waitFor('the API server to fail calling the webhook', async () => {
      const answer = await createConfigMap(`before-${++unique}`);
      return answer?.includes('failed calling webhook') ? answer : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    expect(refused).toMatch(/x509: certificate signed by unknown authority|failed to verify certificate/);
    expect(webhook.calls).toBe(0);

    await kube.mergePatch(vwc.type, undefined, name, { metadata: { annotations: { 'certkeeper.io/inject-ca-from': `${ns}/serving` } } });
    const rootCa = (await secretData('serving-tls', 'ca.crt'))!;
    expect(new X509Certificate(pemOf(rootCa)).subject).toBe('CN=test root');
    await waitFor('the serving Certificate\'s CA in the caBundle', async () => (await caBundles(name))[0] === rootCa);
    await webhookAnswers(webhook, 'after injection');
    expect(await eventsOn(name, 'CAInjected')).toHaveLength(1);
  });

  it('follows the CA when the root and then the serving certificate are renewed with new keys', async () => {
    const oldRoot = (await secretData('root-tls', 'ca.crt'))!;
    await renew('root', 2);
    const newRoot = (await secretData('root-tls', 'ca.crt'))!;
    expect(newRoot).not.toBe(oldRoot);
    // The serving certificate is still the old root's: so is the caBundle, and the webhook is still called.
    expect(await secretData('serving-tls', 'ca.crt')).toBe(oldRoot);
    expect(await caBundles(name)).toEqual([oldRoot]);
    await webhookAnswers(webhook, 'after the root was renewed');

    await renew('serving', 2);
    expect(await secretData('serving-tls', 'ca.crt')).toBe(newRoot);
    await waitFor('the new root in the caBundle', async () => (await caBundles(name))[0] === newRoot);
    await webhook.reload();
    await webhookAnswers(webhook, 'after the serving certificate was renewed and reloaded');
    // The old root is gone from the bundle: only the new chain can have been verified.
    expect(pemOf((await caBundles(name))[0]!)).not.toContain(pemOf(oldRoot).trim().split('\n')[1]);
  });
});

describe('sources that are not allowed or do not exist', () => {
  it('does not copy a Secret that does not allow direct injection, says so in an Event, and does once it allows it', async () => {
    const ca = (await secretData('root-tls', 'ca.crt'))!;
    await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'direct-ca', namespace: ns }, data: { 'ca.crt': ca } } as KubeObject);
    const previous = (await secretData('serving-tls', 'ca.crt'))!;
    const name = `certkeeper-test-direct-${suffix}`;
    // An existing caBundle (another valid CA) that must stay as it is.
    const oldBundle = (await kube.get<SecretObject>(core.secrets, ns, 'serving-tls'))!.data!['tls.crt']!;
    const created = await createClusterObject(vwc.type, inertWebhooks(name, { 'certkeeper.io/inject-ca-from-secret': `${ns}/direct-ca` }, oldBundle) as KubeObject);
    const [event] = await waitFor('a DirectInjectionNotAllowed event', async () => {
      const found = await eventsOn(name, 'DirectInjectionNotAllowed');
      return found.length > 0 ? found : undefined;
    });
    expect(event!.type).toBe('Warning');
    expect(event!.message).toContain('cert-manager.io/allow-direct-injection: "true"');
    const now = (await kube.get<WebhookConfiguration>(vwc.type, undefined, name))!;
    expect(now.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    expect(now.webhooks.map((w) => w.clientConfig.caBundle)).toEqual([oldBundle, oldBundle]);
    expect(previous).toBeDefined();

    // The Secret's owner agrees: the Secret's change alone wakes the target.
    await kube.mergePatch(core.secrets, ns, 'direct-ca', { metadata: { annotations: { 'cert-manager.io/allow-direct-injection': 'true' } } });
    await waitFor('the Secret\'s ca.crt in every webhook', async () => (await caBundles(name)).every((b) => b === ca));
  });

  it('reports a Certificate in a namespace that does not exist on the webhook configuration, and changes nothing', async () => {
    const name = `certkeeper-test-nowhere-${suffix}`;
    const oldBundle = (await secretData('root-tls', 'ca.crt'))!;
    const created = await createClusterObject(vwc.type, inertWebhooks(name, { 'certkeeper.io/inject-ca-from': `no-such-namespace-${suffix}/serving` }, oldBundle) as KubeObject);
    const [event] = await waitFor('a CertificateNotFound event', async () => {
      const found = await eventsOn(name, 'CertificateNotFound');
      return found.length > 0 ? found : undefined;
    });
    expect(event!.type).toBe('Warning');
    expect(event!.message).toContain(`Certificate no-such-namespace-${suffix}/serving not found`);
    const now = (await kube.get<WebhookConfiguration>(vwc.type, undefined, name))!;
    expect(now.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    expect(now.webhooks.map((w) => w.clientConfig.caBundle)).toEqual([oldBundle, oldBundle]);
    // One event, not one per resync.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await eventsOn(name, 'CertificateNotFound')).toHaveLength(1);
  });
});

describe('the other kinds', () => {
  it('injects into a CRD\'s conversion webhook and an APIService', async () => {
    const ca = (await secretData('serving-tls', 'ca.crt'))!;
    const group = `cainjector-${suffix}.certkeeper.test`;
    const version = (name: string, storage: boolean) => ({
      name, served: true, storage, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
    });
    await createClusterObject(crd.type, {
      apiVersion: crd.apiVersion, kind: 'CustomResourceDefinition',
      metadata: { name: `widgets.${group}`, annotations: { 'certkeeper.io/inject-ca-from': `${ns}/serving` } },
      spec: {
        group, scope: 'Namespaced', names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
        versions: [version('v1', true), version('v2', false)],
        conversion: { strategy: 'Webhook', webhook: { conversionReviewVersions: ['v1'], clientConfig: { url: 'https://127.0.0.1:9/convert' } } },
      },
    } as KubeObject);
    await createClusterObject(apiService.type, {
      apiVersion: apiService.apiVersion, kind: 'APIService',
      metadata: { name: `v1alpha1.${group}`, annotations: { 'certkeeper.io/inject-ca-from': `${ns}/serving` } },
      spec: { group, version: 'v1alpha1', service: { name: 'nothing-here', namespace: ns, port: 443 }, groupPriorityMinimum: 1000, versionPriority: 15, insecureSkipTLSVerify: false },
    } as KubeObject);
    await waitFor('the CA in the CRD\'s conversion webhook', async () => {
      const object = await kube.get<KubeObject & { spec: { conversion: { webhook: { clientConfig: { caBundle?: string } } } } }>(crd.type, undefined, `widgets.${group}`);
      return object?.spec.conversion.webhook.clientConfig.caBundle === ca;
    });
    await waitFor('the CA in the APIService', async () => {
      const object = await kube.get<KubeObject & { spec: { caBundle?: string } }>(apiService.type, undefined, `v1alpha1.${group}`);
      return object?.spec.caBundle === ca;
    });
    // An APIService whose Service does not exist makes discovery incomplete: gone before the next test file.
    await kube.delete(apiService.type, undefined, `v1alpha1.${group}`);
  });

  it('injects the CA the API server\'s own certificate verifies with (inject-apiserver-ca) into a mutating webhook', async () => {
    const name = `certkeeper-test-apiserver-${suffix}`;
    await createClusterObject(mwc.type, { ...inertWebhooks(name, { 'certkeeper.io/inject-apiserver-ca': 'true' }), apiVersion: mwc.apiVersion, kind: 'MutatingWebhookConfiguration' } as KubeObject);
    const bundle = await waitFor('a caBundle in the mutating webhooks', async () => {
      const object = await kube.get<WebhookConfiguration>(mwc.type, undefined, name);
      const bundles = object?.webhooks.map((w) => w.clientConfig.caBundle);
      return bundles?.every((b) => b !== undefined && b === bundles[0]) ? bundles[0] : undefined;
    });
    // The proof: a TLS connection to the API server verifies with exactly that bundle.
    const verified = await new Promise<boolean>((resolve, reject) => {
      const socket = tls.connect({ host: kube.server.hostname, port: Number(kube.server.port), ca: pemOf(bundle!), rejectUnauthorized: true }, () => {
        resolve(socket.authorized);
        socket.end();
      });
      socket.on('error', reject);
    });
    expect(verified).toBe(true);
  });
});

describe('under the chart\'s RBAC without the APIService rule, and without update of mutating webhook configurations', () => {
  const release = `certkeeper-cainjector-${suffix}`;
  let restricted: OperatorProcess | undefined;

  afterAll(async () => {
    await restricted?.stop();
    await kubectl(['delete', '--ignore-not-found', 'clusterrolebinding', release]);
    await kubectl(['delete', '--ignore-not-found', 'clusterrole', release]);
  });

  it('starts and becomes ready, says once that APIServices are left out, injects where it may update, and reports a 403 where not', async () => {
    // The chart's ServiceAccount and RBAC, less the rule for apiservices and the update of mutating webhook configurations.
    const { stdout } = await promisify(execFile)(path.join(env().binDir, 'helm'), [
      'template', release, chartDir, '--namespace', ns, '--kube-version', env().kubernetesVersion,
      '--show-only', 'templates/serviceaccount.yaml', '--show-only', 'templates/rbac.yaml',
    ]);
    const manifests = (loadAll(stdout) as (KubeObject & { rules?: { resources: string[] }[] })[]).filter(Boolean);
    const clusterRole = manifests.find((m) => m.kind === 'ClusterRole')!;
    expect(clusterRole.rules).toContainEqual(expect.objectContaining({ resources: ['apiservices'] }));
    clusterRole.rules = clusterRole.rules!.filter((rule) => !rule.resources.includes('apiservices')).flatMap((rule) => rule.resources.includes('mutatingwebhookconfigurations')
      ? [{ ...rule, resources: ['validatingwebhookconfigurations'] }, { ...rule, resources: ['mutatingwebhookconfigurations'], verbs: ['get', 'list', 'watch'] }]
      : [rule]);
    await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: manifests }));
    const token = (await kubectl(['create', 'token', release, '-n', ns, '--duration', '1h'])).stdout.trim();
    const kubeconfig = path.join(mkdtempSync(path.join(os.tmpdir(), 'certkeeper-cainjector-')), 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigYaml(kube.server.origin, Buffer.from(kube.certificateAuthority!), release, token), { mode: 0o600 });

    // Stopped so that only the restricted operator works (it runs without leader election).
    await operator.stop();
    restricted = await startOperatorProcess({ clusterResourceNamespace: ns, kubeconfig });
    const offLines = restricted.records().filter((r) => String(r.msg).startsWith('CA injection into APIServices is off'));
    expect(offLines).toHaveLength(1);
    expect(offLines[0]).toMatchObject({ level: 40, kind: 'APIService' });
    expect(restricted.records().filter((r) => String(r.msg).startsWith('CA injection into') && r.kind !== 'APIService')).toEqual([]);

    const ca = (await secretData('serving-tls', 'ca.crt'))!;
    const name = `certkeeper-test-rbac-${suffix}`;
    await createClusterObject(vwc.type, inertWebhooks(name, { 'certkeeper.io/inject-ca-from': `${ns}/serving` }) as KubeObject);
    await waitFor('the CA injected by the operator under the chart\'s RBAC', async () => (await caBundles(name)).every((b) => b === ca));

    // A 403 on the write: a Warning event, and the object as it was.
    const forbidden = `certkeeper-test-forbidden-${suffix}`;
    const created = await createClusterObject(mwc.type, { ...inertWebhooks(forbidden, { 'certkeeper.io/inject-ca-from': `${ns}/serving` }), apiVersion: mwc.apiVersion, kind: 'MutatingWebhookConfiguration' } as KubeObject);
    const [event] = await waitFor('an InjectionForbidden event', async () => {
      const found = await eventsOn(forbidden, 'InjectionForbidden');
      return found.length > 0 ? found : undefined;
    });
    expect(event!.type).toBe('Warning');
    expect(event!.message).toContain('grant it update on mutatingwebhookconfigurations.admissionregistration.k8s.io');
    const now = (await kube.get<WebhookConfiguration>(mwc.type, undefined, forbidden))!;
    expect(now.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    expect(now.webhooks.map((w) => w.clientConfig.caBundle)).toEqual([undefined, undefined]);
    await restricted.stop();
    restricted = undefined;
    operator = await startOperatorProcess({ clusterResourceNamespace: ns });
  });
});

describe('cert-manager\'s annotations', () => {
  it('are ignored without --cert-manager-annotations and honoured with it', async () => {
    const ca = (await secretData('serving-tls', 'ca.crt'))!;
    const theirs = `certkeeper-test-cm-${suffix}`;
    const ours = `certkeeper-test-own-${suffix}`;
    await createClusterObject(vwc.type, inertWebhooks(theirs, { 'cert-manager.io/inject-ca-from': `${ns}/serving` }) as KubeObject);
    await createClusterObject(vwc.type, inertWebhooks(ours, { 'certkeeper.io/inject-ca-from': `${ns}/serving` }) as KubeObject);
    // The one created after it is injected; cert-manager's stays without a caBundle.
    await waitFor('the certkeeper.io-annotated configuration injected', async () => (await caBundles(ours)).every((b) => b === ca));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await caBundles(theirs)).toEqual([undefined, undefined]);

    await operator.stop();
    operator = await startOperatorProcess({ clusterResourceNamespace: ns, args: ['--cert-manager-annotations'] });
    await waitFor('the cert-manager.io-annotated configuration injected', async () => (await caBundles(theirs)).every((b) => b === ca));
  });
});
