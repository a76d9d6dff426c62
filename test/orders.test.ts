// No endless or wasted orders (issue #10, part B): conflicts and hostile
// input are refused before anything is ordered, and an issued certificate is
// never thrown away. The real operator process against the real API server
// and the GTS-like CA; the CA's order list is the witness.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../src/api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import {
  dropHeldCertificateDownloads, getHeldCertificateDownloads, getOrders, holdNextCertificateDownload, mintEabKey,
} from './env/ca-client.ts';
import { createNamespace, env, kubeClient, kubectl, kubectlFails, waitFor } from './helpers.ts';
import { allOperatorOutput, startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };
const certificates = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'certificates', namespaced: true };
const crds = { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', namespaced: false };

interface Condition { type: string; status: string; reason: string; message: string; observedGeneration?: number }
interface CertificateObject extends KubeObject {
  status?: { conditions?: Condition[]; revision?: number; order?: { url: string; certificateUrl?: string }; failedIssuanceAttempts?: number };
}
interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

let kube: KubeClient;
let operator: OperatorProcess;
let systemNamespace: string;
let ns: string;
let accountUrl: string;

let nameCounter = 0;
const testName = (label: string) => `${label}-${process.pid}-${++nameCounter}.certkeeper.test`;

async function createCertificate(name: string, spec: Record<string, unknown>): Promise<CertificateObject> {
  return kube.create(certificates, { apiVersion: API_VERSION, kind: 'Certificate', metadata: { name, namespace: ns }, spec } as KubeObject);
}

const condition = (c: CertificateObject | undefined, type: string) => c?.status?.conditions?.find((x) => x.type === type);

async function waitForCertificate(name: string, predicate: (c: CertificateObject) => boolean, what: string, timeoutMs = 60_000): Promise<CertificateObject> {
  let last = '';
  try {
    return await waitFor(`${name}: ${what}`, async () => {
      const cert = await kube.get<CertificateObject>(certificates, ns, name);
      last = JSON.stringify(cert?.status?.conditions ?? []);
      return cert && predicate(cert) ? cert : undefined;
    }, { timeoutMs });
  } catch (error) {
    throw new Error(`${(error as Error).message}; last conditions: ${last}`);
  }
}

const readyAtRevision = (revision: number) => (c: CertificateObject) =>
  condition(c, 'Ready')?.status === 'True' && condition(c, 'Ready')?.observedGeneration === c.metadata.generation && c.status?.revision === revision;
const refusedWith = (reason: string) => (c: CertificateObject) =>
  condition(c, 'Ready')?.status === 'False' && condition(c, 'Ready')?.reason === reason && condition(c, 'Ready')?.observedGeneration === c.metadata.generation;

/** Orders this file's account opened for any of these names. */
async function ordersFor(...names: string[]) {
  return (await getOrders(env().acme.managementUrl)).filter((o) => o.accountUrl === accountUrl && o.identifiers.some((i) => names.includes(i.value)));
}

async function secret(name: string): Promise<SecretObject | undefined> {
  return kube.get<SecretObject>(core.secrets, ns, name);
}

const decoded = (s: SecretObject | undefined, key: string) => Buffer.from(s?.data?.[key] ?? '', 'base64').toString();

beforeAll(async () => {
  kube = await kubeClient();
  systemNamespace = await createNamespace(kube, 'certkeeper-system');
  ns = await createNamespace(kube, 'orders');
  const eab = await mintEabKey(env().acme.managementUrl);
  await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'eab', namespace: ns }, stringData: { secret: eab.hmacKey } } as KubeObject);
  await kube.create(issuers, {
    apiVersion: API_VERSION,
    kind: 'Issuer',
    metadata: { name: 'gts', namespace: ns },
    spec: {
      acme: {
        server: env().acme.directoryUrl,
        email: 'ops@example.com',
        privateKeySecretRef: { name: 'account-key' },
        externalAccountBinding: { keyID: eab.keyId, keySecretRef: { name: 'eab' } },
        caBundle: readFileSync(env().acme.caRootFile).toString('base64'),
        solvers: [{ http01: {} }],
      },
    },
  } as KubeObject);
  operator = await startOperatorProcess({ clusterResourceNamespace: systemNamespace });
  const issuer = await waitFor('the Issuer to be registered', async () => {
    const object = await kube.get<KubeObject & { status?: { acme?: { uri?: string } } }>(issuers, ns, 'gts');
    return object?.status?.acme?.uri ? object : undefined;
  });
  accountUrl = issuer.status!.acme!.uri!;
});

