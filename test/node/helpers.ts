// Helpers of the node-cluster tests: kubectl and helm on the environment's
// cluster, waiting for conditions, the operator's Pods and Lease.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { LocalEnvInfo } from '../env/types.ts';

const run = promisify(execFile);

export const RELEASE_NS = 'certkeeper';
export const APPS_NS = 'apps';

export interface Pod {
  metadata: { name: string; deletionTimestamp?: string };
  spec: { nodeName?: string; containers: { securityContext?: Record<string, unknown> }[] };
  status: { phase: string; conditions?: { type: string; status: string }[]; containerStatuses?: { ready: boolean; restartCount: number; state: Record<string, { exitCode?: number }> }[] };
}

export function clusterTools(info: () => LocalEnvInfo) {
  const kubectl = async (args: string[], input?: string): Promise<string> => {
    const child = run(info().kubectl, ['--kubeconfig', info().kubeconfig, ...args], { maxBuffer: 32 * 1024 * 1024 });
    if (input !== undefined) child.child.stdin!.end(input);
    return (await child).stdout;
  };
  const helm = async (args: string[]): Promise<string> => {
    const { stdout } = await run(path.join(info().binDir, 'helm'), ['--kubeconfig', info().kubeconfig, ...args], { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  };
  const getJson = async <T>(args: string[]): Promise<T> => JSON.parse(await kubectl([...args, '-o', 'json'])) as T;
  const operatorPods = async (): Promise<Pod[]> => (await getJson<{ items: Pod[] }>(['get', 'pods', '-n', RELEASE_NS, '-l', 'app.kubernetes.io/name=certkeeper'])).items;
  const leaseHolder = async (): Promise<string | undefined> => {
    const lease = await getJson<{ spec: { holderIdentity?: string } }>(['get', 'lease', 'certkeeper', '-n', RELEASE_NS]);
    return lease.spec.holderIdentity || undefined;
  };
  const certificate = (name: string, namespace: string) => getJson<{ metadata: { generation: number }; status?: { revision?: number; conditions?: { type: string; status: string; observedGeneration?: number }[] } }>(['get', 'certificate', name, '-n', namespace]);
  /** Waits until the Certificate is Ready for its current generation (and, if given, at least at that revision). */
  const certificateReady = async (name: string, minRevision = 1, timeoutMs = 90_000, namespace = APPS_NS) => waitFor(`Certificate ${namespace}/${name} Ready at revision ${minRevision} or later`, async () => {
    const cert = await certificate(name, namespace);
    const ready = cert.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === cert.metadata.generation);
    return ready && (cert.status?.revision ?? 0) >= minRevision ? (cert as { status: { revision: number } }) : undefined;
  }, timeoutMs);
  return { kubectl, helm, getJson, operatorPods, leaseHolder, certificateReady };
}

export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export const isReady = (p: Pod) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true && !p.metadata.deletionTimestamp;

export function certificateManifest(name: string, dnsNames: string[], issuer = 'gts'): string {
  return JSON.stringify({
    apiVersion: 'certkeeper.io/v1alpha1',
    kind: 'Certificate',
    metadata: { name, namespace: APPS_NS },
    spec: { secretName: `${name}-tls`, issuerRef: { name: issuer, kind: 'Issuer' }, dnsNames },
  });
}

/**
 * Waits until an HTTP server answers at a Service's ClusterIP from this machine,
 * i.e. kube-proxy has programmed the Service (before that, packets to it would be
 * routed off the machine and dropped by the guard).
 */
export async function waitForServiceHttp(ip: string, port: number): Promise<void> {
  await waitFor(`HTTP at ${ip}:${port}`, async () => {
    const res = await fetch(`http://${ip}:${port}/.well-known/acme-challenge/probe`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return true;
  }, 60_000);
}
