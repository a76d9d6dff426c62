// selfSigned and ca issuers on the real API server: a root CA signed by its
// own key, leaves signed by it with what cert-manager's CA issuer writes
// (chain, ca.crt, SANs of every kind, usages, duration), local renewal and
// key rotation, and a CA Secret that cannot sign (missing, not a CA,
// expired, key mismatch) reported with a reason and nothing signed.
import { X509Certificate, createPublicKey } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../src/api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { generatePrivateKeyPem } from '../src/pki/keys.ts';
import { signCertificate } from '../src/pki/sign.ts';
import { createNamespace, kubeClient, kubectlFails, waitFor } from './helpers.ts';
import { startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };
const clusterIssuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'clusterissuers', namespaced: false };
const certificates = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'certificates', namespaced: true };

type Condition = { type: string; status: string; reason: string; message: string };
interface StatusObject extends KubeObject {
  status?: { conditions?: Condition[]; revision?: number; notAfter?: string };
}
interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

let kube: KubeClient;
let operator: OperatorProcess;
let ns: string;

const ready = (object: StatusObject | undefined) => object?.status?.conditions?.find((c) => c.type === 'Ready');
const pem = (secret: SecretObject | undefined, key: string) => Buffer.from(secret!.data![key]!, 'base64').toString('utf8');
const chainOf = (text: string) => text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!.map((block) => new X509Certificate(block));

async function createIssuer(name: string, spec: object, kind: 'Issuer' | 'ClusterIssuer' = 'Issuer'): Promise<void> {
  await kube.create(kind === 'Issuer' ? issuers : clusterIssuers, {
    apiVersion: API_VERSION, kind, metadata: kind === 'Issuer' ? { name, namespace: ns } : { name }, spec,
  } as KubeObject);
}

async function createCertificate(name: string, spec: object): Promise<void> {
  await kube.create(certificates, { apiVersion: API_VERSION, kind: 'Certificate', metadata: { name, namespace: ns }, spec } as KubeObject);
}

async function issuerCondition(name: string, reason: string, kind: 'Issuer' | 'ClusterIssuer' = 'Issuer'): Promise<Condition> {
  return waitFor(`${kind} ${name} Ready reason ${reason}`, async () => {
    const object = await kube.get<StatusObject>(kind === 'Issuer' ? issuers : clusterIssuers, kind === 'Issuer' ? ns : undefined, name);
    const condition = ready(object);
    return condition?.reason === reason ? condition : undefined;
  });
}

async function certificateAt(name: string, predicate: (object: StatusObject) => boolean, what: string): Promise<StatusObject> {
  return waitFor(`Certificate ${name}: ${what}`, async () => {
    const object = await kube.get<StatusObject>(certificates, ns, name);
    return object && predicate(object) ? object : undefined;
  });
}

const readyRevision = (revision: number) => (c: StatusObject) => c.status?.revision === revision && ready(c)?.status === 'True';

/** A kubernetes.io/tls Secret with what the test puts in it (the CA Secret problems). */
async function writeTlsSecret(name: string, certificatePem: string, keyPem: string): Promise<void> {
  const body = {
    apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name, namespace: ns },
    data: { 'tls.crt': Buffer.from(certificatePem).toString('base64'), 'tls.key': Buffer.from(keyPem).toString('base64') },
  } as KubeObject;
  if (await kube.get(core.secrets, ns, name)) await kube.replace(core.secrets, body);
  else await kube.create(core.secrets, body);
}

beforeAll(async () => {
  kube = await kubeClient();
  ns = await createNamespace(kube, 'local-issuers');
  operator = await startOperatorProcess({ clusterResourceNamespace: ns });
  await createIssuer('self', { selfSigned: {} });
});

afterAll(async () => {
  await operator?.stop();
  await kube?.delete(clusterIssuers, undefined, `ca-${ns}`).catch(() => undefined);
  kube?.close();
});

describe('issuer types at the API server', () => {
  it('refuses an Issuer with two kinds of issuer, or none', async () => {
    const both = await kubectlFails(['apply', '-f', '-'], JSON.stringify({
      apiVersion: API_VERSION, kind: 'Issuer', metadata: { name: 'both', namespace: ns },
      spec: { selfSigned: {}, ca: { secretName: 'root-ca' } },
    }));
    expect(both).toContain('exactly one of acme, selfSigned or ca is required');
    const none = await kubectlFails(['apply', '-f', '-'], JSON.stringify({ apiVersion: API_VERSION, kind: 'Issuer', metadata: { name: 'none', namespace: ns }, spec: {} }));
    expect(none).toContain('exactly one of acme, selfSigned or ca is required');
  });

  it('refuses a ca issuer whose secretName is not a Secret name', async () => {
    const bad = await kubectlFails(['apply', '-f', '-'], JSON.stringify({
      apiVersion: API_VERSION, kind: 'Issuer', metadata: { name: 'bad-name', namespace: ns }, spec: { ca: { secretName: 'Bad_Secret.Name' } },
    }));
    expect(bad).toContain('spec.ca.secretName');
  });
});

