// Certificates the test environment makes for itself at start: a throwaway CA
// and the TLS and client certificates it signs (the GTS-like proxy's and
// Pebble's listeners, the node cluster's API server, kubelet and components).
// Nothing is read from a bundled file, so nothing here expires while it is used.
import { webcrypto } from 'node:crypto';
import os from 'node:os';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as never);

const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY_MS = 24 * 3600 * 1000;

export interface KeyAndCert {
  /** PEM certificate. */
  cert: string;
  /** PEM PKCS#8 private key. */
  key: string;
}

export interface TestCa extends KeyAndCert {
  issue(spec: LeafSpec): Promise<KeyAndCert>;
}

export interface LeafSpec {
  commonName: string;
  /** Subject organizations (Kubernetes reads them as groups). */
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  /** serverAuth, clientAuth, or both. */
  usages: ('server' | 'client')[];
  /** Lifetime in days; default 7 (longer than any run, short enough to be obviously a test's). */
  days?: number;
}

async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function pkcs8Pem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  const lines = der.toString('base64').match(/.{1,64}/g)!.join('\n');
  return `-----BEGIN PRIVATE KEY-----\n${lines}\n-----END PRIVATE KEY-----\n`;
}

function serial(): string {
  // Positive, 16 bytes.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return Buffer.from(bytes).toString('hex');
}

/** A CA valid from an hour ago for `days` days, ready to issue leaves. */
export async function createTestCa(commonName: string, days = 7): Promise<TestCa> {
  const keys = await keyPair();
  const notBefore = new Date(Date.now() - 3600_000);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + days * DAY_MS),
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const issue = async (spec: LeafSpec): Promise<KeyAndCert> => {
    const leafKeys = await keyPair();
    const subject = [`CN=${spec.commonName}`, ...(spec.organizations ?? []).map((o) => `O=${o}`)].join(', ');
    const names = [
      ...(spec.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
      ...(spec.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
    ];
    const usages = spec.usages.map((u) => (u === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth));
    const leafNotBefore = new Date(Date.now() - 3600_000);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject,
      issuer: caCert.subject,
      notBefore: leafNotBefore,
      notAfter: new Date(Math.min(leafNotBefore.getTime() + (spec.days ?? 7) * DAY_MS, caCert.notAfter.getTime())),
      publicKey: leafKeys.publicKey,
      signingKey: keys.privateKey,
      signingAlgorithm: algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension(usages),
        await x509.AuthorityKeyIdentifierExtension.create(caCert),
        ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
      ],
    });
    return { cert: cert.toString('pem') + '\n', key: await pkcs8Pem(leafKeys.privateKey) };
  };
  return { cert: caCert.toString('pem') + '\n', key: await pkcs8Pem(keys.privateKey), issue };
}

/** The machine's own non-loopback IPv4 addresses (where Pods reach servers on this host). */
export function machineAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((a): a is os.NetworkInterfaceInfo => a !== undefined && a.family === 'IPv4' && !a.internal)
    .map((a) => a.address);
}

/** Names every local test server answers to: loopback and this machine's addresses. */
export function localServerNames(): { dnsNames: string[]; ipAddresses: string[] } {
  return { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', ...machineAddresses()] };
}