afterAll(async () => {
  await operator?.stop();
  kube?.close();
});

describe('one Secret, one Certificate', () => {
  it('gives a Secret two Certificates name to the one that came first; the other orders nothing until the first is deleted, then takes it over', async () => {
    const [firstName, secondName] = [testName('first'), testName('second')];
    const first = await createCertificate('first', { secretName: 'shared-tls', issuerRef: { name: 'gts' }, dnsNames: [firstName] });
    const second = await createCertificate('second', { secretName: 'shared-tls', issuerRef: { name: 'gts' }, dnsNames: [secondName] });

    await waitForCertificate('first', readyAtRevision(1), 'Ready at revision 1');
    const waiting = await waitForCertificate('second', refusedWith('SecretInUse'), 'SecretInUse');
    expect(condition(waiting, 'Ready')!.message).toContain('Certificate first');
    const owned = await secret('shared-tls');
    expect(owned!.metadata.annotations).toMatchObject({ 'certkeeper.io/certificate-name': 'first', 'certkeeper.io/certificate-uid': first.metadata.uid });
    expect(new X509Certificate(decoded(owned, 'tls.crt')).subjectAltName).toBe(`DNS:${firstName}`);
    // The witness: one order for the first, none for the second (today they re-issue each other's certificate forever).
    expect(await ordersFor(firstName)).toHaveLength(1);
    expect(await ordersFor(secondName)).toHaveLength(0);

    await kube.delete(certificates, ns, 'first');
    await waitForCertificate('second', readyAtRevision(1), 'Ready once the first is deleted');
    const taken = await secret('shared-tls');
    expect(taken!.metadata.annotations).toMatchObject({ 'certkeeper.io/certificate-name': 'second', 'certkeeper.io/certificate-uid': second.metadata.uid });
    expect(new X509Certificate(decoded(taken, 'tls.crt')).subjectAltName).toBe(`DNS:${secondName}`);
    expect(await ordersFor(firstName)).toHaveLength(1);
    expect(await ordersFor(secondName)).toHaveLength(1);
  });
});

describe('one Secret, one Certificate, when the owner moves', () => {
  it('lets the waiting Certificate take the Secret over once its owner names another Secret', async () => {
    const [ownerName, waiterName] = [testName('mover'), testName('waiter')];
    await createCertificate('mover', { secretName: 'moving-tls', issuerRef: { name: 'gts' }, dnsNames: [ownerName] });
    await waitForCertificate('mover', readyAtRevision(1), 'Ready at revision 1');
    const waiter = await createCertificate('waiter', { secretName: 'moving-tls', issuerRef: { name: 'gts' }, dnsNames: [waiterName] });
    const refused = await waitForCertificate('waiter', refusedWith('SecretInUse'), 'SecretInUse');
    expect(condition(refused, 'Ready')!.message).toContain('belongs to Certificate mover, which wrote it');

    await kube.mergePatch(certificates, ns, 'mover', { spec: { secretName: 'moved-tls' } });
    await waitForCertificate('mover', readyAtRevision(2), 'Ready in its new Secret');
    await waitForCertificate('waiter', readyAtRevision(1), 'Ready once the owner moved away');
    expect((await secret('moving-tls'))!.metadata.annotations).toMatchObject({ 'certkeeper.io/certificate-uid': waiter.metadata.uid });
    expect(new X509Certificate(decoded(await secret('moved-tls'), 'tls.crt')).subjectAltName).toBe(`DNS:${ownerName}`);
    expect(await ordersFor(ownerName)).toHaveLength(2);
    expect(await ordersFor(waiterName)).toHaveLength(1);
  });
});

