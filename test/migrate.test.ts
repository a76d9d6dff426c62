// `certkeeper migrate` on a cluster that ran cert-manager: cert-manager's real
// CRDs (from its Go module) on the real API server, an account registered with
// the GTS-like CA by another client with its one EAB key, a certificate that
// client obtained, and the objects and Secrets cert-manager keeps for them.
// After `migrate --apply` and with the operator running, the ClusterIssuer is
// Ready on the same account and the Certificate Ready on the same Secret: the
// CA's journal shows no second EAB send and its order list no new order.
// Then a chart's selfSigned → root CA → ca issuer chain, a ca ClusterIssuer
// and cert-manager's CA injection annotations, with the key pairs cert-manager
// left: migrate plans 0 new keys, and every key stays byte for byte.
import { execFile } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import * as x509 from '@peculiar/x509';
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

x509.cryptoProvider.set(webcrypto as never);

type KeyType = 'RSA' | 'ECDSA-256' | 'ECDSA-384';
const keyAlgorithms: Record<KeyType, { generate: webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams; sign: webcrypto.Algorithm | webcrypto.EcdsaParams }> = {
  'RSA': { generate: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 }, sign: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as webcrypto.Algorithm },
  'ECDSA-256': { generate: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams },
  'ECDSA-384': { generate: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } as webcrypto.EcdsaParams },
};

interface Signed {
  keys: webcrypto.CryptoKeyPair;
  type: KeyType;
  certificate: x509.X509Certificate;
  /** The key as cert-manager writes it: PKCS#1 (SEC 1 for ECDSA) by default, or PKCS#8. */
  keyPem: string;
}

