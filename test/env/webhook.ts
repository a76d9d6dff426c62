// A cert-manager webhook solver (tools/webhook-solver, built on cert-manager's
// pkg/acme/webhook/cmd) on a free loopback port, registered with the test API
// server as an APIService, so the API server proxies the solver's group to it
// through the aggregation layer (the control plane has the request-header
// flags). The API server reaches it through an ExternalName Service pointing
// at 127.0.0.1 (Endpoints may not hold loopback addresses). The solver
// generates a self-signed serving certificate; the APIService skips its
// verification (tests only).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { KubeClient, KubeObject, ResourceType } from '../../src/kube/client.ts';
import { startChild, stopChild, waitForChild } from './children.ts';
import { freePort, waitForPort } from './ports.ts';
import { repoRoot } from './tools.ts';

export const apiServices: ResourceType = { group: 'apiregistration.k8s.io', version: 'v1', plural: 'apiservices', namespaced: false };
const services: ResourceType = { group: '', version: 'v1', plural: 'services', namespaced: true };

export interface RunningWebhook {
  groupName: string;
  logFile: string;
  stop(): Promise<void>;
}

export function ensureWebhookSolver(): string {
  return execFileSync('bash', [path.join(repoRoot, 'tools/webhook-solver.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()!;
}

export async function startWebhookSolver(kube: KubeClient, opts: { workDir: string; kubeconfig: string; namespace: string; groupName: string }): Promise<RunningWebhook> {
  const binary = ensureWebhookSolver();
  const port = await freePort();
  const logFile = path.join(opts.workDir, `webhook-${port}.log`);
  const child = startChild(binary, [
    `--secure-port=${port}`, '--bind-address=127.0.0.1', `--cert-dir=${path.join(opts.workDir, `webhook-certs-${port}`)}`,
    `--kubeconfig=${opts.kubeconfig}`, `--authentication-kubeconfig=${opts.kubeconfig}`, `--authorization-kubeconfig=${opts.kubeconfig}`,
  ], logFile, { GROUP_NAME: opts.groupName });
  try {
    await waitForChild(child, 'webhook solver', () => waitForPort(port, 60_000), logFile);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  const name = `v1alpha1.${opts.groupName}`;
  await kube.create(services, {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'webhook-solver', namespace: opts.namespace },
    spec: { type: 'ExternalName', externalName: 'localhost', ports: [{ name: 'https', port }] },
  } as KubeObject);
  await kube.create(apiServices, {
    apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', metadata: { name },
    spec: {
      group: opts.groupName, version: 'v1alpha1', groupPriorityMinimum: 1000, versionPriority: 15,
      service: { namespace: opts.namespace, name: 'webhook-solver', port },
      insecureSkipTLSVerify: true,
    },
  } as KubeObject);
  return {
    groupName: opts.groupName,
    logFile,
    async stop() {
      await kube.delete(apiServices, undefined, name).catch(() => false);
      await stopChild(child);
    },
  };
}
