// `certkeeper migrate` on a cluster that ran cert-manager: cert-manager's real
// CRDs (from its Go module) on the real API server, an account registered with
// the GTS-like CA by another client with its one EAB key, a certificate that
// client obtained, and the objects and Secrets cert-manager keeps for them.
// After `migrate --apply` and with the operator running, the ClusterIssuer is
// Ready on the same account and the Certificate Ready on the same Secret: the
// CA's journal shows no second EAB send and its order list no new order.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import acme from 'acme-client';
import { loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { getJournal, getOrders, mintEabKey } from './env/ca-client.ts';
import type { EabKey } from './env/gts-proxy.ts';
import { ensureExtraTools, repoRoot } from './env/tools.ts';
import { createNamespace, env, kubeClient, kubectl, waitFor } from './helpers.ts';
import { startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const run = promisify(execFile);
const cm = (plural: string, namespaced: boolean) => ({ group: 'cert-manager.io', version: 'v1', plural, namespaced });
const ck = (plural: string, namespaced: boolean) => ({ group: 'certkeeper.io', version: 'v1alpha1', plural, namespaced });

interface StatusObject extends KubeObject {
  status?: { conditions?: { type: string; status: string; reason: string }[]; acme?: { uri?: string }; revision?: number };
  data?: Record<string, string>;
}

let kube: KubeClient;
let operator: OperatorProcess | undefined;
let crdDir: string;
let cmNamespace: string;
let appNamespace: string;
let systemNamespace: string;

async function certkeeper(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(repoRoot, 'bin/certkeeper.js'), ...args, '--kubeconfig', env().kubeconfig], { maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** What cert-manager did before: register with the EAB key (its only use), then order a certificate over HTTP-01. */
async function asCertManagerDid(accountKey: KeyObject, eab: EabKey, email: string, dnsName: string) {
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: readFileSync(env().acme.caRootFile) });
  const accountKeyPem = accountKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const registering = new acme.Client({ directoryUrl: env().acme.directoryUrl, accountKey: accountKeyPem, externalAccountBinding: { kid: eab.keyId, hmacKey: eab.hmacKey } });
  await registering.createAccount({ termsOfServiceAgreed: true, contact: [`mailto:${email}`] });
  const accountUrl = registering.getAccountUrl();

  // The HTTP-01 answers, where the CA looks for them (the test DNS resolves every name to 127.0.0.1).
  const answers = new Map<string, string>();
  const server = http.createServer((req, res) => {
    const token = req.url?.split('/').pop() ?? '';
    res.writeHead(answers.has(token) ? 200 : 404).end(answers.get(token) ?? '');
  });
  await new Promise<void>((resolve) => server.listen(env().acme.httpChallengePort, '127.0.0.1', resolve));
  try {
    const client = new acme.Client({ directoryUrl: env().acme.directoryUrl, accountKey: accountKeyPem, accountUrl });
    const [keyPem, csr] = await acme.crypto.createCsr({ altNames: [dnsName] }, await acme.crypto.createPrivateRsaKey(2048));
    const chain = await client.auto({
      csr,
      challengePriority: ['http-01'],
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => { answers.set(challenge.token, keyAuthorization); },
      challengeRemoveFn: async (_authz, challenge) => { answers.delete(challenge.token); },
    });
    return { accountUrl, accountKeyPem, keyPem: keyPem.toString(), chain };
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

let withoutCertManager: { code: number; stderr: string };

beforeAll(async () => {
  crdDir = ensureExtraTools().certManagerCrds;
  withoutCertManager = await certkeeper(['migrate']);
  await kubectl(['apply', '--server-side', '-f', crdDir]);
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', crdDir]);
  kube = await kubeClient();
  cmNamespace = await createNamespace(kube, 'cert-manager');
  appNamespace = await createNamespace(kube, 'app');
  systemNamespace = await createNamespace(kube, 'certkeeper-system');
});

afterAll(async () => {
  await operator?.stop();
  // cert-manager's short names (cert, certs) must not linger for later test files.
  if (crdDir) await kubectl(['delete', '--ignore-not-found', '--wait=false', '-f', crdDir]);
  kube?.close();
});

describe('certkeeper migrate', () => {
  it('says so when cert-manager is not installed', () => {
    expect(withoutCertManager.code).toBe(1);
    expect(withoutCertManager.stderr).toContain('cert-manager\'s CRDs are not installed');
  });

  it('moves an EAB ClusterIssuer and its Certificate with 0 EAB sends and 0 orders', async () => {
    const mgmt = env().acme.managementUrl;
    const eab = await mintEabKey(mgmt);
    const accountKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const dnsName = `migrated-${process.pid}-${randomBytes(2).toString('hex')}.certkeeper.test`;
    const before = await asCertManagerDid(accountKey, eab, 'pki@example.com', dnsName);
    const issuerName = `gts-${randomBytes(3).toString('hex')}`;

    // cert-manager's objects and Secrets, as it leaves them.
    await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'gts-account', namespace: cmNamespace }, data: { 'tls.key': Buffer.from(before.accountKeyPem).toString('base64') } } as KubeObject);
    await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'gts-eab', namespace: cmNamespace }, stringData: { secret: eab.hmacKey } } as KubeObject);
    await kube.create(cm('clusterissuers', false), {
      apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', metadata: { name: issuerName },
      spec: { acme: {
        server: env().acme.directoryUrl, email: 'pki@example.com',
        caBundle: readFileSync(env().acme.caRootFile).toString('base64'),
        privateKeySecretRef: { name: 'gts-account' },
        externalAccountBinding: { keyID: eab.keyId, keySecretRef: { name: 'gts-eab', key: 'secret' } },
        solvers: [{ http01: { ingress: { ingressClassName: 'nginx', name: 'web-ingress' } } }],
      } },
    } as KubeObject);
    await kube.mergePatch(cm('clusterissuers', false), undefined, issuerName, {
      status: { acme: { uri: before.accountUrl, lastRegisteredEmail: 'pki@example.com' }, conditions: [{ type: 'Ready', status: 'True', reason: 'ACMEAccountRegistered', message: 'The ACME account was registered with the ACME server' }] },
    }, 'status');
    const cmCertificate = await kube.create(cm('certificates', true), {
      apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'web', namespace: appNamespace },
      spec: { secretName: 'web-tls', dnsNames: [dnsName], issuerRef: { name: issuerName, kind: 'ClusterIssuer', group: 'cert-manager.io' } },
    } as KubeObject);
    await kube.create(core.secrets, {
      apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls',
      metadata: {
        name: 'web-tls', namespace: appNamespace,
        annotations: { 'cert-manager.io/certificate-name': 'web', 'cert-manager.io/issuer-name': issuerName, 'cert-manager.io/issuer-kind': 'ClusterIssuer' },
        ownerReferences: [{ apiVersion: 'cert-manager.io/v1', kind: 'Certificate', name: 'web', uid: cmCertificate.metadata.uid, controller: true, blockOwnerDeletion: true }],
      },
      data: { 'tls.crt': Buffer.from(before.chain).toString('base64'), 'tls.key': Buffer.from(before.keyPem).toString('base64') },
    } as KubeObject);
    const eabSends = async () => (await getJournal(mgmt)).filter((e) => e.kid === eab.keyId).length;
    const ordersFor = async () => (await getOrders(mgmt)).filter((o) => o.identifiers.some((i) => i.value === dnsName)).length;
    expect(await eabSends()).toBe(1);
    expect(await ordersFor()).toBe(1);
    const args = ['migrate', '--cluster-resource-namespace', systemNamespace, '--cert-manager-namespace', cmNamespace];

    // Dry run: the plan and the manifests, nothing written.
    const dry = await certkeeper(args);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).toContain('dry run');
    expect(dry.stderr).toContain(`copy the account key Secret ${cmNamespace}/gts-account to ${systemNamespace}/gts-account as an imported account (${before.accountUrl})`);
    expect(dry.stderr).toContain('remove its ownerReference to cert-manager\'s Certificate');
    const manifests = (loadAll(dry.stdout) as { kind: string; metadata: { name: string }; spec: { acme?: { solvers?: unknown[] } } }[]).filter((o) => o.metadata.name === issuerName || o.metadata.name === 'web');
    expect(manifests.map((o) => o.kind).sort()).toEqual(['Certificate', 'ClusterIssuer']);
    // Edit-in-place (ingress.name) is carried over as it is, not reported.
    expect(dry.stderr).not.toContain('spec.acme.solvers[0].http01.ingress.name');
    expect(manifests.find((o) => o.kind === 'ClusterIssuer')!.spec.acme!.solvers).toEqual([{ http01: { ingress: { ingressClassName: 'nginx', name: 'web-ingress' } } }]);
    expect(await kube.get(ck('clusterissuers', false), undefined, issuerName)).toBeUndefined();
    expect(await kube.get(core.secrets, systemNamespace, 'gts-account')).toBeUndefined();

    const applied = await certkeeper([...args, '--apply']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr).toContain(`create certkeeper ClusterIssuer ${issuerName}: created`);
    expect(applied.stderr).toContain(`create certkeeper Certificate ${appNamespace}/web: created`);
    expect(applied.stderr).not.toContain(before.accountKeyPem.split('\n')[1]!.slice(0, 24));
    const copied = (await kube.get<StatusObject>(core.secrets, systemNamespace, 'gts-account'))!;
    expect(copied.metadata.annotations).toMatchObject({ 'certkeeper.io/account-state': 'imported', 'certkeeper.io/account-url': before.accountUrl, 'certkeeper.io/eab-key-id': eab.keyId });
    expect((await kube.getMetadata(core.secrets, appNamespace, 'web-tls'))!.metadata.ownerReferences ?? []).toEqual([]);

    operator = await startOperatorProcess({ clusterResourceNamespace: systemNamespace });
    const issuer = await waitFor('the ClusterIssuer to be Ready', async () => {
      const object = await kube.get<StatusObject>(ck('clusterissuers', false), undefined, issuerName);
      return object?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? object : undefined;
    });
    expect(issuer.status!.acme!.uri).toBe(before.accountUrl);
    const certificate = await waitFor('the Certificate to be Ready', async () => {
      const object = await kube.get<StatusObject>(ck('certificates', true), appNamespace, 'web');
      return object?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? object : undefined;
    });
    expect(certificate.status!.revision).toBeUndefined();
    const secret = (await kube.get<StatusObject>(core.secrets, appNamespace, 'web-tls'))!;
    expect(Buffer.from(secret.data!['tls.crt']!, 'base64').toString()).toBe(before.chain);
    expect(await eabSends()).toBe(1);
    expect(await ordersFor()).toBe(1);

    // A second run changes nothing.
    const again = await certkeeper([...args, '--apply']);
    expect(again.stderr).toContain(`create certkeeper ClusterIssuer ${issuerName}: exists, left alone`);
  });
});
