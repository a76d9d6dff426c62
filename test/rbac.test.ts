// The chart's RBAC on the real API server: with the ServiceAccount, ClusterRole,
// Role and bindings applied, `kubectl auth can-i --as=<the ServiceAccount>`
// shows certkeeper can do what it needs (its resources, their status, Secrets,
// Events, its Lease, HTTP-01 Ingresses/HTTPRoutes and the EAB ledger's ConfigMaps
// in its namespace; for the Ingress/Gateway shim, reading Ingresses and Gateways
// and writing Certificates; for HTTP-01 edit-in-place, patching Ingresses and
// creating/deleting Services and EndpointSlices; for CA injection, reading and
// updating webhook configurations, CRDs and APIServices) and nothing more: no deleting Secrets or ledger entries, no
// Pods, ConfigMaps elsewhere, Namespaces or wildcards, no creating, patching or deleting the CA injection's kinds.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../src/kube/client.ts';
import { chartDir } from '../scripts/render-manifests.ts';
import { createNamespace, env, kubeClient, kubectl } from './helpers.ts';

const run = promisify(execFile);

describe('the chart\'s RBAC', () => {
  let kube: KubeClient;
  let namespace: string;
  let otherNamespace: string;
  let release: string;
  let serviceAccount: string;

  beforeAll(async () => {
    kube = await kubeClient();
    namespace = await createNamespace(kube, 'rbac');
    otherNamespace = await createNamespace(kube, 'rbac-other');
    release = `certkeeper-rbac-${randomBytes(3).toString('hex')}`;
    serviceAccount = `system:serviceaccount:${namespace}:${release}`;
    const { stdout } = await run(path.join(env().binDir, 'helm'), [
      'template', release, chartDir, '--namespace', namespace, '--kube-version', env().kubernetesVersion,
      '--show-only', 'templates/serviceaccount.yaml', '--show-only', 'templates/rbac.yaml',
    ]);
    await kubectl(['apply', '--server-side', '-f', '-'], stdout);
  });

  afterAll(async () => {
    // Cluster-scoped, so not cleaned up with the namespace.
    await kubectl(['delete', '--ignore-not-found', 'clusterrolebinding', release]);
    await kubectl(['delete', '--ignore-not-found', 'clusterrole', release]);
    kube.close();
  });

  /**
   * Asks the API server with a SubjectAccessReview, which is what kubectl auth can-i
   * sends; for resources the server does not serve, where kubectl cannot resolve the
   * name (Gateway API is not installed here).
   */
  async function review(verb: string, resource: string, ns: string): Promise<boolean> {
    const [plural, ...group] = resource.split('.');
    const { stdout } = await kubectl(['create', '-o', 'json', '-f', '-'], JSON.stringify({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: serviceAccount,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
        resourceAttributes: { namespace: ns, verb, group: group.join('.'), resource: plural },
      },
    }));
    return JSON.parse(stdout).status.allowed === true;
  }

  /** kubectl auth can-i as certkeeper's ServiceAccount: exit 0 "yes", exit 1 "no". */
  async function canI(verb: string, resource: string, ns: string = otherNamespace, subresource?: string): Promise<boolean> {
    if (resource.endsWith('.gateway.networking.k8s.io')) return review(verb, resource, ns);
    const args = ['auth', 'can-i', verb, resource, '--as', serviceAccount, '-n', ns, ...(subresource ? ['--subresource', subresource] : [])];
    try {
      const { stdout } = await kubectl(args);
      expect(stdout.trim()).toBe('yes');
      return true;
    } catch (error) {
      const { stdout, code } = error as { stdout?: string; code?: number };
      if (code === 1 && stdout?.trim().startsWith('no')) return false;
      throw error;
    }
  }

  async function table(checks: [verb: string, resource: string, ns?: string, subresource?: string][]) {
    const answers = await Promise.all(checks.map(async ([verb, resource, ns, sub]) => [`${verb} ${resource}${sub ? `/${sub}` : ''} in ${ns === namespace ? 'its namespace' : 'another namespace'}`, await canI(verb, resource, ns, sub)] as const));
    return Object.fromEntries(answers);
  }

  it('grants no edit-in-place rights with http01.editInPlace=false', async () => {
    const { stdout } = await run(path.join(env().binDir, 'helm'), [
      'template', release, chartDir, '--namespace', namespace, '--kube-version', env().kubernetesVersion,
      '--show-only', 'templates/rbac.yaml', '--set', 'http01.editInPlace=false',
    ]);
    expect(stdout).not.toContain('endpointslices');
    expect(stdout).not.toContain('"services"');
    expect(stdout).not.toContain('verbs: ["get", "patch"]');
    expect(stdout).toContain('resources: ["ingresses"]');
  });

  it('grants no CA injection rights with caInjector.enabled=false', async () => {
    const { stdout } = await run(path.join(env().binDir, 'helm'), [
      'template', release, chartDir, '--namespace', namespace, '--kube-version', env().kubernetesVersion,
      '--show-only', 'templates/rbac.yaml', '--set', 'caInjector.enabled=false',
    ]);
    for (const resource of ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations', 'customresourcedefinitions', 'apiservices']) expect(stdout).not.toContain(resource);
  });

  it('grants exactly the rules certkeeper needs', async () => {
    const clusterRole = JSON.parse((await kubectl(['get', 'clusterrole', release, '-o', 'json'])).stdout);
    expect(clusterRole.rules).toEqual([
      { apiGroups: ['certkeeper.io'], resources: ['issuers', 'clusterissuers', 'certificates'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['certkeeper.io'], resources: ['issuers/status', 'clusterissuers/status', 'certificates/status'], verbs: ['get', 'patch', 'update'] },
      // The Ingress and Gateway shim.
      { apiGroups: ['certkeeper.io'], resources: ['certificates'], verbs: ['create', 'patch', 'update', 'delete'] },
      { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['gateway.networking.k8s.io'], resources: ['gateways'], verbs: ['get', 'list', 'watch'] },
      // CA injection: watch the four kinds, write back the annotated ones.
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'], verbs: ['get', 'list', 'watch', 'update'] },
      { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['get', 'list', 'watch', 'update'] },
      { apiGroups: ['apiregistration.k8s.io'], resources: ['apiservices'], verbs: ['get', 'list', 'watch', 'update'] },
      // HTTP-01 edit-in-place: the named Ingress is patched, a Service and EndpointSlice sit beside it.
      { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['get', 'patch'] },
      { apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'create', 'delete'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'update'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    ]);
    const role = JSON.parse((await kubectl(['get', 'role', '-n', namespace, release, '-o', 'json'])).stdout);
    expect(role.rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
      { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['get', 'list', 'watch', 'create', 'delete'] },
      { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes'], verbs: ['get', 'list', 'watch', 'create', 'delete'] },
    ]);
    // The EAB ledger, in the cluster resource namespace (the release namespace by default).
    const ledger = JSON.parse((await kubectl(['get', 'role', '-n', namespace, `${release}-eab-ledger`, '-o', 'json'])).stdout);
    expect(ledger.rules).toEqual([{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'create', 'update'] }]);
  });

  it('lets certkeeper do what it needs', async () => {
    const checks: [string, string, string?, string?][] = [];
    for (const resource of ['issuers.certkeeper.io', 'clusterissuers.certkeeper.io', 'certificates.certkeeper.io']) {
      for (const verb of ['get', 'list', 'watch']) checks.push([verb, resource]);
      for (const verb of ['get', 'patch', 'update']) checks.push([verb, resource, otherNamespace, 'status']);
    }
    for (const verb of ['get', 'list', 'watch', 'create', 'patch', 'update']) checks.push([verb, 'secrets'], [verb, 'secrets', namespace]);
    for (const verb of ['create', 'patch']) checks.push([verb, 'events'], [verb, 'events', namespace]);
    for (const verb of ['get', 'create', 'update']) checks.push([verb, 'leases.coordination.k8s.io', namespace]);
    for (const verb of ['get', 'list', 'watch', 'create', 'delete']) {
      checks.push([verb, 'ingresses.networking.k8s.io', namespace], [verb, 'httproutes.gateway.networking.k8s.io', namespace]);
    }
    for (const verb of ['get', 'list', 'create', 'update']) checks.push([verb, 'configmaps', namespace]);
    // The shim: read Ingresses and Gateways everywhere, write the Certificates it owns.
    for (const verb of ['get', 'list', 'watch']) checks.push([verb, 'ingresses.networking.k8s.io'], [verb, 'gateways.gateway.networking.k8s.io']);
    for (const verb of ['create', 'patch', 'update', 'delete']) checks.push([verb, 'certificates.certkeeper.io']);
    // HTTP-01 edit-in-place, in any Certificate's namespace (and the solver Service's EndpointSlices in its own).
    checks.push(['patch', 'ingresses.networking.k8s.io'], ['get', 'services', namespace]);
    for (const verb of ['get', 'list', 'create', 'delete']) checks.push([verb, 'services']);
    for (const verb of ['get', 'list', 'create', 'patch', 'delete']) checks.push([verb, 'endpointslices.discovery.k8s.io'], [verb, 'endpointslices.discovery.k8s.io', namespace]);
    // CA injection (cluster-scoped kinds).
    for (const verb of ['get', 'list', 'watch', 'update']) {
      for (const resource of ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations']) checks.push([verb, `${resource}.admissionregistration.k8s.io`]);
      checks.push([verb, 'customresourcedefinitions.apiextensions.k8s.io'], [verb, 'apiservices.apiregistration.k8s.io']);
    }
    const answers = await table(checks);
    expect(Object.entries(answers).filter(([, yes]) => !yes).map(([what]) => what)).toEqual([]);
  });

  it('denies everything else: deleting Secrets or ledger entries, Pods, ConfigMaps elsewhere, Namespaces, wildcards', async () => {
    const answers = await table([
      ['delete', 'secrets'], ['delete', 'secrets', namespace], ['deletecollection', 'secrets', namespace],
      ['list', 'pods'], ['get', 'pods', namespace], ['create', 'pods', namespace],
      ['get', 'configmaps'], ['list', 'configmaps'], ['create', 'configmaps'],
      ['delete', 'configmaps', namespace], ['deletecollection', 'configmaps', namespace], ['patch', 'configmaps', namespace], ['watch', 'configmaps', namespace],
      ['create', 'namespaces'], ['get', 'namespaces'], ['delete', 'namespaces'],
      ['*', '*'], ['*', '*', namespace], ['*', 'secrets', namespace], ['get', '*', namespace],
      // Its own resources: read-only apart from status (and the Certificates the shim owns).
      ['create', 'issuers.certkeeper.io'], ['update', 'issuers.certkeeper.io'], ['delete', 'issuers.certkeeper.io'],
      ['patch', 'clusterissuers.certkeeper.io'], ['deletecollection', 'certificates.certkeeper.io'], ['update', 'certificates.certkeeper.io', otherNamespace, 'finalizers'],
      // Ingresses of users: patched for edit-in-place (JSON patches that pin what they change), never replaced or deleted; Gateways read only.
      ['update', 'ingresses.networking.k8s.io'], ['delete', 'ingresses.networking.k8s.io'],
      ['patch', 'gateways.gateway.networking.k8s.io'], ['delete', 'gateways.gateway.networking.k8s.io'],
      // The edit's Service and EndpointSlice are created and deleted, never changed otherwise.
      ['update', 'services'], ['patch', 'services'], ['deletecollection', 'services'], ['watch', 'services'],
      ['update', 'endpointslices.discovery.k8s.io'], ['deletecollection', 'endpointslices.discovery.k8s.io'], ['create', 'endpoints'],
      // Leases and HTTP-01 routes only in its own namespace, and only what it uses.
      ['get', 'leases.coordination.k8s.io'], ['delete', 'leases.coordination.k8s.io', namespace], ['list', 'leases.coordination.k8s.io', namespace],
      ['create', 'ingresses.networking.k8s.io'], ['update', 'ingresses.networking.k8s.io', namespace],
      ['create', 'httproutes.gateway.networking.k8s.io'], ['patch', 'httproutes.gateway.networking.k8s.io', namespace],
      // Nothing that would let it widen its own rights or reach workloads.
      ['create', 'deployments.apps', namespace], ['create', 'serviceaccounts/token', namespace],
      ['create', 'clusterrolebindings.rbac.authorization.k8s.io'], ['escalate', 'clusterroles.rbac.authorization.k8s.io'],
      ['bind', 'clusterroles.rbac.authorization.k8s.io'], ['impersonate', 'users'], ['get', 'nodes'],
      ['create', 'validatingadmissionpolicies.admissionregistration.k8s.io'], ['delete', 'validatingadmissionpolicybindings.admissionregistration.k8s.io'],
      // CA injection writes back what exists (update), never creates, patches or deletes.
      ['create', 'validatingwebhookconfigurations.admissionregistration.k8s.io'], ['patch', 'validatingwebhookconfigurations.admissionregistration.k8s.io'],
      ['delete', 'mutatingwebhookconfigurations.admissionregistration.k8s.io'], ['deletecollection', 'validatingwebhookconfigurations.admissionregistration.k8s.io'],
      ['create', 'customresourcedefinitions.apiextensions.k8s.io'], ['patch', 'customresourcedefinitions.apiextensions.k8s.io'], ['delete', 'customresourcedefinitions.apiextensions.k8s.io'],
      ['create', 'apiservices.apiregistration.k8s.io'], ['delete', 'apiservices.apiregistration.k8s.io'], ['update', 'apiservices.apiregistration.k8s.io', otherNamespace, 'status'],
    ]);
    expect(Object.entries(answers).filter(([, yes]) => yes).map(([what]) => what)).toEqual([]);
  });
});