describe('Secrets that are not ours to write', () => {
  it('refuses an Opaque Secret, the EAB Secret and the account key Secret before ordering, and leaves them as they were', async () => {
    await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'user-data', namespace: ns }, stringData: { config: 'keep me' } } as KubeObject);
    const before = await Promise.all(['user-data', 'eab', 'account-key'].map(secret));
    const names = { opaque: testName('opaque'), eab: testName('eab'), account: testName('account') };
    await createCertificate('opaque', { secretName: 'user-data', issuerRef: { name: 'gts' }, dnsNames: [names.opaque] });
    await createCertificate('on-eab', { secretName: 'eab', issuerRef: { name: 'gts' }, dnsNames: [names.eab] });
    // rotationPolicy Never would put the Secret's key into the CSR: never the account key.
    await createCertificate('on-account', { secretName: 'account-key', issuerRef: { name: 'gts' }, dnsNames: [names.account], privateKey: { rotationPolicy: 'Never' } });

    const opaque = await waitForCertificate('opaque', refusedWith('SecretNotOurs'), 'SecretNotOurs');
    expect(condition(opaque, 'Ready')!.message).toBe('Secret user-data exists with type Opaque; certkeeper writes only kubernetes.io/tls Secrets and never replaces another: choose another secretName');
    await waitForCertificate('on-eab', refusedWith('SecretNotOurs'), 'SecretNotOurs');
    const onAccount = await waitForCertificate('on-account', refusedWith('SecretIsAccountKey'), 'SecretIsAccountKey');
    expect(condition(onAccount, 'Ready')!.message).toContain(`Secret account-key holds the ACME account key of Issuer ${ns}/gts`);

    expect(await ordersFor(names.opaque, names.eab, names.account)).toHaveLength(0);
    const after = await Promise.all(['user-data', 'eab', 'account-key'].map(secret));
    expect(after.map((s) => s!.metadata.resourceVersion)).toEqual(before.map((s) => s!.metadata.resourceVersion));
    expect(await secret('user-data-next-key')).toBeUndefined();
    expect(await secret('account-key-next-key')).toBeUndefined();
  });

  it('adopts a kubernetes.io/tls Secret nobody manages, keeping what others put on it', async () => {
    await kube.create(core.secrets, {
      apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls',
      metadata: { name: 'legacy-tls', namespace: ns, labels: { team: 'legacy' } },
      stringData: { 'tls.crt': 'expired long ago', 'tls.key': 'not a key' },
    } as KubeObject);
    const name = testName('legacy');
    const adopted = await createCertificate('legacy', { secretName: 'legacy-tls', issuerRef: { name: 'gts' }, dnsNames: [name] });
    await waitForCertificate('legacy', readyAtRevision(1), 'Ready at revision 1');
    const written = await secret('legacy-tls');
    expect(written!.metadata.labels).toMatchObject({ team: 'legacy', 'app.kubernetes.io/managed-by': 'certkeeper' });
    expect(written!.metadata.annotations).toMatchObject({ 'certkeeper.io/certificate-uid': adopted.metadata.uid });
    expect(new X509Certificate(decoded(written, 'tls.crt')).checkPrivateKey(createPrivateKey(decoded(written, 'tls.key')))).toBe(true);
    expect(await ordersFor(name)).toHaveLength(1);
  });
});

