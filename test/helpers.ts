// Shared helpers for integration tests: a Kubernetes client on the test
// cluster, a namespace per test file, kubectl, and waiting for a condition.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { core, KubeClient, loadKubeConfig } from '../src/kube/client.ts';

const run = promisify(execFile);

export function env() {
  return inject('env');
}

export async function kubeClient(): Promise<KubeClient> {
  return KubeClient.fromKubeConfig(loadKubeConfig(env().kubeconfig), { fieldManager: 'certkeeper-tests' });
}

/** Creates a namespace with a unique name for one test file or test. */
export async function createNamespace(kube: KubeClient, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kube.create(core.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return name;
}

export async function kubectl(args: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
  const e = env();
  const child = run(e.kubectl, ['--kubeconfig', e.kubeconfig, ...args], { maxBuffer: 16 * 1024 * 1024 });
  if (input !== undefined) {
    child.child.stdin!.end(input);
  }
  return child;
}

/** Runs kubectl and returns its failure (stderr) or throws if it succeeded. */
export async function kubectlFails(args: string[], input?: string): Promise<string> {
  try {
    await kubectl(args, input);
  } catch (error) {
    return (error as { stderr: string }).stderr;
  }
  throw new Error(`kubectl ${args.join(' ')} succeeded but was expected to fail`);
}

/**
 * Polls until check returns a value other than undefined/false, or fails with
 * the last observed state after timeoutMs.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  { timeoutMs = 60_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * An Issuer of the environment's GTS-like CA with a fresh EAB key: the key's
 * Secret (`eab`) and the Issuer (account key in `account-key`, the given
 * solvers). Returns the key, whose ID the CA's journal is filtered by.
 */
export async function createEabIssuer(kube: KubeClient, namespace: string, name = 'gts', solvers?: unknown[]): Promise<{ keyId: string; hmacKey: string }> {
  const { mintEabKey } = await import('./env/ca-client.ts');
  const { readFileSync } = await import('node:fs');
  const key = await mintEabKey(env().acme.managementUrl);
  await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'eab', namespace }, stringData: { secret: key.hmacKey } });
  await kube.create({ group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true }, {
    apiVersion: 'certkeeper.io/v1alpha1', kind: 'Issuer', metadata: { name, namespace },
    spec: { acme: {
      server: env().acme.directoryUrl, email: 'ops@example.com', privateKeySecretRef: { name: 'account-key' },
      externalAccountBinding: { keyID: key.keyId, keySecretRef: { name: 'eab' } },
      caBundle: readFileSync(env().acme.caRootFile).toString('base64'),
      ...(solvers ? { solvers } : {}),
    } },
  } as never);
  return key;
}