/** A key pair and a certificate, as cert-manager's selfSigned (no issuer) or ca issuer (issuer) left them in a Secret. */
async function signedAsCertManagerDid(opts: {
  type: KeyType; subject: string; isCA?: boolean; issuer?: Signed; days: number; encoding?: 'pkcs1' | 'pkcs8';
  names?: x509.JsonGeneralNames; usages?: number; extendedUsages?: string[];
}): Promise<Signed> {
  const algorithm = keyAlgorithms[opts.type];
  const keys = await webcrypto.subtle.generateKey(algorithm.generate, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const signer = opts.issuer ?? { keys, type: opts.type };
  const notBefore = new Date(Date.now() - 86_400_000);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(opts.isCA === true, undefined, true),
    new x509.KeyUsagesExtension(opts.usages ?? (opts.isCA ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment), true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (opts.extendedUsages) extensions.push(new x509.ExtendedKeyUsageExtension(opts.extendedUsages));
  if (opts.names) extensions.push(new x509.SubjectAlternativeNameExtension(opts.names));
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(8).toString('hex').replace(/^[89a-f]/, '1'),
    subject: opts.subject,
    issuer: opts.issuer ? opts.issuer.certificate.subject : opts.subject,
    notBefore,
    notAfter: new Date(notBefore.getTime() + opts.days * 86_400_000),
    publicKey: keys.publicKey,
    signingKey: signer.keys.privateKey,
    signingAlgorithm: keyAlgorithms[signer.type].sign,
    extensions,
  });
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const keyPem = (opts.encoding === 'pkcs8' ? key.export({ type: 'pkcs8', format: 'pem' }) : key.export({ type: opts.type === 'RSA' ? 'pkcs1' : 'sec1', format: 'pem' })) as string;
  return { keys, type: opts.type, certificate, keyPem };
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

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
  it('moves a selfSigned → root CA → ca issuer chain, a ca ClusterIssuer and the CA injection annotations with 0 new keys', async () => {
    const ns = await createNamespace(kube, 'monitoring');
    const suffix = randomBytes(3).toString('hex');
    const corpCa = `corp-ca-${suffix}`;
    const corpRootSecret = `corp-root-${suffix}`;
    const webhookName = `monitoring-admission-${suffix}`;
    const vwc = { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingwebhookconfigurations', namespaced: false };

    // What cert-manager left: a root CA (selfSigned, isCA), a serving certificate from it (ca issuer),
    // a cluster-wide CA in cert-manager's namespace and a client certificate of it (URI and email
    // names, a common name that is no host name), each Secret with ca.crt as cert-manager writes it.
    const root = await signedAsCertManagerDid({ type: 'RSA', subject: 'CN=ca.webhook.monitoring-operator', isCA: true, days: 5 * 365 });
    const serving = await signedAsCertManagerDid({
      type: 'RSA', subject: '', issuer: root, days: 365, extendedUsages: [x509.ExtendedKeyUsage.serverAuth],
      names: [{ type: 'dns', value: 'monitoring-operator' }, { type: 'dns', value: `monitoring-operator.${ns}.svc` }],
    });
    const corpRoot = await signedAsCertManagerDid({ type: 'ECDSA-384', subject: 'CN=Corp Internal Root CA, O=Example Corp, C=DE', isCA: true, days: 10 * 365 });
    const client = await signedAsCertManagerDid({
      type: 'ECDSA-256', subject: 'CN=Payments ledger client', issuer: corpRoot, days: 30, encoding: 'pkcs8',
      extendedUsages: [x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth],
      names: [{ type: 'url', value: 'spiffe://corp.example/ns/payments/sa/ledger' }, { type: 'email', value: 'payments-oncall@corp.example' }],
    });
    const tlsSecret = (namespace: string, name: string, signed: Signed, ca: Signed, ownerReferences?: unknown[]) => ({
      apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls',
      metadata: { name, namespace, annotations: { 'cert-manager.io/certificate-name': name }, ...(ownerReferences ? { ownerReferences } : {}) },
      data: { 'tls.crt': b64(signed.certificate.toString('pem')), 'tls.key': b64(signed.keyPem), 'ca.crt': b64(ca.certificate.toString('pem')) },
    } as KubeObject);

    await kube.create(cm('issuers', true), { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: { name: 'monitoring-operator-root', namespace: ns }, spec: { selfSigned: {} } } as KubeObject);
    await kube.create(cm('certificates', true), {
      apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'monitoring-operator-root-cert', namespace: ns },
      spec: { secretName: 'monitoring-operator-root-cert', duration: '43800h0m0s', commonName: 'ca.webhook.monitoring-operator', isCA: true, issuerRef: { name: 'monitoring-operator-root' } },
    } as KubeObject);
    await kube.create(cm('issuers', true), { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: { name: 'monitoring-operator-ca', namespace: ns }, spec: { ca: { secretName: 'monitoring-operator-root-cert' } } } as KubeObject);
    const cmServing = await kube.create(cm('certificates', true), {
      apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'monitoring-operator-admission', namespace: ns },
      spec: { secretName: 'monitoring-operator-admission', duration: '8760h0m0s', dnsNames: ['monitoring-operator', `monitoring-operator.${ns}.svc`], issuerRef: { name: 'monitoring-operator-ca', kind: 'Issuer' } },
    } as KubeObject);
    await kube.create(cm('clusterissuers', false), { apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', metadata: { name: corpCa }, spec: { ca: { secretName: corpRootSecret, ocspServers: ['http://ocsp.corp.example'] } } } as KubeObject);
    await kube.create(cm('certificates', true), {
      apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'payments-client', namespace: appNamespace },
      spec: {
        secretName: 'payments-client-tls', commonName: 'Payments ledger client', duration: '720h',
        uris: ['spiffe://corp.example/ns/payments/sa/ledger'], emailAddresses: ['payments-oncall@corp.example'],
        usages: ['digital signature', 'key encipherment', 'client auth', 'server auth'], privateKey: { algorithm: 'ECDSA', encoding: 'PKCS8' },
        issuerRef: { name: corpCa, kind: 'ClusterIssuer', group: 'cert-manager.io' },
      },
    } as KubeObject);
    await kube.create(core.secrets, tlsSecret(ns, 'monitoring-operator-root-cert', root, root));
    await kube.create(core.secrets, tlsSecret(ns, 'monitoring-operator-admission', serving, root, [{ apiVersion: 'cert-manager.io/v1', kind: 'Certificate', name: 'monitoring-operator-admission', uid: cmServing.metadata.uid, controller: true, blockOwnerDeletion: true }]));
    await kube.create(core.secrets, tlsSecret(cmNamespace, corpRootSecret, corpRoot, corpRoot));
    await kube.create(core.secrets, tlsSecret(appNamespace, 'payments-client-tls', client, corpRoot));
    // CA injection: a webhook configuration from the serving Certificate, and a Secret that allows direct injection.
    await kube.create(vwc, {
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration',
      metadata: { name: webhookName, annotations: { 'cert-manager.io/inject-ca-from': `${ns}/monitoring-operator-admission` } },
      webhooks: [{
        name: 'rulevalidate.monitoring.example.com', admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Ignore',
        clientConfig: { service: { namespace: ns, name: 'monitoring-operator', path: '/admission-rules/validate' } },
        rules: [{ apiGroups: ['monitoring.example.com'], apiVersions: ['*'], resources: ['alertrules'], operations: ['CREATE', 'UPDATE'] }],
      }],
    } as KubeObject);
    await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'adapter-ca', namespace: ns, annotations: { 'cert-manager.io/allow-direct-injection': 'true' } }, data: { 'ca.crt': b64(root.certificate.toString('pem')) } } as KubeObject);

    const secretData = async (namespace: string, name: string) => (await kube.get<StatusObject>(core.secrets, namespace, name))?.data;
    const before = {
      root: await secretData(ns, 'monitoring-operator-root-cert'),
      serving: await secretData(ns, 'monitoring-operator-admission'),
      corpRoot: await secretData(cmNamespace, corpRootSecret),
      client: await secretData(appNamespace, 'payments-client-tls'),
    };
    const args = ['migrate', '--cluster-resource-namespace', systemNamespace, '--cert-manager-namespace', cmNamespace];

    const dry = await certkeeper(args);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).toContain(`Issuer ${ns}/monitoring-operator-ca: use the CA Secret ${ns}/monitoring-operator-root-cert where it is (its key pair signs: no new CA key)`);
    expect(dry.stderr).toContain(`ClusterIssuer ${corpCa}: copy the CA Secret ${cmNamespace}/${corpRootSecret} to ${systemNamespace}/${corpRootSecret} as it is (the same key pair signs: no new CA key)`);
    for (const [certificate, secret] of [[`${ns}/monitoring-operator-root-cert`, 'monitoring-operator-root-cert'], [`${ns}/monitoring-operator-admission`, 'monitoring-operator-admission'], [`${appNamespace}/payments-client`, 'payments-client-tls']]) {
      expect(dry.stderr).toMatch(new RegExp(`Certificate ${certificate}: use Secret ${secret} as it is \\(valid until [^)]*; its key pair is kept: no new key\\)`));
    }
    expect(dry.stderr).toMatch(new RegExp(`Certificate ${ns}/monitoring-operator-admission: use Secret [^\\n]*; remove its ownerReference to cert-manager's Certificate`));
    expect(dry.stderr).toContain(`ValidatingWebhookConfiguration ${webhookName}: annotate certkeeper.io/inject-ca-from=${ns}/monitoring-operator-admission (cert-manager's is kept)`);
    expect(dry.stderr).toContain(`Secret ${ns}/adapter-ca: annotate certkeeper.io/allow-direct-injection=true (cert-manager's is kept)`);
    expect(dry.stderr).toMatch(/^new private keys: 0 \(/m);
    // ClusterIssuers' CA Secrets are copied by migrate: not reported as a step left to the user.
    expect(dry.stderr).not.toContain(`ClusterIssuer ${corpCa}: spec.ca.secretName`);
    const manifests = (loadAll(dry.stdout) as { kind: string; metadata: { name: string; namespace?: string }; spec: Record<string, unknown> }[]).filter((o) => o.metadata.namespace === ns || o.metadata.name === corpCa || o.metadata.name === 'payments-client');
    expect(manifests.map((o) => `${o.kind} ${o.metadata.name}`).sort()).toEqual([
      'Certificate monitoring-operator-admission', 'Certificate monitoring-operator-root-cert', 'Certificate payments-client',
      `ClusterIssuer ${corpCa}`, 'Issuer monitoring-operator-ca', 'Issuer monitoring-operator-root',
    ]);
    expect(manifests.find((o) => o.metadata.name === 'payments-client')!.spec).toMatchObject({ commonName: 'Payments ledger client', uris: ['spiffe://corp.example/ns/payments/sa/ledger'], emailAddresses: ['payments-oncall@corp.example'], duration: '720h' });
    expect(manifests.find((o) => o.metadata.name === 'monitoring-operator-root-cert')!.spec).toMatchObject({ isCA: true, privateKey: { algorithm: 'RSA', encoding: 'PKCS1' } });
    // A dry run changes nothing.
    expect((await kube.getMetadata(vwc, undefined, webhookName))!.metadata.annotations).toEqual({ 'cert-manager.io/inject-ca-from': `${ns}/monitoring-operator-admission` });
    expect(await kube.getMetadata(core.secrets, systemNamespace, corpRootSecret)).toBeUndefined();

    const applied = await certkeeper([...args, '--apply']);
    expect(applied.code, applied.stderr).toBe(0);
    for (const created of [`Issuer ${ns}/monitoring-operator-root`, `Issuer ${ns}/monitoring-operator-ca`, `Certificate ${ns}/monitoring-operator-root-cert`, `Certificate ${ns}/monitoring-operator-admission`, `ClusterIssuer ${corpCa}`, `Certificate ${appNamespace}/payments-client`]) {
      expect(applied.stderr).toContain(`create certkeeper ${created}: created`);
    }
    expect(applied.stderr).toContain(`to ${systemNamespace}/${corpRootSecret} as it is (the same key pair signs: no new CA key): copied`);
    expect(applied.stderr).toContain(`annotate certkeeper.io/inject-ca-from=${ns}/monitoring-operator-admission (cert-manager's is kept): annotated`);
    expect(applied.stderr).not.toContain(b64(root.keyPem).slice(40, 80));
    // The CA key pair is copied byte for byte; cert-manager's annotations stay beside certkeeper's.
    const copy = (await kube.get<StatusObject & { type?: string }>(core.secrets, systemNamespace, corpRootSecret))!;
    expect(copy.type).toBe('kubernetes.io/tls');
    expect(copy.data).toEqual(before.corpRoot);
    expect((await kube.getMetadata(vwc, undefined, webhookName))!.metadata.annotations).toEqual({
      'cert-manager.io/inject-ca-from': `${ns}/monitoring-operator-admission`,
      'certkeeper.io/inject-ca-from': `${ns}/monitoring-operator-admission`,
    });
    expect((await kube.getMetadata(core.secrets, ns, 'adapter-ca'))!.metadata.annotations).toEqual({ 'cert-manager.io/allow-direct-injection': 'true', 'certkeeper.io/allow-direct-injection': 'true' });
    expect((await kube.getMetadata(core.secrets, ns, 'monitoring-operator-admission'))!.metadata.ownerReferences ?? []).toEqual([]);

    // The operator adopts them: the issuers sign with the same CA keys, the Certificates are Ready on the same Secrets.
    operator ??= await startOperatorProcess({ clusterResourceNamespace: systemNamespace });
    const readyReason = async (type: ReturnType<typeof ck>, namespace: string | undefined, name: string) => waitFor(`${type.plural} ${namespace ?? ''}/${name} to be Ready`, async () => {
      const object = await kube.get<StatusObject>(type, namespace, name);
      return object?.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True') ? object : undefined;
    });
    await readyReason(ck('issuers', true), ns, 'monitoring-operator-root');
    await readyReason(ck('issuers', true), ns, 'monitoring-operator-ca');
    await readyReason(ck('clusterissuers', false), undefined, corpCa);
    for (const [namespace, name] of [[ns, 'monitoring-operator-root-cert'], [ns, 'monitoring-operator-admission'], [appNamespace, 'payments-client']] as const) {
      const certificate = await readyReason(ck('certificates', true), namespace, name);
      expect(certificate.status!.revision, `${namespace}/${name} was issued again`).toBeUndefined();
    }
    const after = {
      root: await secretData(ns, 'monitoring-operator-root-cert'),
      serving: await secretData(ns, 'monitoring-operator-admission'),
      corpRoot: await secretData(cmNamespace, corpRootSecret),
      client: await secretData(appNamespace, 'payments-client-tls'),
    };
    for (const name of ['root', 'serving', 'corpRoot', 'client'] as const) {
      expect(after[name]!['tls.key'], `${name}: tls.key`).toBe(before[name]!['tls.key']);
      expect(after[name]!['tls.crt'], `${name}: tls.crt`).toBe(before[name]!['tls.crt']);
    }
    expect((await secretData(systemNamespace, corpRootSecret))!['tls.key']).toBe(before.corpRoot!['tls.key']);
    // The renamed annotation works: certkeeper injects the serving Secret's ca.crt (the old root) into the webhook configuration.
    await waitFor('the root CA injected into the webhook configuration', async () => {
      const object = await kube.get<KubeObject & { webhooks?: { clientConfig: { caBundle?: string } }[] }>(vwc, undefined, webhookName);
      return object?.webhooks?.[0]?.clientConfig.caBundle === b64(root.certificate.toString('pem'));
    });

    // A second run changes nothing.
    const again = await certkeeper([...args, '--apply']);
    expect(again.stderr).toContain(`create certkeeper Issuer ${ns}/monitoring-operator-ca: exists, left alone`);
    expect(again.stderr).toContain(`copy the CA Secret ${cmNamespace}/${corpRootSecret} to ${systemNamespace}/${corpRootSecret} as it is (the same key pair signs: no new CA key): exists with the same key pair, left alone`);
    expect(again.stderr).toContain(`ValidatingWebhookConfiguration ${webhookName}: already annotated certkeeper.io/inject-ca-from`);
    expect(again.stderr).toMatch(/^new private keys: 0 \(/m);
    await kube.delete(vwc, undefined, webhookName);
  });
});