describe('names', () => {
  const manifest = (name: string, spec: Record<string, unknown>) => JSON.stringify({
    apiVersion: API_VERSION, kind: 'Certificate', metadata: { name, namespace: ns }, spec: { secretName: `${name}-tls`, issuerRef: { name: 'gts' }, ...spec },
  });

  it('are checked by the API server at kubectl apply', async () => {
    const refused: [Record<string, unknown>, string][] = [
      [{ dnsNames: ['bad_name!.certkeeper.test'] }, 'must be a lower-case DNS name (RFC 1123)'],
      [{ dnsNames: ['two words.certkeeper.test'] }, 'must be a lower-case DNS name'],
      [{ dnsNames: ['a..b.certkeeper.test'] }, 'must be a lower-case DNS name'],
      [{ dnsNames: ['-leading.certkeeper.test'] }, 'must be a lower-case DNS name'],
      [{ dnsNames: [`${'a'.repeat(64)}.certkeeper.test`] }, 'must be a lower-case DNS name'],
      [{ dnsNames: [Array.from({ length: 6 }, () => 'a'.repeat(50)).join('.')] }, 'Too long: may not be more than 253'],
      [{ dnsNames: ['Upper.certkeeper.test'] }, 'must be a lower-case DNS name'],
      [{ dnsNames: ['bücher.certkeeper.test'] }, 'must be ASCII: write an internationalized name in its punycode form'],
      [{ dnsNames: ['*.*.certkeeper.test'] }, 'must be a lower-case DNS name'],
      [{ ipAddresses: ['192.0.2.300'] }, 'spec.ipAddresses[0]'],
      [{ ipAddresses: ['not-an-ip'] }, 'spec.ipAddresses[0]'],
    ];
    for (const [spec, message] of refused) {
      const stderr = await kubectlFails(['apply', '--dry-run=server', '-f', '-'], manifest('refused', spec));
      expect(stderr, JSON.stringify(spec)).toContain(message);
    }
    // Valid names still pass (dry run: nothing is created).
    await kubectl(['apply', '--dry-run=server', '-f', '-'], manifest('accepted', { dnsNames: ['*.x-1.certkeeper.test', 'xn--bcher-kva.certkeeper.test'], ipAddresses: ['192.0.2.1', '2001:db8::1'] }));
  });

  it('stored before the API server checked them are refused by the operator before any order, with the punycode form of a Unicode name', async () => {
    const bad = {
      underscore: 'bad_name!.certkeeper.test',
      hyphen: '-leading.certkeeper.test',
      unicode: 'bücher.certkeeper.test',
      long: `${'a'.repeat(64)}.certkeeper.test`,
    };
    // Objects stored by an older CRD: take the name rules out for a moment.
    const original = (await kube.get<KubeObject & { spec: unknown }>(crds, undefined, 'certificates.certkeeper.io'))!;
    const relaxed = structuredClone(original) as KubeObject & { spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: { properties: Record<string, { items: Record<string, unknown> }> } } } } }[] } };
    const specProps = relaxed.spec.versions[0]!.schema.openAPIV3Schema.properties.spec.properties;
    specProps.dnsNames!.items = { type: 'string' };
    const probe = manifest('probe', { dnsNames: [bad.underscore] });
    await kube.replace(crds, relaxed);
    try {
      await waitFor('the API server to accept old-style names', async () => kubectl(['apply', '--dry-run=server', '-f', '-'], probe).then(() => true, () => false));
      for (const [label, dnsName] of Object.entries(bad)) {
        await createCertificate(`invalid-${label}`, { secretName: `invalid-${label}-tls`, issuerRef: { name: 'gts' }, dnsNames: [dnsName] });
      }
    } finally {
      const current = (await kube.get<KubeObject & { spec: unknown }>(crds, undefined, 'certificates.certkeeper.io'))!;
      await kube.replace(crds, { ...current, spec: original.spec });
      await waitFor('the API server to check names again', async () => kubectl(['apply', '--dry-run=server', '-f', '-'], probe).then(() => false, () => true));
    }
    const unicode = await waitForCertificate('invalid-unicode', refusedWith('InvalidName'), 'InvalidName');
    expect(condition(unicode, 'Ready')!.message).toBe('dnsNames: "bücher.certkeeper.test" is not ASCII: write it in its punycode form "xn--bcher-kva.certkeeper.test"; nothing was ordered');
    for (const label of ['underscore', 'hyphen', 'long']) {
      const refused = await waitForCertificate(`invalid-${label}`, refusedWith('InvalidName'), 'InvalidName');
      expect(condition(refused, 'Ready')!.message).toContain(bad[label as keyof typeof bad]);
    }
    expect(await ordersFor(...Object.values(bad), 'xn--bcher-kva.certkeeper.test')).toHaveLength(0);
  });

  it('refuses a wildcard no dns01 solver matches before any order', async () => {
    const base = `wild-${process.pid}.certkeeper.test`;
    await createCertificate('wild-http', { secretName: 'wild-http-tls', issuerRef: { name: 'gts' }, dnsNames: [`*.${base}`, base] });
    const refused = await waitForCertificate('wild-http', refusedWith('NoSolver'), 'NoSolver');
    expect(condition(refused, 'Ready')!.message).toBe(`no solver of Issuer ${ns}/gts matches *.${base} (wildcards need a dns01 solver); nothing was ordered`);
    expect(await ordersFor(`*.${base}`, base)).toHaveLength(0);
  });
});

