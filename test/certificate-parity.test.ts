// A cert-manager user's Certificate, with only the API group changed, on the
// real API server, the real operator and Pebble: keystores that Java's keytool
// and OpenSSL open, the extra output formats, the key encoding, the subject,
// renewBeforePercentage, and honest notes for what ACME does not do. What
// cannot work with ACME is refused at apply time, a foreign issuerRef.group and
// a missing keystore password before any order (the CA's order list says so).
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../src/api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { getOrders, mintEabKey } from './env/ca-client.ts';
import { createNamespace, env, kubeClient, kubectl, kubectlFails, waitFor } from './helpers.ts';
import { allOperatorOutput, startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const run = promisify(execFile);
const certificates = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'certificates', namespaced: true };
const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };

interface CertificateObject extends KubeObject {
  status?: { conditions?: { type: string; status: string; reason: string; message: string }[]; notBefore?: string; notAfter?: string; renewalTime?: string; revision?: number };
}
interface SecretObject extends KubeObject { type?: string; data?: Record<string, string> }

let kube: KubeClient;
let operator: OperatorProcess;
let ns: string;
let workDir: string;
let accountUrl: string;
let nameCounter = 0;
const host = (label: string) => `${label}-${process.pid}-${++nameCounter}.certkeeper.test`;
const PASSWORD = 'keystore-pass-1';

async function ordersForNamespace(): Promise<number> {
  return (await getOrders(env().acme.managementUrl)).filter((o) => o.accountUrl === accountUrl).length;
}

async function certificate(name: string): Promise<CertificateObject | undefined> {
  return kube.get<CertificateObject>(certificates, ns, name);
}

async function waitForReason(name: string, reason: string, status?: string): Promise<CertificateObject> {
  let last = '';
  try {
    return await waitFor(`${name} to be ${reason}`, async () => {
      const cert = await certificate(name);
      const ready = cert?.status?.conditions?.find((c) => c.type === 'Ready');
      if (ready) last = `${ready.reason}: ${ready.message}`;
      return ready?.reason === reason && (!status || ready.status === status) ? cert : undefined;
    }, { timeoutMs: 90_000 });
  } catch (error) {
    throw new Error(`${(error as Error).message}; last: ${last}`);
  }
}

beforeAll(async () => {
  kube = await kubeClient();
  workDir = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-parity-'));
  const system = await createNamespace(kube, 'certkeeper-system');
  ns = await createNamespace(kube, 'parity-certs');
  const eab = await mintEabKey(env().acme.managementUrl);
  await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'eab', namespace: ns }, stringData: { secret: eab.hmacKey } } as KubeObject);
  await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'keystore-password', namespace: ns }, stringData: { password: PASSWORD } } as KubeObject);
  await kube.create(issuers, {
    apiVersion: API_VERSION, kind: 'Issuer', metadata: { name: 'gts', namespace: ns },
    spec: { acme: {
      server: env().acme.directoryUrl, email: 'ops@example.com', privateKeySecretRef: { name: 'account-key' },
      externalAccountBinding: { keyID: eab.keyId, keySecretRef: { name: 'eab' } },
      caBundle: readFileSync(env().acme.caRootFile).toString('base64'), solvers: [{ http01: {} }],
    } },
  } as KubeObject);
  operator = await startOperatorProcess({ clusterResourceNamespace: system });
  accountUrl = await waitFor('the account', async () => (await kube.get<KubeObject & { status?: { acme?: { uri?: string } } }>(issuers, ns, 'gts'))?.status?.acme?.uri);
});

afterAll(async () => {
  await operator?.stop();
  kube?.close();
  rmSync(workDir, { recursive: true, force: true });
});

/** A Certificate as cert-manager's documentation writes one, the group changed. */
function certManagerStyle(name: string, dnsName: string, extra = ''): string {
  return `apiVersion: ${API_VERSION}
kind: Certificate
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  secretName: ${name}-tls
  duration: 2160h
  renewBeforePercentage: 70
  revisionHistoryLimit: 3
  signatureAlgorithm: ECDSAWithSHA256
  isCA: false
  subject:
    organizations: [Example Corp, Example Subsidiary]
    countries: [DE]
  privateKey:
    algorithm: ECDSA
    size: 256
    encoding: PKCS1
    rotationPolicy: Always
  usages: [digital signature, key encipherment, server auth, client auth]
  dnsNames: [${dnsName}]
  issuerRef:
    name: gts
    kind: Issuer
    group: certkeeper.io
  keystores:
    pkcs12:
      create: true
      profile: Modern2023
      passwordSecretRef: { name: keystore-password, key: password }
    jks:
      create: true
      alias: web
      passwordSecretRef: { name: keystore-password, key: password }
  additionalOutputFormats:
    - type: CombinedPEM
    - type: DER
${extra}`;
}

