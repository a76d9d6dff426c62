// The Helm chart (charts/certkeeper) and the plain manifests rendered from it
// (deploy/), tried on the real API server: lint and schema, what the Deployment
// runs, the CRDs being the ones in crds/, server-side validation, install /
// upgrade / uninstall, and deploy/ applying cleanly and staying a fresh render.
// Pods never run here (no scheduler or kubelet): the tests look at objects.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { load, loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controllerFlags } from '../src/config.ts';
import { BACKUP_FLAGS } from '../src/cli/account-backup.ts';
import type { KubeClient, KubeObject } from '../src/kube/client.ts';
import {
  chartCrdsDrift, chartDir, crdsDir, deployDir, manifestsDrift, renderManifests, toolsKubernetesVersion,
} from '../scripts/render-manifests.ts';
import { KUBERNETES_VERSION } from './env/localenv-core.ts';
import { createNamespace, env, kubeClient, kubectl } from './helpers.ts';

const run = promisify(execFile);

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; generation?: number; resourceVersion?: string };
  /** Read as plain JSON: the tests look into it freely. */
  spec?: any;
  rules?: unknown[];
}

const chartYaml = load(readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8')) as { appVersion: string; version: string };

/** A label no namespace carries: the account guards of these releases match nothing. */
const GUARD_NOWHERE = { accountGuard: { namespaceSelector: { matchLabels: { 'certkeeper-test/account-guard': 'none' } } } };

let helmHome: string;
let kube: KubeClient;

beforeAll(async () => {
  helmHome = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-helm-'));
  kube = await kubeClient();
});
afterAll(() => {
  kube.close();
  rmSync(helmHome, { recursive: true, force: true });
});

async function helm(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(path.join(env().binDir, 'helm'), [...args, '--kubeconfig', env().kubeconfig], {
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, HELM_CACHE_HOME: path.join(helmHome, 'cache'), HELM_CONFIG_HOME: path.join(helmHome, 'config'), HELM_DATA_HOME: path.join(helmHome, 'data') },
  });
}

async function helmFails(args: string[]): Promise<string> {
  try {
    await helm(args);
  } catch (error) {
    return (error as { stderr: string }).stderr;
  }
  throw new Error(`helm ${args.join(' ')} succeeded but was expected to fail`);
}

/** Writes values to a file for -f (JSON is YAML), so keys with dots and slashes need no escaping. */
function valuesFile(values: object): string {
  const file = path.join(helmHome, `values-${randomBytes(4).toString('hex')}.json`);
  writeFileSync(file, JSON.stringify(values));
  return file;
}

async function templateText(values: object = {}, { release = 'certkeeper', namespace = 'certkeeper', extra = [] as string[] } = {}): Promise<string> {
  const { stdout } = await helm(['template', release, chartDir, '--namespace', namespace, '--kube-version', env().kubernetesVersion, '-f', valuesFile(values), ...extra]);
  return stdout;
}

async function template(values: object = {}, opts: { release?: string; namespace?: string; extra?: string[] } = {}): Promise<Manifest[]> {
  return (loadAll(await templateText(values, opts)) as (Manifest | null)[]).filter((m): m is Manifest => m !== null);
}

