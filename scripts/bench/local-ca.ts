// A throwaway CA for the benchmark (@peculiar/x509 on WebCrypto): it signs the
// TLS certificates of the scale scenario (so the operator finds every Secret
// valid and issues nothing) and the serving certificate of the counting proxy.
import { webcrypto } from 'node:crypto';

type CryptoKeyPair = webcrypto.CryptoKeyPair;
import * as x509 from '@peculiar/x509';

const subtle = webcrypto.subtle;
const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface LocalCa {
  certificatePem: string;
  /** A leaf certificate (PEM, leaf then CA) and its PKCS#8 private key (PEM). */
  issue(opts: { dnsNames?: string[]; ipAddresses?: string[]; validDays?: number; serverAuth?: boolean }): Promise<{ certificatePem: string; keyPem: string }>;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

let serial = 1;
const nextSerial = () => (0x10_0000_0000 + serial++).toString(16);

export async function createLocalCa(name = 'certkeeper bench CA'): Promise<LocalCa> {
  const keys = await subtle.generateKey(EC, true, ['sign', 'verify']) as CryptoKeyPair;
  const now = Date.now();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: `CN=${name}`,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 3650 * DAY),
    keys,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const caPem = ca.toString('pem') + '\n';
  const aki = await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey);
  return {
    certificatePem: caPem,
    async issue({ dnsNames = [], ipAddresses = [], validDays = 90, serverAuth = true }) {
      const leafKeys = await subtle.generateKey(EC, true, ['sign', 'verify']) as CryptoKeyPair;
      const issued = Date.now();
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: nextSerial(),
        subject: '',
        issuer: ca.subject,
        notBefore: new Date(issued - 3_600_000),
        notAfter: new Date(issued + validDays * DAY),
        signingAlgorithm: SIGNING,
        publicKey: leafKeys.publicKey,
        signingKey: keys.privateKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          ...(serverAuth ? [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth])] : []),
          new x509.SubjectAlternativeNameExtension([
            ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
            ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
          ], true),
          aki,
        ],
      });
      const keyPem = pem('PRIVATE KEY', await subtle.exportKey('pkcs8', leafKeys.privateKey));
      return { certificatePem: leaf.toString('pem') + '\n' + caPem, keyPem };
    },
  };
}