describe('an issued certificate is never thrown away', () => {
  it('keeps it when the Secret write is denied, and writes it once the denial is lifted: one order, no second', async () => {
    // A real obstacle on the real API server: an admission policy that denies writing this one Secret.
    const policy = `deny-guarded-tls-${ns}`;
    const name = testName('guarded');
    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1', kind: 'List', items: [
        {
          apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name: policy },
          spec: {
            failurePolicy: 'Fail',
            matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['secrets'] }] },
            validations: [{ expression: `!(object.metadata.namespace == '${ns}' && object.metadata.name == 'guarded-tls')`, message: 'guarded-tls is frozen by the test' }],
          },
        },
        { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: policy }, spec: { policyName: policy, validationActions: ['Deny'] } },
      ],
    }));
    try {
      await waitFor('the policy to take effect', async () => kubectl(['create', 'secret', 'generic', 'guarded-tls', '-n', ns, '--dry-run=server']).then(() => false, () => true), { timeoutMs: 30_000 });
      await createCertificate('guarded', { secretName: 'guarded-tls', issuerRef: { name: 'gts' }, dnsNames: [name] });
      const failed = await waitForCertificate('guarded', (c) => condition(c, 'Issuing')?.reason === 'SecretWriteFailed', 'SecretWriteFailed');
      const message = condition(failed, 'Ready')!.message;
      expect(condition(failed, 'Ready')).toMatchObject({ status: 'False', reason: 'SecretWriteFailed' });
      expect(message).toContain('writing Secret guarded-tls failed');
      expect(message).toContain('guarded-tls is frozen by the test');
      expect(message).toContain('without a new order');
      expect(message).not.toContain('restart');
      expect(failed.status!.order!.certificateUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/certZ\//);
      // The key is durable in the next-key Secret, and nowhere in status.
      const nextKey = await secret('guarded-tls-next-key');
      const storedKey = decoded(nextKey, 'tls.key');
      expect(createPrivateKey(storedKey).asymmetricKeyType).toBe('ec');
      expect(nextKey!.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'certkeeper', 'certkeeper.io/next-key': 'true' });
      const material = storedKey.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
      expect(JSON.stringify(failed.status)).not.toContain(material.slice(0, 40));
      expect(allOperatorOutput.join('\n')).not.toContain(material.slice(0, 40));
      expect(await ordersFor(name)).toHaveLength(1);
    } finally {
      await kubectl(['delete', '--ignore-not-found', 'validatingadmissionpolicybinding', policy]);
      await kubectl(['delete', '--ignore-not-found', 'validatingadmissionpolicy', policy]);
    }
    const storedKey = decoded(await secret('guarded-tls-next-key'), 'tls.key');
    // The retry after the backoff (30 s) downloads the same certificate and writes it.
    await waitForCertificate('guarded', readyAtRevision(1), 'Ready once the Secret can be written', 90_000);
    const written = await secret('guarded-tls');
    expect(decoded(written, 'tls.key')).toBe(storedKey);
    expect(new X509Certificate(decoded(written, 'tls.crt')).checkPrivateKey(createPrivateKey(storedKey))).toBe(true);
    expect(await ordersFor(name)).toHaveLength(1);
    // Cleaned up after the write: the claim stays, the key does not.
    const cleared = await secret('guarded-tls-next-key');
    expect(cleared!.data ?? {}).toEqual({});
  }, 150_000);

  it('downloads the issued certificate after the operator is killed between finalizing and writing the Secret: one order', async () => {
    const mgmt = env().acme.managementUrl;
    const name = testName('killed');
    await holdNextCertificateDownload(mgmt);
    await createCertificate('killed', { secretName: 'killed-tls', issuerRef: { name: 'gts' }, dnsNames: [name] });
    // Held at the CA: the order is valid (finalized), the certificate not yet downloaded.
    await waitFor('the certificate download to be held', async () => (await getHeldCertificateDownloads(mgmt)) === 1);
    const storedKey = decoded(await secret('killed-tls-next-key'), 'tls.key');
    expect(storedKey).toContain('PRIVATE KEY');
    await operator.kill();
    await dropHeldCertificateDownloads(mgmt);
    operator = await startOperatorProcess({ clusterResourceNamespace: systemNamespace });
    await waitForCertificate('killed', readyAtRevision(1), 'Ready after the restart');
    const written = await secret('killed-tls');
    expect(decoded(written, 'tls.key')).toBe(storedKey);
    expect(new X509Certificate(decoded(written, 'tls.crt')).subjectAltName).toBe(`DNS:${name}`);
    expect(await ordersFor(name)).toHaveLength(1);
  });
});