function find(manifests: Manifest[], kind: string, name?: string): Manifest | undefined {
  return manifests.find((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
}

function container(manifests: Manifest[]) {
  const deployment = find(manifests, 'Deployment');
  expect(deployment).toBeDefined();
  return deployment!.spec.template.spec.containers[0];
}

/** kubectl get … -o json, or undefined if the object does not exist. */
async function getObject(args: string[]): Promise<Manifest | undefined> {
  try {
    return JSON.parse((await kubectl(['get', ...args, '-o', 'json'])).stdout) as Manifest;
  } catch (error) {
    if ((error as { stderr?: string }).stderr?.includes('NotFound')) return undefined;
    throw error;
  }
}

const uniqueRelease = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;

/**
 * Puts the CRDs back the way the global setup applied them (kubectl apply
 * --server-side -f crds/), without the labels and annotations a chart release
 * added, so that later tests and applies see no other field managers.
 */
async function restoreCrds(): Promise<void> {
  const extra = (live: Record<string, string> | undefined, wanted: Record<string, string> | undefined) =>
    Object.fromEntries(Object.keys(live ?? {}).filter((k) => !(k in (wanted ?? {}))).map((k) => [k, null]));
  for (const file of readdirSync(crdsDir).filter((f) => f.endsWith('.yaml'))) {
    const source = load(readFileSync(path.join(crdsDir, file), 'utf8')) as Manifest;
    const live = await getObject(['crd', source.metadata.name]);
    if (!live) continue;
    const patch = { metadata: { labels: extra(live.metadata.labels, source.metadata.labels), annotations: extra(live.metadata.annotations, source.metadata.annotations) } };
    await kubectl(['patch', 'crd', source.metadata.name, '--type=merge', '-p', JSON.stringify(patch)]);
  }
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', crdsDir]);
}

describe('the certkeeper Helm chart', () => {
  it('passes helm lint --strict with its defaults and with every option on', async () => {
    await helm(['lint', '--strict', chartDir, '--kube-version', env().kubernetesVersion]);
    await helm(['lint', '--strict', chartDir, '--kube-version', env().kubernetesVersion, '-f', valuesFile({
      replicaCount: 3,
      certificateOwnerRef: true,
      argocdHealthChecks: { enabled: true, namespace: 'argocd' },
      ingressShim: { certManagerAnnotations: true },
      dns01: { propagationTimeoutSeconds: 300 },
      acme: { requestTimeoutSeconds: 20, registrationSettleWindowSeconds: 1800 },
      metrics: { serviceMonitor: { enabled: true, interval: '30s', labels: { release: 'prometheus' } } },
      extraArgs: ['--some-future-flag=1'],
      extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=200' }],
      podAnnotations: { a: 'b' },
      image: { digest: `sha256:${'a'.repeat(64)}` },
    })]);
  });

  it('rejects values that break its schema, saying which and why', async () => {
    const stderr = await helmFails(['template', 'certkeeper', chartDir, '--kube-version', env().kubernetesVersion, '-f', valuesFile({
      replicaCount: 0,
      logLevel: 'verbose',
      image: { tag: 5, repo: 'x' },
      metrics: { port: 70000 },
      crds: { install: 'yes' },
      bogus: true,
    })]);
    expect(stderr).toContain("values don't meet the specifications of the schema");
    expect(stderr).toContain("additional properties 'bogus' not allowed");
    expect(stderr).toContain("additional properties 'repo' not allowed");
    expect(stderr).toMatch(/\/replicaCount'?: minimum: got 0, want 1/);
    expect(stderr).toMatch(/\/logLevel'?: value must be one of 'trace', 'debug', 'info', 'warn', 'error'/);
    expect(stderr).toContain('/image/tag');
    expect(stderr).toContain('/metrics/port');
    expect(stderr).toContain('/crds/install');
  });

  it('renders a Deployment running `certkeeper controller` as non-root on a read-only root filesystem', async () => {
    const manifests = await template({}, { namespace: 'ops' });
    const deployment = find(manifests, 'Deployment')!;
    expect(deployment.metadata).toMatchObject({ name: 'certkeeper', namespace: 'ops' });
    expect(deployment.metadata.labels).toEqual({
      'app.kubernetes.io/name': 'certkeeper',
      'app.kubernetes.io/instance': 'certkeeper',
      'app.kubernetes.io/version': chartYaml.appVersion,
      'app.kubernetes.io/managed-by': 'Helm',
      'app.kubernetes.io/part-of': 'certkeeper',
      'app.kubernetes.io/component': 'controller',
      'helm.sh/chart': `certkeeper-${chartYaml.version}`,
    });
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }); // the new Pod waits for the Lease
    const pod = deployment.spec.template.spec;
    expect(pod.terminationGracePeriodSeconds).toBe(30);
    expect(pod.serviceAccountName).toBe('certkeeper');
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const c = container(manifests);
    expect(c.image).toBe(`ghcr.io/certkeeper/certkeeper:${chartYaml.appVersion}`);
    expect(c.args).toEqual([
      'controller',
      '--cluster-resource-namespace=ops',
      '--health-address=0.0.0.0:8081',
      '--log-level=info',
      '--log-format=json',
      '--leader-elect',
      '--leader-election-namespace=ops',
      '--leader-election-id=certkeeper',
      '--lease-duration=15',
      '--metrics-address=0.0.0.0:9402',
      '--http01-address=0.0.0.0:8089',
      '--http01-service-name=certkeeper-http01',
      '--http01-service-namespace=ops',
      '--http01-service-port=8089',
      '--http01-self-check-timeout=60',
      '--dns01-propagation-timeout=120',
      '--acme-request-timeout=30',
      '--registration-settle-window=600',
    ]);
    expect(c.env).toContainEqual({ name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } });
    expect(c.securityContext).toEqual({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'healthz' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'healthz' });
    expect(c.ports).toEqual([
      { name: 'healthz', containerPort: 8081, protocol: 'TCP' },
      { name: 'http-metrics', containerPort: 9402, protocol: 'TCP' },
      { name: 'http01', containerPort: 8089, protocol: 'TCP' },
    ]);
    expect(c.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    expect(pod.volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } });

    // Services: metrics and the HTTP-01 solver, both selecting the operator's Pods.
    const selector = deployment.spec.selector.matchLabels;
    expect(find(manifests, 'Service', 'certkeeper-metrics')?.spec).toMatchObject({ selector, ports: [{ name: 'http-metrics', port: 9402, targetPort: 'http-metrics' }] });
    expect(find(manifests, 'Service', 'certkeeper-http01')?.spec).toMatchObject({ selector, ports: [{ name: 'http01', port: 8089, targetPort: 'http01' }] });
    expect(find(manifests, 'PodDisruptionBudget')).toBeUndefined();
    expect(find(manifests, 'ServiceMonitor')).toBeUndefined();
  });

  it('passes the chosen values to the operator', async () => {
    const manifests = await template({
      logLevel: 'debug',
      logFormat: 'text',
      leaderElection: { leaseDurationSeconds: 30 },
      healthz: { port: 9000 },
      metrics: { port: 9500 },
      http01: { port: 8090 },
      dns01: { propagationTimeoutSeconds: 300 },
      acme: { requestTimeoutSeconds: 20, registrationSettleWindowSeconds: 1800 },
      certificateOwnerRef: true,
      secretAnnotationsCertManager: true,
      ingressShim: { gateway: false, certManagerAnnotations: true },
      image: { tag: 'v9', pullPolicy: 'Always' },
      extraArgs: ['--future-flag=x'],
      extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=200' }],
      fullnameOverride: 'ck',
    }, { namespace: 'ops' });
    const c = container(manifests);
    expect(c.image).toBe('ghcr.io/certkeeper/certkeeper:v9');
    expect(c.imagePullPolicy).toBe('Always');
    expect(c.args).toEqual([
      'controller',
      '--cluster-resource-namespace=ops',
      '--health-address=0.0.0.0:9000',
      '--log-level=debug',
      '--log-format=text',
      '--leader-elect',
      '--leader-election-namespace=ops',
      '--leader-election-id=ck',
      '--lease-duration=30',
      '--metrics-address=0.0.0.0:9500',
      '--http01-address=0.0.0.0:8090',
      '--http01-service-name=ck-http01',
      '--http01-service-namespace=ops',
      '--http01-service-port=8090',
      '--http01-self-check-timeout=60',
      '--dns01-propagation-timeout=300',
      '--acme-request-timeout=20',
      '--registration-settle-window=1800',
      '--secret-annotations-cert-manager',
      '--enable-certificate-owner-ref',
      '--disable-gateway-shim',
      '--ingress-shim-cert-manager-annotations',
      '--future-flag=x',
    ]);
    // The shim's rights follow what it watches.
    expect(find(manifests, 'ClusterRole', 'ck')?.rules).not.toContainEqual(expect.objectContaining({ resources: ['gateways'] }));
    const noShim = await template({ ingressShim: { enabled: false, gateway: false } });
    expect(find(noShim, 'ClusterRole')?.rules).not.toContainEqual(expect.objectContaining({ resources: ['certificates'], verbs: ['create', 'patch', 'update', 'delete'] }));
    expect((container(noShim).args as string[])).toEqual(expect.arrayContaining(['--disable-ingress-shim', '--disable-gateway-shim']));
    expect(c.env).toContainEqual({ name: 'NODE_OPTIONS', value: '--max-old-space-size=200' });
    expect(find(manifests, 'Deployment')!.metadata.name).toBe('ck');
    expect(find(manifests, 'Service', 'ck-http01')?.spec.ports).toEqual([{ name: 'http01', port: 8090, targetPort: 'http01', protocol: 'TCP' }]);
    // Owner references with blockOwnerDeletion need this where OwnerReferencesPermissionEnforcement is on.
    expect(find(manifests, 'ClusterRole', 'ck')?.rules).toContainEqual({ apiGroups: ['certkeeper.io'], resources: ['certificates/finalizers'], verbs: ['update'] });
    expect(find(await template(), 'ClusterRole')?.rules).not.toContainEqual(expect.objectContaining({ resources: ['certificates/finalizers'] }));
  });

  it('runs CA injection by default with its rights, and caInjector.enabled=false turns both off', async () => {
    const caInjectionRules = [
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'], verbs: ['get', 'list', 'watch', 'update'] },
      { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['get', 'list', 'watch', 'update'] },
      { apiGroups: ['apiregistration.k8s.io'], resources: ['apiservices'], verbs: ['get', 'list', 'watch', 'update'] },
    ];
    const on = await template();
    for (const rule of caInjectionRules) expect(find(on, 'ClusterRole')?.rules).toContainEqual(rule);
    expect((container(on).args as string[]).filter((a) => a.startsWith('--ca-injector'))).toEqual([]);
    const off = await template({ caInjector: { enabled: false } });
    for (const rule of caInjectionRules) expect(find(off, 'ClusterRole')?.rules).not.toContainEqual(rule);
    expect(container(off).args).toContain('--ca-injector=false');
  });

  it('routes HTTP-01 to the solver Service in the release namespace, whatever the cluster resource namespace', async () => {
    // Challenge Ingresses/HTTPRoutes go next to the solver Service (the release namespace), not into the
    // cluster resource namespace, which may be another one.
    const manifests = await template({ clusterResourceNamespace: 'elsewhere' }, { namespace: 'ops' });
    const c = container(manifests);
    expect(c.args).toContain('--cluster-resource-namespace=elsewhere');
    expect(c.args).toContain('--http01-service-namespace=ops');
    expect(find(manifests, 'Service', 'certkeeper-http01')?.metadata.namespace).toBe('ops');

    const without = await template({ clusterResourceNamespace: 'elsewhere', http01: { enabled: false } }, { namespace: 'ops' });
    expect((container(without).args as string[]).filter((a) => a.startsWith('--http01'))).toEqual([]);
    expect(find(without, 'Service', 'certkeeper-http01')).toBeUndefined();
    expect(find(without, 'Role')?.rules).toEqual([{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }]);
  });

  it('passes only flags that `certkeeper controller` accepts, and sets every one it accepts', async () => {
    const accepted = new Set(Object.keys(controllerFlags));
    const manifests = await template({
      replicaCount: 2, certificateOwnerRef: true, secretAnnotationsCertManager: true, leaderElection: { enabled: true }, metrics: { enabled: true }, http01: { enabled: true, routeSettleSeconds: 3, selfCheck: { timeoutSeconds: 30, port: 8080, nameservers: ['10.0.0.10:53'] } },
      ingressShim: { enabled: false, gateway: false, certManagerAnnotations: true },
      caInjector: { enabled: false },
      dns01: { recursiveNameservers: ['8.8.8.8:53', '1.1.1.1:53'], recursiveNameserversOnly: true, issuerAmbientCredentials: true },
    });
    expect(container(manifests).args).toContain('--dns01-recursive-nameservers=8.8.8.8:53,1.1.1.1:53');
    const flags = (container(manifests).args as string[]).filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]!);
    for (const flag of flags) expect(accepted, `the chart passes --${flag}, which certkeeper controller does not accept`).toContain(flag);
    // A new operator flag needs a value in the chart (or a reason to leave it to extraArgs here).
    // cert-manager-annotations: the chart sets its older name, --ingress-shim-cert-manager-annotations.
    const leftOut = new Set(['kubeconfig', 'help', 'cert-manager-annotations']);
    for (const flag of accepted) {
      if (!leftOut.has(flag)) expect(flags, `the operator accepts --${flag} but the chart never sets it`).toContain(flag);
    }
  });

  it('passes scheduling, DNS and volume values through to the Pod, keeping its own /tmp', async () => {
    const spread = [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'certkeeper' } } }];
    const manifests = await template({
      topologySpreadConstraints: spread,
      podDnsPolicy: 'None',
      podDnsConfig: { nameservers: ['8.8.8.8', '1.1.1.1'] },
      volumes: [{ name: 'azure-identity-token', projected: { sources: [{ serviceAccountToken: { path: 'token', audience: 'api://AzureADTokenExchange' } }] } }],
      volumeMounts: [{ name: 'azure-identity-token', mountPath: '/var/run/secrets/azure/tokens', readOnly: true }],
    });
    const pod = find(manifests, 'Deployment')!.spec.template.spec;
    expect(pod.topologySpreadConstraints).toEqual(spread);
    expect(pod.dnsPolicy).toBe('None');
    expect(pod.dnsConfig).toEqual({ nameservers: ['8.8.8.8', '1.1.1.1'] });
    expect(pod.volumes.map((v: { name: string }) => v.name)).toEqual(['tmp', 'azure-identity-token']);
    expect(container(manifests).volumeMounts.map((m: { mountPath: string }) => m.mountPath)).toEqual(['/tmp', '/var/run/secrets/azure/tokens']);
    // Defaults: none of it.
    const plain = find(await template({}), 'Deployment')!.spec.template.spec;
    expect([plain.topologySpreadConstraints, plain.dnsPolicy, plain.dnsConfig]).toEqual([undefined, undefined, undefined]);
    await expect(template({ podDnsPolicy: 'Sometimes' })).rejects.toThrow(/podDnsPolicy/);
  });

  it('leaves out the metrics port, Service and flag when metrics are disabled', async () => {
    const manifests = await template({ metrics: { enabled: false } });
    const c = container(manifests);
    expect((c.args as string[]).filter((a) => a.startsWith('--metrics'))).toEqual([]);
    expect((c.ports as { name: string }[]).map((p) => p.name)).toEqual(['healthz', 'http01']);
    expect(find(manifests, 'Service', 'certkeeper-metrics')).toBeUndefined();
  });

  it('renders a PodDisruptionBudget and leader election for more than one replica', async () => {
    const manifests = await template({ replicaCount: 2 }, { namespace: 'ops' });
    expect(find(manifests, 'Deployment')!.spec.replicas).toBe(2);
    const pdb = find(manifests, 'PodDisruptionBudget');
    expect(pdb?.metadata.namespace).toBe('ops');
    expect(pdb?.spec).toEqual({ minAvailable: 1, unhealthyPodEvictionPolicy: 'AlwaysAllow', selector: { matchLabels: { 'app.kubernetes.io/name': 'certkeeper', 'app.kubernetes.io/instance': 'certkeeper' } } });
    expect(find(manifests, 'Role')?.rules).toContainEqual({ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] });
    expect(container(manifests).args).toContain('--leader-elect');

    // One replica without leader election: never two operators at once, and no Lease rights.
    const single = await template({ leaderElection: { enabled: false } });
    expect(find(single, 'Deployment')!.spec.strategy).toEqual({ type: 'Recreate' });
    expect((container(single).args as string[]).filter((a) => a.startsWith('--lease') || a.startsWith('--leader'))).toEqual([]);
    expect(find(single, 'Role')?.rules).not.toContainEqual(expect.objectContaining({ resources: ['leases'] }));

    const stderr = await helmFails(['template', 'certkeeper', chartDir, '--kube-version', env().kubernetesVersion, '-f', valuesFile({ replicaCount: 2, leaderElection: { enabled: false } })]);
    expect(stderr).toContain('replicaCount > 1 needs leaderElection.enabled');
  });

  it('renders a ServiceMonitor on request', async () => {
    const manifests = await template({ metrics: { serviceMonitor: { enabled: true, interval: '15s', labels: { release: 'prom' } } } });
    const monitor = find(manifests, 'ServiceMonitor');
    expect(monitor?.metadata.labels).toMatchObject({ release: 'prom' });
    expect(monitor?.spec.endpoints).toEqual([{ port: 'http-metrics', path: '/metrics', honorLabels: true, interval: '15s', scrapeTimeout: '30s' }]);
    const matchLabels = { 'app.kubernetes.io/name': 'certkeeper', 'app.kubernetes.io/instance': 'certkeeper', 'app.kubernetes.io/component': 'metrics' };
    expect(monitor?.spec.selector.matchLabels).toEqual(matchLabels);
    expect(find(manifests, 'Service', 'certkeeper-metrics')?.metadata.labels).toMatchObject(matchLabels);
  });

  it('ships the CRDs of crds/, annotated to be kept on uninstall', async () => {
    expect(chartCrdsDrift(), 'charts/certkeeper/files/crds/ differs from crds/: run npm run manifests').toEqual([]);
    const sources = readdirSync(crdsDir).filter((f) => f.endsWith('.yaml')).map((f) => load(readFileSync(path.join(crdsDir, f), 'utf8')) as Manifest);
    const rendered = (await template()).filter((m) => m.kind === 'CustomResourceDefinition');
    expect(rendered.map((m) => m.metadata.name).sort()).toEqual(sources.map((m) => m.metadata.name).sort());
    for (const source of sources) {
      const crd = find(rendered, 'CustomResourceDefinition', source.metadata.name)!;
      expect(crd.spec).toEqual(source.spec);
      expect(crd.metadata.labels).toMatchObject(source.metadata.labels ?? {});
      expect(crd.metadata.labels).toMatchObject({ 'app.kubernetes.io/instance': 'certkeeper', 'app.kubernetes.io/managed-by': 'Helm' });
      expect(crd.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
    }
    const notKept = (await template({ crds: { keep: false } })).filter((m) => m.kind === 'CustomResourceDefinition');
    expect(notKept).toHaveLength(sources.length);
    for (const crd of notKept) expect(crd.metadata.annotations).toBeUndefined();
    expect((await template({ crds: { install: false } })).filter((m) => m.kind === 'CustomResourceDefinition')).toEqual([]);
  });

  it('renders the account backup CronJob only when accountBackup.enabled, running `certkeeper account backup --all` as the operator\'s image does, with flags the command accepts', async () => {
    const backupObjects = (manifests: Manifest[]) => manifests.filter((m) => m.metadata.labels?.['app.kubernetes.io/component'] === 'account-backup');
    expect(backupObjects(await template())).toEqual([]);
    expect(backupObjects(await template({ networkPolicy: { enabled: true } }))).toEqual([]);

    const manifests = await template({ accountBackup: { enabled: true } }, { namespace: 'ops' });
    const cronJob = find(manifests, 'CronJob', 'certkeeper-account-backup')!;
    expect(cronJob.metadata.namespace).toBe('ops');
    expect(cronJob.spec).toMatchObject({ schedule: '17 3 * * *', concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 3600, jobTemplate: { spec: { backoffLimit: 3 } } });
    const pod = cronJob.spec.jobTemplate.spec.template;
    const backup = pod.spec.containers[0];
    expect(backup.args).toEqual(['account', 'backup', '--all', '--ledger-namespace=ops', '--to-secret=ops/certkeeper-account-backup']);
    const accepted = new Set(Object.keys(BACKUP_FLAGS));
    for (const flag of (backup.args as string[]).filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]!)) {
      expect(accepted, `the CronJob passes --${flag}, which certkeeper account backup does not accept`).toContain(flag);
    }
    // The operator's image and container security, its own ServiceAccount, and never run twice at once.
    expect(backup.image).toBe(container(manifests).image);
    expect(backup.securityContext).toEqual(container(manifests).securityContext);
    expect(backup.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true });
    expect(pod.spec).toMatchObject({ serviceAccountName: 'certkeeper-account-backup', restartPolicy: 'Never', securityContext: { runAsUser: 65532, runAsNonRoot: true } });
    expect(backup.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(find(manifests, 'ServiceAccount', 'certkeeper-account-backup')?.metadata.namespace).toBe('ops');
    // No Service, PodDisruptionBudget or NetworkPolicy of the operator selects a backup Pod.
    const selector = find(manifests, 'Deployment')!.spec.selector.matchLabels as Record<string, string>;
    expect(Object.entries(selector).every(([k, v]) => pod.metadata.labels[k] === v)).toBe(false);

    const withTls = find(await template({ accountBackup: { enabled: true, includeTlsSecrets: true, secret: { name: 'kept', namespace: 'vault' }, schedule: '0 * * * *', timeZone: 'Europe/Berlin' } }, { namespace: 'ops' }), 'CronJob')!;
    expect(withTls.spec).toMatchObject({ schedule: '0 * * * *', timeZone: 'Europe/Berlin' });
    expect(withTls.spec.jobTemplate.spec.template.spec.containers[0].args).toEqual(['account', 'backup', '--all', '--ledger-namespace=ops', '--include-tls-secrets', '--to-secret=vault/kept']);

    const toVolume = await template({ clusterResourceNamespace: 'elsewhere', accountBackup: { enabled: true, destination: 'volume', keep: 7, volume: { persistentVolumeClaim: { claimName: 'certkeeper-backup' } } } }, { namespace: 'ops' });
    const volumePod = find(toVolume, 'CronJob')!.spec.jobTemplate.spec.template.spec;
    expect(volumePod.containers[0].args).toEqual(['account', 'backup', '--all', '--ledger-namespace=elsewhere', '--out=/backup', '--keep=7']);
    expect(volumePod.containers[0].volumeMounts).toContainEqual({ name: 'backup', mountPath: '/backup' });
    expect(volumePod.volumes).toContainEqual({ name: 'backup', persistentVolumeClaim: { claimName: 'certkeeper-backup' } });
    // A freshly provisioned volume belongs to root: the Pod's group gets to write it.
    expect(volumePod.securityContext).toMatchObject({ fsGroup: 65532, fsGroupChangePolicy: 'OnRootMismatch', runAsUser: 65532 });

    const stderr = await helmFails(['template', 'certkeeper', chartDir, '--kube-version', env().kubernetesVersion, '-f', valuesFile({ accountBackup: { enabled: true, destination: 'volume' } })]);
    expect(stderr).toContain('accountBackup.destination=volume needs accountBackup.volume');
    const schema = await helmFails(['template', 'certkeeper', chartDir, '--kube-version', env().kubernetesVersion, '-f', valuesFile({ accountBackup: { enabled: true, destination: 'bucket', keep: -1 } })]);
    expect(schema).toContain('/accountBackup/destination');
    expect(schema).toContain('/accountBackup/keep');
  });

  it('gives the backup a ServiceAccount that reads Secrets everywhere and writes only the backup Secret', async () => {
    const manifests = await template({ clusterResourceNamespace: 'elsewhere', accountBackup: { enabled: true, secret: { namespace: 'vault', name: 'kept' } } }, { namespace: 'ops' });
    const rbac = manifests.filter((m) => m.metadata.labels?.['app.kubernetes.io/component'] === 'account-backup' && m.apiVersion.startsWith('rbac.'));
    expect(rbac.map((m) => `${m.kind} ${m.metadata.namespace ?? '-'}/${m.metadata.name}`).sort()).toEqual([
      'ClusterRole -/certkeeper-account-backup', 'ClusterRoleBinding -/certkeeper-account-backup',
      'Role elsewhere/certkeeper-account-backup-eab-ledger', 'Role vault/certkeeper-account-backup',
      'RoleBinding elsewhere/certkeeper-account-backup-eab-ledger', 'RoleBinding vault/certkeeper-account-backup',
    ]);
    expect(find(rbac, 'ClusterRole')!.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] },
      { apiGroups: ['certkeeper.io'], resources: ['issuers', 'clusterissuers'], verbs: ['list'] },
    ]);
    expect(rbac.find((m) => m.kind === 'Role' && m.metadata.namespace === 'elsewhere')!.rules).toEqual([{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }]);
    expect(rbac.find((m) => m.kind === 'Role' && m.metadata.namespace === 'vault')!.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['kept'], verbs: ['update'] },
    ]);
    for (const binding of rbac.filter((m) => m.kind.endsWith('Binding'))) {
      expect((binding as unknown as { subjects: unknown[] }).subjects).toEqual([{ kind: 'ServiceAccount', name: 'certkeeper-account-backup', namespace: 'ops' }]);
    }
    // Writing to a volume: no write of any Secret at all.
    const toVolume = await template({ accountBackup: { enabled: true, destination: 'volume', volume: { emptyDir: {} } } });
    expect(toVolume.filter((m) => m.kind === 'Role' && m.metadata.labels?.['app.kubernetes.io/component'] === 'account-backup').map((m) => m.metadata.name)).toEqual(['certkeeper-account-backup-eab-ledger']);
    // rbac.create=false: the user grants it.
    expect((await template({ rbac: { create: false }, accountBackup: { enabled: true } })).filter((m) => m.apiVersion.startsWith('rbac.'))).toEqual([]);
    // With the NetworkPolicy on, the backup Pods get their own: no ingress, egress to the API server and DNS.
    const policy = find(await template({ networkPolicy: { enabled: true }, accountBackup: { enabled: true } }), 'NetworkPolicy', 'certkeeper-account-backup')!;
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.ingress).toBeUndefined();
    expect(policy.spec.egress.map((e: { ports: { port: number }[] }) => e.ports.map((p) => p.port))).toEqual([[443, 6443], [53, 53]]);
  });

  it('renders a backup the API server accepts, to a Secret and to a volume (kubectl apply --dry-run=server)', async () => {
    const namespace = await createNamespace(kube, 'chart-backup-dry');
    for (const accountBackup of [{ enabled: true, includeTlsSecrets: true }, { enabled: true, destination: 'volume', volume: { persistentVolumeClaim: { claimName: 'backup' } } }]) {
      const text = await templateText({ accountBackup, networkPolicy: { enabled: true }, ...GUARD_NOWHERE }, { release: uniqueRelease('certkeeper-backup'), namespace, extra: ['--show-only', 'templates/account-backup.yaml'] });
      const { stdout } = await kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], text);
      expect(stdout).toContain('cronjob.batch/');
      expect(stdout).toContain('clusterrole.rbac.authorization.k8s.io/');
      expect(stdout).toContain('networkpolicy.networking.k8s.io/');
    }
  });

  it('renders manifests the API server accepts (kubectl apply --dry-run=server)', async () => {
    const namespace = await createNamespace(kube, 'chart-dry');
    for (const values of [{}, { replicaCount: 2, clusterResourceNamespace: namespace, extraEnv: [{ name: 'A', value: 'b' }] }]) {
      const text = await templateText({ ...values, ...GUARD_NOWHERE }, { release: uniqueRelease('certkeeper-dry'), namespace });
      const { stdout } = await kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], text);
      expect(stdout).toContain('deployment.apps/');
      expect(stdout).toContain('validatingadmissionpolicy.admissionregistration.k8s.io/');
      expect(stdout).toContain('customresourcedefinition.apiextensions.k8s.io/issuers.certkeeper.io');
    }
  });

  it('installs with helm into a fresh namespace, upgrades the Deployment, and uninstalls', async () => {
    const namespace = await createNamespace(kube, 'chart-install');
    const release = uniqueRelease('certkeeper');
    // The CRDs already exist (applied by kubectl in the global setup): the next test installs over them.
    const { stdout: installed } = await helm(['install', release, chartDir, '--namespace', namespace, '-f', valuesFile({ crds: { install: false }, ...GUARD_NOWHERE })]);
    expect(installed).toContain('STATUS: deployed');
    expect(installed).toContain('kind: Issuer'); // NOTES.txt tells what to apply next

    const deployment = await getObject(['deployment', '-n', namespace, release]);
    expect(deployment?.spec.template.spec.containers[0].args).toContain('--log-level=info');
    for (const object of [
      ['serviceaccount', '-n', namespace, release],
      ['service', '-n', namespace, `${release}-metrics`],
      ['service', '-n', namespace, `${release}-http01`],
      ['role', '-n', namespace, release],
      ['rolebinding', '-n', namespace, release],
      ['clusterrole', release],
      ['clusterrolebinding', release],
      ['validatingadmissionpolicy', `${release}-account-guard`],
      ['validatingadmissionpolicybinding', `${release}-account-guard`],
    ]) {
      expect(await getObject(object), object.join(' ')).toBeDefined();
    }

    await helm(['upgrade', release, chartDir, '--namespace', namespace, '--reuse-values', '--set', 'logLevel=debug']);
    const upgraded = await getObject(['deployment', '-n', namespace, release]);
    expect(upgraded?.spec.template.spec.containers[0].args).toContain('--log-level=debug');
    expect(upgraded?.metadata.generation).toBeGreaterThan(deployment!.metadata.generation!);

    await helm(['uninstall', release, '--namespace', namespace]);
    expect(await getObject(['clusterrole', release])).toBeUndefined();
    expect(await getObject(['validatingadmissionpolicy', `${release}-account-guard`])).toBeUndefined();
    expect(await getObject(['deployment', '-n', namespace, release])).toBeUndefined();
  });

  it('installs its CRDs over ones applied with kubectl (--take-ownership) and keeps them on uninstall', async () => {
    // Installing changes the CRDs every test uses: only if they are the same as crds/.
    expect(chartCrdsDrift(), 'charts/certkeeper/files/crds/ differs from crds/: run npm run manifests').toEqual([]);
    const namespace = await createNamespace(kube, 'chart-crds');
    const release = uniqueRelease('certkeeper-crds');
    try {
      const conflict = await helmFails(['install', release, chartDir, '--namespace', namespace, '-f', valuesFile(GUARD_NOWHERE)]);
      expect(conflict).toContain('exists and cannot be imported into the current release');

      await helm(['install', release, chartDir, '--namespace', namespace, '--take-ownership', '-f', valuesFile(GUARD_NOWHERE)]);
      const crd = await getObject(['crd', 'issuers.certkeeper.io']);
      expect(crd?.metadata.annotations).toMatchObject({ 'meta.helm.sh/release-name': release, 'helm.sh/resource-policy': 'keep' });

      await helm(['uninstall', release, '--namespace', namespace]);
      expect(await getObject(['clusterrole', release])).toBeUndefined();
      for (const name of ['issuers.certkeeper.io', 'clusterissuers.certkeeper.io']) {
        const kept = await getObject(['crd', name]);
        expect(kept?.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
        expect(kept?.spec).toBeDefined();
      }
    } finally {
      await restoreCrds();
    }
  });

  it('tells in NOTES.txt how to create an EAB Secret and an Issuer the API server accepts', async () => {
    const namespace = await createNamespace(kube, 'chart-notes');
    const { stdout } = await helm(['install', uniqueRelease('certkeeper-notes'), chartDir, '--namespace', namespace, '--dry-run=server', '-f', valuesFile({ crds: { install: false }, ...GUARD_NOWHERE })]);
    const notes = stdout.slice(stdout.indexOf('NOTES:'));
    expect(notes).toContain('kubectl create secret generic gts-eab');
    const example = /<<'YAML'\n([\s\S]*?)\n\s*YAML\n/.exec(notes)?.[1];
    expect(example).toBeDefined();
    const issuer = example!.replace(/^ {2}/gm, '')
      .replaceAll('<your-namespace>', namespace).replaceAll('<you@example.com>', 'ops@example.com').replaceAll('<keyId>', 'kid-1');
    const { stdout: applied } = await kubectl(['apply', '--dry-run=server', '-f', '-'], issuer);
    expect(applied).toContain('issuer.certkeeper.io/gts created (server dry run)');
  });
});

