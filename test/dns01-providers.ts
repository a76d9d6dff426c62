// Shared steps of the DNS-01 provider tests (test/dns01-*.test.ts): an Issuer
// with one dns01 solver, a Certificate for a wildcard and a plain name issued
// by the real operator through the GTS-like CA (Pebble validates through the
// test BIND), the challenge records gone afterwards, a credentials failure that
// costs no order, and the credentials absent from everything the operator wrote.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { API_VERSION } from '../src/api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { queryTxt } from '../src/solvers/dns01/provider.ts';
import { getOrders, mintEabKey } from './env/ca-client.ts';
import { env, waitFor } from './helpers.ts';
import { allOperatorOutput, startOperatorProcess, type OperatorProcess } from './operator-process.ts';

export const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };
export const clusterIssuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'clusterissuers', namespaced: false };
export const certificates = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'certificates', namespaced: true };

type Condition = { type: string; status: string; reason: string; message: string; observedGeneration?: number };
export interface CertificateObject extends KubeObject {
  status?: { conditions?: Condition[]; revision?: number; failedIssuanceAttempts?: number };
}

/** The operator, resolving through BIND only: BIND is the zone's authoritative server here, and NS records name port 53. */
export function startDnsOperator(clusterResourceNamespace: string, extra: { args?: string[]; env?: Record<string, string> } = {}): Promise<OperatorProcess> {
  return startOperatorProcess({
    clusterResourceNamespace,
    args: ['--dns01-recursive-nameservers', env().dns.server, '--dns01-recursive-nameservers-only', '--dns01-propagation-timeout', '30', ...(extra.args ?? [])],
    env: extra.env ?? {},
  });
}

export async function createSecret(kube: KubeClient, namespace: string, name: string, stringData: Record<string, string>): Promise<void> {
  await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, stringData } as KubeObject);
}

/** An Issuer (or ClusterIssuer when namespace is undefined) with a fresh EAB key and the given solvers; waits until it is Ready. */
export async function createIssuer(kube: KubeClient, opts: { namespace: string; name: string; solvers: unknown[]; cluster?: boolean }): Promise<void> {
  const eab = await mintEabKey(env().acme.managementUrl);
  await createSecret(kube, opts.namespace, `${opts.name}-eab`, { secret: eab.hmacKey });
  const type = opts.cluster ? clusterIssuers : issuers;
  await kube.create(type, {
    apiVersion: API_VERSION,
    kind: opts.cluster ? 'ClusterIssuer' : 'Issuer',
    metadata: { name: opts.name, ...(opts.cluster ? {} : { namespace: opts.namespace }) },
    spec: {
      acme: {
        server: env().acme.directoryUrl,
        email: 'ops@example.com',
        privateKeySecretRef: { name: `${opts.name}-account` },
        externalAccountBinding: { keyID: eab.keyId, keySecretRef: { name: `${opts.name}-eab` } },
        caBundle: readFileSync(env().acme.caRootFile).toString('base64'),
        solvers: opts.solvers,
      },
    },
  } as KubeObject);
  await waitFor(`${opts.name} to be Ready`, async () => {
    const issuer = await kube.get<KubeObject & { status?: { conditions?: Condition[] } }>(type, opts.cluster ? undefined : opts.namespace, opts.name);
    return issuer?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  }, { timeoutMs: 60_000 });
}

const condition = (c: CertificateObject | undefined, type: string) => c?.status?.conditions?.find((x) => x.type === type);

/**
 * Issues `*.<base>` and `<base>` on one Certificate and checks the Secret; the
 * TXT records at BIND (and, through recordsLeft, at the provider) are gone afterwards.
 */