describe('the stored key after the write', () => {
  it('is removed from the next-key Secret, and a removal that failed is done by a later sync', async () => {
    // Deny only the removal (an update that leaves the next-key Secret without data).
    const policy = `deny-next-key-removal-${ns}`;
    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1', kind: 'List', items: [
        {
          apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name: policy },
          spec: {
            failurePolicy: 'Fail',
            matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['secrets'] }] },
            validations: [{
              expression: `!(object.metadata.namespace == '${ns}' && object.metadata.name == 'leftover-tls-next-key' && (!has(object.data) || size(object.data) == 0))`,
              message: 'the next key stays, says the test',
            }],
          },
        },
        { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: policy }, spec: { policyName: policy, validationActions: ['Deny'] } },
      ],
    }));
    try {
      await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'leftover-tls-next-key', namespace: ns, labels: { probe: 'yes' } }, stringData: { x: 'y' } } as KubeObject);
      await waitFor('the policy to take effect', async () => kubectl(['patch', 'secret', 'leftover-tls-next-key', '-n', ns, '--type=merge', '-p', '{"data":null}', '--dry-run=server']).then(() => false, () => true), { timeoutMs: 30_000 });
      await kube.delete(core.secrets, ns, 'leftover-tls-next-key');
      await createCertificate('leftover', { secretName: 'leftover-tls', issuerRef: { name: 'gts' }, dnsNames: [testName('leftover')] });
      await waitForCertificate('leftover', readyAtRevision(1), 'Ready at revision 1');
      // Written, but the key could not be removed: still the very key the TLS Secret holds.
      expect(decoded(await secret('leftover-tls-next-key'), 'tls.key')).toBe(decoded(await secret('leftover-tls'), 'tls.key'));
      expect(operator.lines.some((l) => l.includes('could not remove the next key after writing the Secret'))).toBe(true);
    } finally {
      await kubectl(['delete', '--ignore-not-found', 'validatingadmissionpolicybinding', policy]);
      await kubectl(['delete', '--ignore-not-found', 'validatingadmissionpolicy', policy]);
    }
    await waitFor('the policy to be gone', async () => kubectl(['patch', 'secret', 'leftover-tls-next-key', '-n', ns, '--type=merge', '-p', '{"data":null}', '--dry-run=server']).then(() => true, () => false), { timeoutMs: 30_000 });
    // Any later sync of the Ready Certificate removes it (here: woken by an annotation; at the latest the periodic one).
    await kubectl(['annotate', 'certificate', 'leftover', '-n', ns, 'test/wake=1']);
    await waitFor('the stored key to be removed', async () => Object.keys((await secret('leftover-tls-next-key'))?.data ?? {}).length === 0);
    expect((await secret('leftover-tls-next-key'))!.metadata.annotations).not.toHaveProperty('certkeeper.io/revision');
  });
});

