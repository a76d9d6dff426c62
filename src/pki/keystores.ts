// The extra outputs a Certificate can ask for, as cert-manager writes them:
// PKCS#12 keystores (keystore.p12; keystore.jks in the same format, which
// Java's "JKS" KeyStore type reads since Java 8u60), the key and chain in one
// PEM (tls-combined.pem), the key in DER (key.der), and the key in PKCS#1/SEC1
// or PKCS#8 PEM. PKCS#12 is built with pkijs (a well-kept PKCS library that,
// unlike node-forge, handles EC keys), loaded only when a Certificate asks.
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { splitPemChain } from './certificate.ts';

export type KeyEncoding = 'PKCS1' | 'PKCS8';

/** tls.key in the encoding asked for: PKCS#1 (RSA) or SEC1 (EC) "traditional" PEM, or PKCS#8. */
export function encodePrivateKey(keyPem: string, encoding: KeyEncoding): string {
  const key = createPrivateKey(keyPem);
  if (encoding === 'PKCS8') return key.export({ type: 'pkcs8', format: 'pem' }).toString();
  return key.export({ type: key.asymmetricKeyType === 'ec' ? 'sec1' : 'pkcs1', format: 'pem' }).toString();
}

/** cert-manager's CombinedPEM: the private key, then the chain. */
export function combinedPem(keyPem: string, chainPem: string): string {
  return `${keyPem.trimEnd()}\n${chainPem.trimEnd()}\n`;
}

/** cert-manager's DER: the private key in PKCS#8 DER. */
export function derPrivateKey(keyPem: string): Buffer {
  return createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
}

const OID = {
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  localKeyId: '1.2.840.113549.1.9.21',
  friendlyName: '1.2.840.113549.1.9.20',
} as const;

/** Encryption and integrity of the keystore: PBES2 (PBKDF2-SHA256, AES-256-CBC) and an HMAC-SHA256 MAC, as modern Java and OpenSSL 3 write. */
const PBE = { contentEncryptionAlgorithm: { name: 'AES-CBC', length: 256 }, hmacHashAlgorithm: 'SHA-256', iterationCount: 10_000 } as const;

/**
 * A password-protected PKCS#12 keystore holding the key and the chain, the key
 * and the leaf sharing a localKeyId, under the given alias (friendly name).
 */
export async function pkcs12Keystore(keyPem: string, chainPem: string, password: string, alias = 'certificate'): Promise<Buffer> {
  const pkijs = await import('pkijs');
  const asn1js = await import('asn1js');
  pkijs.setEngine('node', new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as never }));
  const passwordBytes = new TextEncoder().encode(password).buffer as ArrayBuffer;
  const toArrayBuffer = (buffer: Buffer) => buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;

  const keyInfo = pkijs.PrivateKeyInfo.fromBER(toArrayBuffer(derPrivateKey(keyPem)));
  const certificates = splitPemChain(chainPem).map((pem) => {
    const base64 = pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');
    return pkijs.Certificate.fromBER(toArrayBuffer(Buffer.from(base64, 'base64')));
  });
  if (certificates.length === 0) throw new Error('no certificate to put in the keystore');

  const keyId = new asn1js.OctetString({ valueHex: toArrayBuffer(randomBytes(20)) });
  const leafAttributes = [
    new pkijs.Attribute({ type: OID.localKeyId, values: [keyId] }),
    new pkijs.Attribute({ type: OID.friendlyName, values: [new asn1js.BmpString({ value: alias })] }),
  ];
  const keyBag = new pkijs.SafeBag({
    bagId: OID.pkcs8ShroudedKeyBag,
    bagValue: new pkijs.PKCS8ShroudedKeyBag({ parsedValue: keyInfo }),
    bagAttributes: leafAttributes,
  });
  const certBags = certificates.map((certificate, i) => new pkijs.SafeBag({
    bagId: OID.certBag,
    bagValue: new pkijs.CertBag({ parsedValue: certificate }),
    ...(i === 0 ? { bagAttributes: leafAttributes } : {}),
  }));

  const pfx = new pkijs.PFX({
    parsedValue: {
      integrityMode: 0, // password-based MAC
      authenticatedSafe: new pkijs.AuthenticatedSafe({
        parsedValue: {
          safeContents: [
            { privacyMode: 0, value: new pkijs.SafeContents({ safeBags: [keyBag] }) }, // the key bag is itself encrypted
            { privacyMode: 1, value: new pkijs.SafeContents({ safeBags: certBags }) }, // password-encrypted
          ],
        },
      }),
    },
  });
  await (keyBag.bagValue as InstanceType<typeof pkijs.PKCS8ShroudedKeyBag>).makeInternalValues({ password: passwordBytes, ...PBE });
  await pfx.parsedValue!.authenticatedSafe!.makeInternalValues({ safeContents: [{}, { password: passwordBytes, ...PBE }] });
  await pfx.makeInternalValues({ password: passwordBytes, iterations: PBE.iterationCount, pbkdf2HashAlgorithm: 'SHA-256', hmacHashAlgorithm: 'SHA-256' });
  return Buffer.from(pfx.toSchema().toBER(false));
}