describe('selfSigned and ca issuers', () => {
  it('signs a root CA with its own key, then leaves with that CA: chain, ca.crt, every kind of name, usages and duration', async () => {
    const selfIssuer = await issuerCondition('self', 'SelfSigned');
    expect(selfIssuer.status).toBe('True');
    await createCertificate('root', {
      secretName: 'root-ca', issuerRef: { name: 'self' }, isCA: true, commonName: 'Example Root CA',
      subject: { organizations: ['Example Org'], countries: ['DE'] }, privateKey: { algorithm: 'ECDSA', size: 384 },
    });
    await certificateAt('root', readyRevision(1), 'revision 1, Ready');
    const rootSecret = await kube.get<SecretObject>(core.secrets, ns, 'root-ca');
    const [root] = chainOf(pem(rootSecret, 'tls.crt'));
    expect(root!.ca).toBe(true);
    expect(root!.subject).toContain('CN=Example Root CA');
    expect(root!.subject).toContain('O=Example Org');
    expect(root!.verify(root!.publicKey)).toBe(true);
    // selfSigned: ca.crt is the certificate itself.
    expect(new X509Certificate(pem(rootSecret, 'ca.crt')).fingerprint256).toBe(root!.fingerprint256);

    await createIssuer('root-ca', { ca: { secretName: 'root-ca', ocspServers: ['http://ocsp.example.com'], crlDistributionPoints: ['http://crl.example.com/root.crl'] } });
    const caIssuer = await issuerCondition('root-ca', 'KeyPairVerified');
    expect(caIssuer.message).toContain('Example Root CA');

    await createCertificate('leaf', {
      secretName: 'leaf-tls', issuerRef: { name: 'root-ca' }, commonName: 'leaf service',
      dnsNames: ['leaf.example.com'], ipAddresses: ['127.0.0.1'], uris: ['spiffe://cluster.local/ns/test/sa/leaf'], emailAddresses: ['ops@example.com'],
      usages: ['digital signature', 'key encipherment', 'server auth', 'client auth'], duration: '48h',
    });
    const leafCertificate = await certificateAt('leaf', readyRevision(1), 'revision 1, Ready');
    const leafSecret = await kube.get<SecretObject>(core.secrets, ns, 'leaf-tls');
    const chain = chainOf(pem(leafSecret, 'tls.crt'));
    expect(chain).toHaveLength(2);
    const leaf = chain[0]!;
    expect(leaf.checkIssued(root!)).toBe(true);
    expect(leaf.verify(root!.publicKey)).toBe(true);
    expect(chain[1]!.fingerprint256).toBe(root!.fingerprint256);
    expect(new X509Certificate(pem(leafSecret, 'ca.crt')).fingerprint256).toBe(root!.fingerprint256);
    expect(leaf.ca).toBe(false);
    expect(leaf.subject).toContain('CN=leaf service');
    expect(leaf.subjectAltName).toContain('DNS:leaf.example.com');
    expect(leaf.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(leaf.subjectAltName).toContain('URI:spiffe://cluster.local/ns/test/sa/leaf');
    expect(leaf.subjectAltName).toContain('email:ops@example.com');
    // The common name of a locally signed certificate is a subject field, not a name it must carry.
    expect(leaf.subjectAltName).not.toContain('leaf service');
    expect(leaf.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    const lifetime = Date.parse(leaf.validTo) - Date.parse(leaf.validFrom);
    expect(Math.abs(lifetime - 48 * 3_600_000)).toBeLessThanOrEqual(2_000);
    expect(Date.parse(leafCertificate.status!.notAfter!)).toBe(Math.floor(Date.parse(leaf.validTo) / 1000) * 1000);
    const parsed = new x509.X509Certificate(leaf.raw);
    expect(parsed.getExtension(x509.AuthorityInfoAccessExtension)?.ocsp.map((n) => n.value)).toEqual(['http://ocsp.example.com']);
    expect(parsed.getExtension(x509.CRLDistributionPointsExtension)).toBeTruthy();
    // The key the Secret holds is the certificate's.
    expect(createPublicKey(pem(leafSecret, 'tls.key')).export({ format: 'der', type: 'spki' }).equals(leaf.publicKey.export({ format: 'der', type: 'spki' }))).toBe(true);
  });

  it('renews locally with a new key (rotationPolicy Always) or the same key (Never), and signs again when the spec changes', async () => {
    // cert-manager's renewal windows apply (they are accepted) and the Ready message says they are not applied.
    await createCertificate('rotating', { secretName: 'rotating-tls', issuerRef: { name: 'root-ca' }, dnsNames: ['rotating.example.com'], renewal: { windows: [{ cron: '0 2 * * 6', windowDuration: '4h' }] } });
    await createCertificate('keeping', { secretName: 'keeping-tls', issuerRef: { name: 'root-ca' }, dnsNames: ['keeping.example.com'], privateKey: { rotationPolicy: 'Never' } });
    const rotating = await certificateAt('rotating', readyRevision(1), 'revision 1');
    expect(ready(rotating)!.message).toContain('spec.renewal (renewal windows) is not applied');
    await certificateAt('keeping', readyRevision(1), 'revision 1');
    const before = {
      rotating: await kube.get<SecretObject>(core.secrets, ns, 'rotating-tls'),
      keeping: await kube.get<SecretObject>(core.secrets, ns, 'keeping-tls'),
    };
    const requested = new Date().toISOString();
    for (const name of ['rotating', 'keeping']) {
      await kube.mergePatch(certificates, ns, name, { metadata: { annotations: { 'certkeeper.io/renew-requested-at': requested } } });
    }
    await certificateAt('rotating', readyRevision(2), 'revision 2');
    await certificateAt('keeping', readyRevision(2), 'revision 2');
    const after = {
      rotating: await kube.get<SecretObject>(core.secrets, ns, 'rotating-tls'),
      keeping: await kube.get<SecretObject>(core.secrets, ns, 'keeping-tls'),
    };
    expect(pem(after.rotating, 'tls.crt')).not.toBe(pem(before.rotating, 'tls.crt'));
    expect(pem(after.rotating, 'tls.key')).not.toBe(pem(before.rotating, 'tls.key'));
    expect(pem(after.keeping, 'tls.crt')).not.toBe(pem(before.keeping, 'tls.crt'));
    expect(pem(after.keeping, 'tls.key')).toBe(pem(before.keeping, 'tls.key'));

    // Usages are part of what is signed: a change signs again, without a renew request.
    await kube.mergePatch(certificates, ns, 'keeping', { spec: { usages: ['digital signature', 'client auth'] } });
    await certificateAt('keeping', readyRevision(3), 'revision 3 after the usages changed');
    const [resigned] = chainOf(pem(await kube.get<SecretObject>(core.secrets, ns, 'keeping-tls'), 'tls.crt'));
    expect(resigned!.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
  });

  it('never signs a certificate into the Secret of the CA that signs it (the CA key would be lost)', async () => {
    const before = await kube.get<SecretObject>(core.secrets, ns, 'root-ca');
    await createCertificate('into-own-ca', { secretName: 'root-ca', issuerRef: { name: 'root-ca' }, dnsNames: ['oops.example.com'] });
    const refused = await certificateAt('into-own-ca', (c) => ready(c)?.reason === 'SecretNotOurs', 'refused SecretNotOurs');
    expect(ready(refused)!.message).toContain('holds the CA key pair Issuer');
    const after = await kube.get<SecretObject>(core.secrets, ns, 'root-ca');
    expect(after!.metadata.resourceVersion).toBe(before!.metadata.resourceVersion);
    await kube.delete(certificates, ns, 'into-own-ca');
  });

  it('signs with a ClusterIssuer whose CA Secret is in the cluster resource namespace', async () => {
    await createIssuer(`ca-${ns}`, { ca: { secretName: 'root-ca' } }, 'ClusterIssuer');
    await issuerCondition(`ca-${ns}`, 'KeyPairVerified', 'ClusterIssuer');
    await createCertificate('by-cluster-issuer', { secretName: 'cluster-tls', issuerRef: { name: `ca-${ns}`, kind: 'ClusterIssuer' }, dnsNames: ['cluster.example.com'] });
    await certificateAt('by-cluster-issuer', readyRevision(1), 'revision 1');
    const secret = await kube.get<SecretObject>(core.secrets, ns, 'cluster-tls');
    const root = chainOf(pem(await kube.get<SecretObject>(core.secrets, ns, 'root-ca'), 'tls.crt'))[0]!;
    expect(chainOf(pem(secret, 'tls.crt'))[0]!.verify(root.publicKey)).toBe(true);
  });

  it('refuses what only a selfSigned or ca issuer can sign when the issuer is an ACME issuer, with the reason and nothing ordered', async () => {
    await createIssuer('acme', { acme: { server: 'https://127.0.0.1:9/directory', privateKeySecretRef: { name: 'acme-account' } } });
    await createCertificate('ca-from-acme', { secretName: 'ca-from-acme', issuerRef: { name: 'acme' }, isCA: true, commonName: 'not.example.com', uris: ['spiffe://x/y'] });
    const refused = await certificateAt('ca-from-acme', (c) => ready(c)?.reason === 'NotSupportedByAcme', 'refused NotSupportedByAcme');
    expect(ready(refused)!.status).toBe('False');
    expect(ready(refused)!.message).toContain('isCA cannot be true: ACME CAs issue leaf certificates only');
    expect(ready(refused)!.message).toContain('uris cannot be requested');
    expect(await kube.get(core.secrets, ns, 'ca-from-acme')).toBeUndefined();
  });
});

describe('a CA Secret that cannot sign', () => {
  const rows: { name: string; reason: string; message: string; secret: () => Promise<{ cert: string; key: string } | undefined> }[] = [
    { name: 'missing', reason: 'CASecretNotFound', message: 'not found', secret: async () => undefined },
    {
      name: 'not-a-ca', reason: 'NotACA', message: 'tls.crt',
      secret: async () => {
        const key = generatePrivateKeyPem('ECDSA');
        const leaf = await signCertificate({ commonName: 'a leaf', dnsNames: ['leaf.example.com'], ipAddresses: [], uris: [], emailAddresses: [], isCA: false }, key, { kind: 'self' }, new Date());
        return { cert: leaf.chainPem, key };
      },
    },
    {
      name: 'expired', reason: 'CAExpired', message: 'expired',
      secret: async () => {
        const key = generatePrivateKeyPem('ECDSA');
        const old = await signCertificate({ commonName: 'old CA', dnsNames: [], ipAddresses: [], uris: [], emailAddresses: [], isCA: true, durationMs: 3_600_000 }, key, { kind: 'self' }, new Date(Date.now() - 2 * 3_600_000));
        return { cert: old.chainPem, key };
      },
    },
    {
      name: 'mismatch', reason: 'CAKeyMismatch', message: 'tls.key',
      secret: async () => {
        const key = generatePrivateKeyPem('ECDSA');
        const ca = await signCertificate({ commonName: 'some CA', dnsNames: [], ipAddresses: [], uris: [], emailAddresses: [], isCA: true }, key, { kind: 'self' }, new Date());
        return { cert: ca.chainPem, key: generatePrivateKeyPem('ECDSA') };
      },
    },
  ];

  it.each(rows)('$name: the Issuer is not Ready ($reason), its Certificates wait, and nothing is signed', async ({ name, reason, message, secret }) => {
    const content = await secret();
    if (content) await writeTlsSecret(`${name}-ca`, content.cert, content.key);
    await createIssuer(`${name}-ca`, { ca: { secretName: `${name}-ca` } });
    const condition = await issuerCondition(`${name}-ca`, reason);
    expect(condition.status).toBe('False');
    expect(condition.message).toContain(message);
    expect(condition.message).not.toMatch(/PRIVATE KEY|BEGIN/);
    await createCertificate(`${name}-leaf`, { secretName: `${name}-leaf-tls`, issuerRef: { name: `${name}-ca` }, dnsNames: [`${name}.example.com`] });
    const waiting = await certificateAt(`${name}-leaf`, (c) => ready(c)?.reason === 'IssuerNotReady', 'IssuerNotReady');
    expect(ready(waiting)!.message).toContain(reason === 'CASecretNotFound' ? 'not found' : message);
    expect(await kube.get(core.secrets, ns, `${name}-leaf-tls`)).toBeUndefined();
  });

  it('signs as soon as the missing CA Secret appears', async () => {
    const root = await kube.get<SecretObject>(core.secrets, ns, 'root-ca');
    await writeTlsSecret('missing-ca', pem(root, 'tls.crt'), pem(root, 'tls.key'));
    await issuerCondition('missing-ca', 'KeyPairVerified');
    await certificateAt('missing-leaf', readyRevision(1), 'revision 1 once the CA Secret exists');
  });
});