describe('no waste', () => {
  it('with the conflict scenarios applied and left alone for a minute, the CA sees no new order and certkeeper makes at most a couple of ACME requests', async () => {
    // A fresh pair on one Secret, besides the refused Certificates the tests above left applied
    // (Opaque, EAB and account key Secrets, invalid names, an unmatched wildcard).
    await createCertificate('pair-a', { secretName: 'pair-tls', issuerRef: { name: 'gts' }, dnsNames: [testName('pair-a')] });
    await createCertificate('pair-b', { secretName: 'pair-tls', issuerRef: { name: 'gts' }, dnsNames: [testName('pair-b')] });
    await waitForCertificate('pair-a', readyAtRevision(1), 'Ready');
    await waitForCertificate('pair-b', refusedWith('SecretInUse'), 'SecretInUse');
    for (const [certificate, reason] of [['opaque', 'SecretNotOurs'], ['on-eab', 'SecretNotOurs'], ['on-account', 'SecretIsAccountKey'], ['invalid-unicode', 'InvalidName'], ['wild-http', 'NoSolver']] as const) {
      await waitForCertificate(certificate, refusedWith(reason), reason);
    }
    await waitFor('the work queue to drain', async () => (await scrape()).includes('certkeeper_workqueue_depth{controller="certificate"} 0'));

    const ordersBefore = (await getOrders(env().acme.managementUrl)).filter((o) => o.accountUrl === accountUrl).length;
    const requestsBefore = acmeRequests(await scrape());
    const linesBefore = operator.lines.length;
    // The check is an absence over time, so it waits the minute out.
    await new Promise((resolve) => setTimeout(resolve, 60_000));
    const ordersAfter = (await getOrders(env().acme.managementUrl)).filter((o) => o.accountUrl === accountUrl).length;
    const requestsAfter = acmeRequests(await scrape());

    expect(ordersAfter - ordersBefore).toBe(0);
    // The operator watches the whole cluster, and other test files leave Certificates behind
    // (one that keeps failing, one whose CA is gone): their requests, which the operator logs
    // with their namespace at debug level, are not this scenario's.
    const logged = operator.lines.slice(linesBefore).flatMap((line) => {
      try {
        const record = JSON.parse(line) as { msg?: string; namespace?: string; endpoint?: string };
        return record.msg === 'acme request' ? [record] : [];
      } catch {
        return [];
      }
    });
    const elsewhere = logged.filter((r) => r.namespace !== ns).length;
    expect(logged.filter((r) => r.namespace === ns).length).toBeLessThanOrEqual(2);
    expect(requestsAfter - requestsBefore - elsewhere).toBeLessThanOrEqual(2);
  }, 150_000);
});

describe('secrets', () => {
  it('never writes a certificate key, a next key, an account key or an HMAC to the operator\'s output', async () => {
    const output = allOperatorOutput.join('\n');
    const secrets = await kube.list<SecretObject>(core.secrets, { namespace: ns });
    let checked = 0;
    for (const item of secrets.items) {
      for (const [key, value] of Object.entries(item.data ?? {})) {
        if (!['tls.key', 'secret'].includes(key)) continue;
        const material = Buffer.from(value, 'base64').toString().split('\n').filter((l) => l && !l.startsWith('-----')).join('');
        if (material.length < 40) continue;
        expect(output).not.toContain(material.slice(0, 40));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(5);
  });
});

async function scrape(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${operator.metricsPort}/metrics`)).text();
}

/** certkeeper_acme_requests_total, summed over endpoints and statuses. */
function acmeRequests(metrics: string): number {
  let total = 0;
  for (const line of metrics.split('\n')) {
    if (line.startsWith('certkeeper_acme_requests_total{')) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
