// Several clusters against one CA, for the tests that need more than the shared
// environment (test/fleet.test.ts, test/restore-drill.test.ts): a second control
// plane with certkeeper's CRDs, a cluster as a client plus its own operator
// process and EAB ledger namespace, the CLI and kubectl pointed at one cluster,
// the Issuer every cluster gets from Git, and the CA's journal of EAB sends.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { API_VERSION } from '../src/api/meta.ts';
import { core, KubeClient, loadKubeConfig, type KubeObject } from '../src/kube/client.ts';
import { getJournal } from './env/ca-client.ts';
import { startControlPlane, type ControlPlane } from './env/controlplane.ts';
import type { EabKey } from './env/gts-proxy.ts';
import { freePort } from './env/ports.ts';
import { ensureTools, repoRoot } from './env/tools.ts';
import { env, waitFor } from './helpers.ts';
import { startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const run = promisify(execFile);
export const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };

export interface IssuerObject extends KubeObject {
  status?: {
    conditions?: { type: string; status: string; reason: string; message: string; observedGeneration?: number }[];
    acme?: { uri?: string; keyThumbprint?: string; eabKeyID?: string };
  };
}

export interface Cluster {
  name: string;
  kubeconfig: string;
  kube: KubeClient;
  /** The operator's cluster resource namespace: its EAB ledger. */
  ledgerNamespace: string;
  operator: OperatorProcess;
}

/** A control plane of its own (kube-apiserver and etcd in workDir) serving certkeeper's CRDs, as a cluster built from Git would. */
export async function startControlPlaneWithCrds(workDir: string): Promise<ControlPlane> {
  const plane = await startControlPlane({ tools: ensureTools(), workDir });
  await run(env().kubectl, ['--kubeconfig', plane.kubeconfig, 'apply', '--server-side', '-f', path.join(repoRoot, 'crds')]);
  await run(env().kubectl, ['--kubeconfig', plane.kubeconfig, 'wait', '--for=condition=Established', '--timeout=60s', 'crd', '-l', 'app.kubernetes.io/part-of=certkeeper']);
  return plane;
}

/**
 * A cluster's client and its operator, with ledgerNamespace created. The
 * operator answers HTTP-01 on a port of its own unless answerHttp01 (the port
 * Pebble validates on: only one operator at a time may have it).
 */
export async function startCluster(name: string, kubeconfig: string, ledgerNamespace: string, { answerHttp01 = false } = {}): Promise<Cluster> {
  const kube = await KubeClient.fromKubeConfig(loadKubeConfig(kubeconfig), { fieldManager: 'certkeeper-tests' });
  if (!await kube.get(core.namespaces, undefined, ledgerNamespace)) {
    await kube.create(core.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ledgerNamespace } });
  }
  const operator = await startOperatorProcess({ clusterResourceNamespace: ledgerNamespace, kubeconfig, ...(answerHttp01 ? {} : { http01Port: await freePort() }) });
  return { name, kubeconfig, kube, ledgerNamespace, operator };
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as users do, against one cluster. */
export function cli(cluster: Pick<Cluster, 'kubeconfig'>, args: string[], cwd: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin/certkeeper.js'), ...args, '--kubeconfig', cluster.kubeconfig], { stdio: ['ignore', 'pipe', 'pipe'], cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** kubectl against one cluster; its stdout. */
export async function kubectlOn(cluster: Pick<Cluster, 'kubeconfig'>, args: string[], input?: string): Promise<string> {
  const child = run(env().kubectl, ['--kubeconfig', cluster.kubeconfig, ...args], { maxBuffer: 64 * 1024 * 1024 });
  if (input !== undefined) child.child.stdin!.end(input);
  return (await child).stdout;
}

/**
 * The same manifests, as Git gives them to every cluster: the namespace, the
 * EAB Secret and an Issuer `gts` of the GTS-like CA (account key in
 * `account-key`), with the given solvers (and disableAccountKeyGeneration).
 */
export async function applyFromGit(
  cluster: Cluster, namespace: string, eab: EabKey, sharedWithFleet: boolean,
  { solvers, disableAccountKeyGeneration }: { solvers?: unknown[]; disableAccountKeyGeneration?: boolean } = {},
): Promise<void> {
  if (!await cluster.kube.get(core.namespaces, undefined, namespace)) {
    await cluster.kube.create(core.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  }
  await cluster.kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'eab', namespace }, stringData: { secret: eab.hmacKey } } as KubeObject);
  await cluster.kube.create(issuers, {
    apiVersion: API_VERSION,
    kind: 'Issuer',
    metadata: { name: 'gts', namespace },
    spec: {
      acme: {
        server: env().acme.directoryUrl,
        email: 'platform@example.com',
        privateKeySecretRef: { name: 'account-key' },
        externalAccountBinding: { keyID: eab.keyId, keySecretRef: { name: 'eab' }, ...(sharedWithFleet ? { sharedWithFleet: true } : {}) },
        caBundle: readFileSync(env().acme.caRootFile).toString('base64'),
        ...(solvers ? { solvers } : {}),
        ...(disableAccountKeyGeneration ? { disableAccountKeyGeneration } : {}),
      },
    },
  } as KubeObject);
}

/** Waits until Issuer NAMESPACE/gts on the cluster has this Ready reason (for its current generation). */
export async function waitForReason(cluster: Cluster, namespace: string, reason: string, messagePart?: string): Promise<IssuerObject> {
  let last = 'no status';
  try {
    return await waitFor(`${namespace}/gts on cluster ${cluster.name} to have Ready reason ${reason}`, async () => {
      const issuer = await cluster.kube.get<IssuerObject>(issuers, namespace, 'gts');
      const ready = issuer?.status?.conditions?.find((c) => c.type === 'Ready');
      if (ready) last = `${ready.reason}: ${ready.message}`;
      if (messagePart !== undefined && !ready?.message.includes(messagePart)) return undefined;
      return ready?.reason === reason && ready.observedGeneration === issuer?.metadata.generation ? issuer : undefined;
    }, { timeoutMs: 60_000 });
  } catch (error) {
    throw new Error(`${(error as Error).message}; last Ready: ${last}`);
  }
}

export function readyOf(issuer: IssuerObject) {
  return issuer.status!.conditions!.find((c) => c.type === 'Ready')!;
}

/** Every newAccount the CA saw with this EAB key (lookups without EAB carry no kid). */
export async function eabSends(kid: string): Promise<number[]> {
  return (await getJournal(env().acme.managementUrl)).filter((e) => e.kid === kid).map((e) => e.status);
}

/** How many syncs of Issuer NS/gts the cluster's operator has logged. */
export function syncsOf(cluster: Cluster, namespace: string): number {
  return cluster.operator.records().filter((r) => r.msg === 'synced' && r.key === `Issuer/${namespace}/gts`).length;
}