describe('deploy/', () => {
  it('is a fresh render of the chart for the pinned Kubernetes release', async () => {
    expect(toolsKubernetesVersion()).toBe(KUBERNETES_VERSION);
    expect(chartCrdsDrift(), 'run npm run manifests').toEqual([]);
    const files = await renderManifests(path.join(env().binDir, 'helm'));
    expect(manifestsDrift(files), 'deploy/ is out of date: run npm run manifests').toEqual([]);
    expect([...files.keys()]).toEqual(['00-namespace.yaml', '01-crds.yaml', '02-rbac.yaml', '03-controller.yaml', '04-account-guard.yaml']);
  });

  it('installs with kubectl apply --server-side -f deploy/, and a second apply changes nothing', async () => {
    try {
      const first = await kubectl(['apply', '--server-side', '-f', deployDir]);
      expect(first.stderr).not.toContain('Warning'); // e.g. from the restricted Pod Security Standard of the namespace
      for (const line of first.stdout.trim().split('\n')) expect(line).toMatch(/ serverside-applied$/);
      const names = (await kubectl(['get', '-f', deployDir, '-o', 'name'])).stdout.trim().split('\n');
      expect(names).toHaveLength(first.stdout.trim().split('\n').length);
      for (const expected of [
        'namespace/certkeeper', 'customresourcedefinition.apiextensions.k8s.io/issuers.certkeeper.io', 'serviceaccount/certkeeper',
        'clusterrole.rbac.authorization.k8s.io/certkeeper', 'clusterrolebinding.rbac.authorization.k8s.io/certkeeper',
        'role.rbac.authorization.k8s.io/certkeeper', 'deployment.apps/certkeeper', 'service/certkeeper-http01',
        'validatingadmissionpolicy.admissionregistration.k8s.io/certkeeper-account-guard',
        'validatingadmissionpolicybinding.admissionregistration.k8s.io/certkeeper-account-guard',
      ]) expect(names).toContain(expected);

      // Everything but what controllers write (status, the Deployment's revision, and the resourceVersion that
      // moves with them: on a cluster with controllers a policy's type checking or a rollout is written meanwhile).
      const versions = async () => (JSON.parse((await kubectl(['get', '-f', deployDir, '-o', 'json'])).stdout) as { items: KubeObject[] }).items.map((o) => {
        const { resourceVersion: _, managedFields, ...metadata } = o.metadata as unknown as Record<string, unknown> & { managedFields?: { manager: string }[] };
        const { 'deployment.kubernetes.io/revision': __, ...annotations } = (metadata.annotations ?? {}) as Record<string, string>;
        return { ...o, metadata: { ...metadata, annotations, managedFields: managedFields?.filter((f) => f.manager === 'kubectl') }, status: undefined };
      });
      const before = await versions();
      await kubectl(['diff', '--server-side', '-f', deployDir]); // exits 1 on any difference
      await kubectl(['apply', '--server-side', '-f', deployDir]);
      expect(await versions()).toEqual(before);
    } finally {
      // The shipped guard applies to every namespace: remove it so later test files may delete their Secrets.
      await kubectl(['delete', '--ignore-not-found', '-f', path.join(deployDir, '04-account-guard.yaml')]);
      await restoreCrds();
    }
  });

  it('installs with a client-side kubectl apply -f deploy/ (Argo CD\'s default), and a second apply and kubectl diff show nothing', async () => {
    try {
      await kubectl(['apply', '-f', deployDir]);
      const second = await kubectl(['apply', '-f', deployDir]);
      const lines = second.stdout.trim().split('\n');
      expect(lines.filter((line) => !line.endsWith(' unchanged')), 'a second client-side apply changed these').toEqual([]);
      // kubectl diff exits 1 on any difference, and fails on a conflict.
      await kubectl(['diff', '-f', deployDir]);
    } finally {
      await kubectl(['delete', '--ignore-not-found', '-f', path.join(deployDir, '04-account-guard.yaml')]);
      await restoreCrds();
    }
  });

  it('names the namespace of every namespaced object, whatever the kubeconfig\'s current namespace', () => {
    for (const file of readdirSync(deployDir).filter((f) => f.endsWith('.yaml'))) {
      for (const m of (loadAll(readFileSync(path.join(deployDir, file), 'utf8')) as (Manifest | null)[]).filter((x): x is Manifest => x !== null)) {
        const clusterScoped = ['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].includes(m.kind);
        expect(m.metadata.namespace, `${file}: ${m.kind}/${m.metadata.name}`).toBe(clusterScoped ? undefined : 'certkeeper');
      }
    }
  });
});