export async function issueWildcardAndPlain(kube: KubeClient, opts: {
  namespace: string; name: string; base: string; issuerRef: { name: string; kind?: string }; recordsLeft?: () => Promise<string[]>;
  /** acme-dns has no delete: its values stay until replaced. */
  recordsStay?: boolean;
}): Promise<void> {
  const names = [`*.${opts.base}`, opts.base];
  await kube.create(certificates, {
    apiVersion: API_VERSION,
    kind: 'Certificate',
    metadata: { name: opts.name, namespace: opts.namespace },
    spec: { secretName: `${opts.name}-tls`, issuerRef: opts.issuerRef, dnsNames: names },
  } as KubeObject);
  let last = '';
  try {
    await waitFor(`${opts.name} to be Ready`, async () => {
      const cert = await kube.get<CertificateObject>(certificates, opts.namespace, opts.name);
      last = JSON.stringify(cert?.status?.conditions ?? []);
      return condition(cert, 'Ready')?.status === 'True';
    }, { timeoutMs: 90_000 });
  } catch (error) {
    throw new Error(`${(error as Error).message}; last conditions: ${last}`);
  }
  const secret = (await kube.get<KubeObject & { data?: Record<string, string> }>(core.secrets, opts.namespace, `${opts.name}-tls`))!;
  const leaf = new X509Certificate(Buffer.from(secret.data!['tls.crt']!, 'base64'));
  expect(leaf.subjectAltName?.split(', ').sort()).toEqual(names.map((n) => `DNS:${n}`).sort());
  // Cleaned up once validated: nothing at BIND, nothing left at the provider.
  if (!opts.recordsStay) await waitFor('the challenge records to be removed', async () => (await queryTxt(`_acme-challenge.${opts.base}.`, env().dns.server)).length === 0, { timeoutMs: 10_000 });
  if (opts.recordsLeft) expect(await opts.recordsLeft()).toEqual([]);
}

/**
 * A Certificate whose solver's credentials are refused: the Issuing condition
 * says so (matching `expected`), and the CA saw no new order.
 */
export async function credentialsFailureWastesNoOrder(kube: KubeClient, opts: {
  namespace: string; name: string; base: string; issuerRef: { name: string; kind?: string }; expected: RegExp;
}): Promise<string> {
  const ordersBefore = (await getOrders(env().acme.managementUrl)).length;
  await kube.create(certificates, {
    apiVersion: API_VERSION,
    kind: 'Certificate',
    metadata: { name: opts.name, namespace: opts.namespace },
    spec: { secretName: `${opts.name}-tls`, issuerRef: opts.issuerRef, dnsNames: [`*.${opts.base}`, opts.base] },
  } as KubeObject);
  const issuing = await waitFor(`${opts.name} to report the failure`, async () => {
    const c = condition(await kube.get<CertificateObject>(certificates, opts.namespace, opts.name), 'Issuing');
    return c?.status === 'False' ? c : undefined;
  }, { timeoutMs: 60_000 });
  expect(issuing.message).toMatch(opts.expected);
  const ready = condition(await kube.get<CertificateObject>(certificates, opts.namespace, opts.name), 'Ready');
  expect(ready).toMatchObject({ status: 'False', reason: 'Failed' });
  expect((await getOrders(env().acme.managementUrl)).length).toBe(ordersBefore);
  return issuing.message;
}

/** None of the secrets appears in the operator's output, in events or in Certificate and Issuer status. */
export async function expectNoSecretsAnywhere(kube: KubeClient, namespaces: string[], secrets: string[]): Promise<void> {
  const texts = [allOperatorOutput.join('\n')];
  for (const namespace of namespaces) {
    texts.push(JSON.stringify((await kube.list(core.events, { namespace })).items));
    texts.push(JSON.stringify((await kube.list(certificates, { namespace })).items.map((c) => (c as CertificateObject).status)));
    texts.push(JSON.stringify((await kube.list(issuers, { namespace })).items.map((c) => (c as CertificateObject).status)));
  }
  const all = texts.join('\n');
  expect(allOperatorOutput.length).toBeGreaterThan(0);
  for (const secret of secrets.filter((s) => s.length >= 8)) expect(all).not.toContain(secret);
}