describe('a cert-manager Certificate with only the group changed', () => {
  it('is issued with keystores Java and OpenSSL open, the extra formats, PKCS#1 encoding and honest notes', async () => {
    const dnsName = host('keystores');
    await kubectl(['apply', '-f', '-'], certManagerStyle('web', dnsName));
    const cert = await waitForReason('web', 'Ready', 'True');
    const ready = cert.status!.conditions!.find((c) => c.type === 'Ready')!;
    expect(ready.message).toContain('revisionHistoryLimit has no effect');
    expect(ready.message).toContain('signatureAlgorithm ECDSAWithSHA256 has no effect');
    expect(ready.message).toContain('only the first value of subject.organizations goes into the CSR');

    const secret = (await kube.get<SecretObject>(core.secrets, ns, 'web-tls'))!;
    expect(Object.keys(secret.data!).sort()).toEqual(['key.der', 'keystore.jks', 'keystore.p12', 'tls-combined.pem', 'tls.crt', 'tls.key']);
    const file = (key: string) => {
      const target = path.join(workDir, `web-${key}`);
      writeFileSync(target, Buffer.from(secret.data![key]!, 'base64'));
      return target;
    };
    const tlsKey = Buffer.from(secret.data!['tls.key']!, 'base64').toString();
    expect(tlsKey).toContain('BEGIN EC PRIVATE KEY');
    const leaf = new X509Certificate(Buffer.from(secret.data!['tls.crt']!, 'base64'));
    expect(leaf.checkPrivateKey(createPrivateKey(tlsKey))).toBe(true);
    // usages asks for client auth: the Ready message says so exactly when the CA left it out.
    const grantsClientAuth = (leaf.keyUsage ?? []).includes('1.3.6.1.5.5.7.3.2');
    expect(ready.message.includes('the CA did not grant usage client auth')).toBe(!grantsClientAuth);
    expect(createPrivateKey({ key: Buffer.from(secret.data!['key.der']!, 'base64'), format: 'der', type: 'pkcs8' }).export({ type: 'sec1', format: 'pem' }).toString()).toBe(tlsKey);
    const combined = Buffer.from(secret.data!['tls-combined.pem']!, 'base64').toString();
    expect(combined.startsWith('-----BEGIN EC PRIVATE KEY-----')).toBe(true);
    expect(combined).toContain(Buffer.from(secret.data!['tls.crt']!, 'base64').toString().trim());

    // Java's keytool opens both keystores as type JKS (keystore.jks) and PKCS12, with the key under its alias.
    const jks = await run('keytool', ['-list', '-v', '-keystore', file('keystore.jks'), '-storepass', PASSWORD, '-storetype', 'JKS']);
    expect(jks.stdout).toMatch(/Alias name: web/);
    expect(jks.stdout).toMatch(/Entry type: PrivateKeyEntry/);
    expect(jks.stdout).toContain(leaf.fingerprint256);
    const p12 = await run('keytool', ['-list', '-keystore', file('keystore.p12'), '-storepass', PASSWORD, '-storetype', 'PKCS12']);
    expect(p12.stdout).toContain('PrivateKeyEntry');
    // OpenSSL: the MAC verifies with the password, and fails without it.
    const openssl = await run('openssl', ['pkcs12', '-in', file('keystore.p12'), '-passin', `pass:${PASSWORD}`, '-nokeys']);
    expect(openssl.stdout).toContain('BEGIN CERTIFICATE');
    await expect(run('openssl', ['pkcs12', '-in', file('keystore.p12'), '-passin', 'pass:wrong', '-nokeys'])).rejects.toThrow();

    // renewBeforePercentage 70: renewal when 70 % of the lifetime is left, earlier than the default (a third left)
    // and than the CA's renewal window (ARI), so it decides (give or take the seeded spread of at most an hour).
    const notBefore = Date.parse(cert.status!.notBefore!);
    const notAfter = Date.parse(cert.status!.notAfter!);
    const expected = notAfter - (notAfter - notBefore) * 0.7;
    expect(Math.abs(Date.parse(cert.status!.renewalTime!) - expected)).toBeLessThanOrEqual(3_600_000 + 1000);

    // No password in any output.
    expect(allOperatorOutput.join('\n')).not.toContain(PASSWORD);
  });

  it('rewrites the Secret without a new order when an output is removed or another encoding is asked', async () => {
    const ordersBefore = await ordersForNamespace();
    const crtBefore = (await kube.get<SecretObject>(core.secrets, ns, 'web-tls'))!.data!['tls.crt'];
    await kube.mergePatch(certificates, ns, 'web', { spec: { keystores: { jks: null }, additionalOutputFormats: null, privateKey: { encoding: 'PKCS8' } } });
    const secret = await waitFor('the rewritten Secret', async () => {
      const s = await kube.get<SecretObject>(core.secrets, ns, 'web-tls');
      return s && !s.data!['keystore.jks'] && Buffer.from(s.data!['tls.key']!, 'base64').toString().includes('BEGIN PRIVATE KEY') ? s : undefined;
    });
    expect(Object.keys(secret.data!).sort()).toEqual(['keystore.p12', 'tls.crt', 'tls.key']);
    expect(secret.data!['tls.crt']).toBe(crtBefore);
    await waitForReason('web', 'Ready', 'True');
    expect(await ordersForNamespace()).toBe(ordersBefore);
    const { stdout } = await kubectl(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=web,reason=OutputsUpdated', '-o', 'name']);
    expect(stdout.trim()).not.toBe('');
  });

  it('rewrites the keystore with a new password when its Secret changes, without a new order', async () => {
    const ordersBefore = await ordersForNamespace();
    const before = (await kube.get<SecretObject>(core.secrets, ns, 'web-tls'))!;
    await kube.mergePatch(core.secrets, ns, 'keystore-password', { stringData: { password: 'keystore-pass-2' } });
    const secret = await waitFor('the keystore rewritten with the new password', async () => {
      const s = await kube.get<SecretObject>(core.secrets, ns, 'web-tls');
      return s && s.data!['keystore.p12'] !== before.data!['keystore.p12'] ? s : undefined;
    });
    const target = path.join(workDir, 'web-rotated.p12');
    writeFileSync(target, Buffer.from(secret.data!['keystore.p12']!, 'base64'));
    expect((await run('openssl', ['pkcs12', '-in', target, '-passin', 'pass:keystore-pass-2', '-nokeys'])).stdout).toContain('BEGIN CERTIFICATE');
    await expect(run('openssl', ['pkcs12', '-in', target, '-passin', `pass:${PASSWORD}`, '-nokeys'])).rejects.toThrow();
    expect(secret.data!['tls.crt']).toBe(before.data!['tls.crt']);
    expect(await ordersForNamespace()).toBe(ordersBefore);
    expect(allOperatorOutput.join('\n')).not.toContain('keystore-pass-2');
  });

  it('orders nothing while a keystore password is missing, and issues once it appears', async () => {
    const ordersBefore = await ordersForNamespace();
    await kubectl(['apply', '-f', '-'], certManagerStyle('nopass', host('nopass')).replaceAll('keystore-password', 'later-password'));
    const waiting = await waitForReason('nopass', 'KeystorePasswordMissing');
    expect(waiting.status!.conditions!.find((c) => c.type === 'Ready')!.message).toContain(`Secret ${ns}/later-password not found`);
    expect(await ordersForNamespace()).toBe(ordersBefore);
    await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'later-password', namespace: ns }, stringData: { password: 'p' } } as KubeObject);
    await kube.mergePatch(certificates, ns, 'nopass', { metadata: { labels: { retry: 'now' } } });
    await waitForReason('nopass', 'Ready', 'True');
    expect(await ordersForNamespace()).toBe(ordersBefore + 1);
  });

  it('takes profile from the issuer and, with enableDurationFeature, asks the CA for the Certificate\'s duration', async () => {
    // A second issuer sharing the first one's account (same Secret): no second registration.
    const gts = (await kube.get<KubeObject & { spec: { acme: Record<string, unknown> } }>(issuers, ns, 'gts'))!;
    await kube.create(issuers, {
      apiVersion: API_VERSION, kind: 'Issuer', metadata: { name: 'gts-duration', namespace: ns },
      spec: { acme: { ...gts.spec.acme, profile: 'default', preferredChain: 'no such root', enableDurationFeature: true } },
    } as KubeObject);
    await kube.create(certificates, {
      apiVersion: API_VERSION, kind: 'Certificate', metadata: { name: 'short', namespace: ns },
      spec: { secretName: 'short-tls', issuerRef: { name: 'gts-duration' }, dnsNames: [host('short')], duration: '240h' },
    } as KubeObject);
    const cert = await waitForReason('short', 'Ready', 'True');
    const lifetime = Date.parse(cert.status!.notAfter!) - Date.parse(cert.status!.notBefore!);
    // Pebble's default profile would give 90 days; the order asked for 240 h from the moment it was opened.
    expect(Math.abs(lifetime - 240 * 3_600_000)).toBeLessThan(10 * 60_000);
  });

  it('refuses an issuerRef.group of another controller, with no order', async () => {
    const ordersBefore = await ordersForNamespace();
    await kubectl(['apply', '-f', '-'], certManagerStyle('foreign', host('foreign')).replace('group: certkeeper.io', 'group: cert-manager.io'));
    const refused = await waitForReason('foreign', 'IssuerGroupNotServed', 'False');
    expect(refused.status!.conditions!.find((c) => c.type === 'Ready')!.message).toContain('issuerRef.group is cert-manager.io');
    expect(await kube.get(core.secrets, ns, 'foreign-tls')).toBeUndefined();
    expect(await ordersForNamespace()).toBe(ordersBefore);
  });

  // isCA, uris and emailAddresses are valid for selfSigned and ca issuers: an ACME issuer refuses them at sync (below).
  it.each([
    ['isCA: true', 'isCA: true', 'isCA cannot be true: ACME CAs issue leaf certificates only'],
    ['uris', 'uris: [spiffe://cluster.local/ns/a/sa/b]', 'uris cannot be requested: ACME CAs issue certificates for DNS names and IP addresses only'],
    ['emailAddresses', 'emailAddresses: [a@example.com]', 'emailAddresses cannot be requested: ACME CAs issue certificates for DNS names and IP addresses only'],
  ])('refuses %s for an ACME issuer, saying why, with no order', async (name, field, message) => {
    const ordersBefore = await ordersForNamespace();
    const certificate = `acme-${name.replace(/[^a-z]/gi, '').toLowerCase()}`;
    const manifest = certManagerStyle(certificate, host(certificate)).replace('isCA: false', field.startsWith('isCA') ? field : 'isCA: false').replace('  dnsNames:', field.startsWith('isCA') ? '  dnsNames:' : `  ${field}\n  dnsNames:`);
    await kubectl(['apply', '-f', '-'], manifest);
    const refused = await waitForReason(certificate, 'NotSupportedByAcme', 'False');
    expect(refused.status!.conditions!.find((c) => c.type === 'Ready')!.message).toContain(message);
    expect(await kube.get(core.secrets, ns, `${certificate}-tls`)).toBeUndefined();
    expect(await ordersForNamespace()).toBe(ordersBefore);
  });

  it.each([
    ['otherNames', (m: string) => m.replace('  dnsNames:', '  otherNames: [{ oid: 1.3.6.1.4.1.311.20.2.3, utf8Value: a@example.com }]\n  dnsNames:'), 'otherNames cannot be requested'],
    ['nameConstraints', (m: string) => m.replace('  dnsNames:', '  nameConstraints:\n    critical: true\n    permitted: { dnsDomains: [example.com] }\n  dnsNames:'), 'nameConstraints cannot be requested'],
    ['a secretName that is not a Secret name', (m: string) => m.replace('secretName: bad-tls', 'secretName: Bad_Secret.Name'), 'spec.secretName: Invalid value: "Bad_Secret.Name": must be a Secret name'],
    ['a keystore password Secret that is not a Secret name', (m: string) => m.replace('passwordSecretRef: { name: keystore-password', 'passwordSecretRef: { name: Keystore_Password'), 'must be a Secret name'],
    ['renewBefore with renewBeforePercentage', (m: string) => m.replace('  renewBeforePercentage: 70', '  renewBeforePercentage: 70\n  renewBefore: 720h'), 'renewBefore and renewBeforePercentage are mutually exclusive'],
    ['a keystore without a password', (m: string) => m.replace('      passwordSecretRef: { name: keystore-password, key: password }\n    jks:', '    jks:'), 'give exactly one of passwordSecretRef or password'],
  ])('refuses %s at apply time, saying why', async (_name, edit, message) => {
    expect(await kubectlFails(['apply', '--dry-run=server', '-f', '-'], edit(certManagerStyle('bad', 'bad.certkeeper.test')))).toContain(message);
  });
});
