import { createPrivateKey, X509Certificate as NodeX509, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { ariCertId, certificateIds, keyFactsFromDer } from './der.ts';

x509.cryptoProvider.set(webcrypto as never);
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

async function certificateDer(serialNumber: string, keyId?: string): Promise<Buffer> {
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject: 'CN=test',
    issuer: 'CN=issuer',
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2026-04-01T00:00:00Z'),
    signingAlgorithm: alg,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      ...(keyId ? [new x509.AuthorityKeyIdentifierExtension(keyId)] : []),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'a.example' }]),
    ],
  });
  // Node's parser is the reference for what a certificate is; the DER walk must agree with it.
  return Buffer.from(new NodeX509(cert.toString('pem')).raw);
}

describe('ariCertId', () => {
  it('joins the base64url key identifier and the DER serial (RFC 9773 §4.1 example)', async () => {
    // keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4, serial 00:87:65:43:21.
    const der = await certificateDer('0087654321', '69885b6b87464041e1b37b847ba0ae2cde01c8d4');
    expect(ariCertId(der)).toBe('aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
  });

  it('keeps the serial as encoded, also a long one', async () => {
    const serial = '7f' + '11'.repeat(19);
    const ids = certificateIds(await certificateDer(serial, '0102'));
    expect(ids?.serial.toString('hex')).toBe(serial);
    expect(ids?.authorityKeyId?.toString('hex')).toBe('0102');
  });

  it('has no ID without an authority key identifier', async () => {
    const der = await certificateDer('01');
    expect(certificateIds(der)?.serial.toString('hex')).toBe('01');
    expect(ariCertId(der)).toBeUndefined();
  });

  it('returns undefined for input that is not a certificate, truncated or garbage', async () => {
    const der = await certificateDer('01', '0102');
    expect(ariCertId(der.subarray(0, der.length - 10))).toBeUndefined();
    expect(ariCertId(Buffer.from('not a certificate'))).toBeUndefined();
    expect(ariCertId(Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]))).toBeUndefined();
    expect(ariCertId(Buffer.alloc(0))).toBeUndefined();
  });
});

describe('keyFactsFromDer', () => {
  type Made = { certificate: Buffer; pkcs8: Buffer };
  const algorithms = {
    'P-256': { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
    'P-384': { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' },
    'P-521': { name: 'ECDSA', namedCurve: 'P-521', hash: 'SHA-512' },
    'RSA-2048': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    'RSA-3072': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 3072, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  } as const;
  async function make(name: keyof typeof algorithms): Promise<Made> {
    const algorithm = algorithms[name];
    const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: '01', subject: 'CN=test', issuer: 'CN=test', notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2026-04-01T00:00:00Z'),
      signingAlgorithm: algorithm, publicKey: keys.publicKey, signingKey: keys.privateKey,
    });
    return { certificate: Buffer.from(cert.rawData), pkcs8: Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)) };
  }
  /** The same key in each encoding a tls.key may hold (PEM label and DER). */
  function encodings(pkcs8: Buffer): [string, Buffer][] {
    const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    return [
      ['PRIVATE KEY', pkcs8],
      key.asymmetricKeyType === 'ec'
        ? ['EC PRIVATE KEY', key.export({ format: 'der', type: 'sec1' })]
        : ['RSA PRIVATE KEY', key.export({ format: 'der', type: 'pkcs1' })],
    ];
  }
  /** What OpenSSL says, the answer keyFactsFromDer must give. */
  function openssl(pkcs8: Buffer, certificate: Buffer) {
    const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    const details = key.asymmetricKeyDetails!;
    const curves: Record<string, number> = { prime256v1: 256, secp384r1: 384, secp521r1: 521 };
    return {
      algorithm: key.asymmetricKeyType === 'ec' ? 'ECDSA' : 'RSA',
      size: key.asymmetricKeyType === 'ec' ? curves[details.namedCurve!] : details.modulusLength,
      matchesCertificate: new NodeX509(certificate).checkPrivateKey(key),
    };
  }

  it('agrees with OpenSSL on type, size and match for EC and RSA keys in every encoding, matching or not', async () => {
    const made = Object.fromEntries(await Promise.all(Object.keys(algorithms).map(async (name) => [name, await make(name as keyof typeof algorithms)] as const)));
    const other = await make('P-256');
    const otherRsa = await make('RSA-2048');
    let checked = 0;
    for (const [name, { certificate, pkcs8 }] of Object.entries(made)) {
      // Its own certificate, another key's of the same kind, and one of the other algorithm.
      for (const cert of [certificate, name.startsWith('RSA') ? otherRsa.certificate : other.certificate, name.startsWith('RSA') ? other.certificate : otherRsa.certificate]) {
        const expected = openssl(pkcs8, cert);
        for (const [label, der] of encodings(pkcs8)) {
          expect(keyFactsFromDer(der, label, cert), `${name} ${label}`).toEqual(expected);
          checked++;
        }
      }
    }
    expect(checked).toBe(30);
    expect(keyFactsFromDer(made['P-256']!.pkcs8, 'PRIVATE KEY', made['P-256']!.certificate)!.matchesCertificate).toBe(true);
    expect(keyFactsFromDer(made['P-256']!.pkcs8, 'PRIVATE KEY', other.certificate)!.matchesCertificate).toBe(false);
    // No certificate to compare with: the facts, not a match.
    expect(keyFactsFromDer(made['RSA-2048']!.pkcs8, 'PRIVATE KEY', undefined)).toEqual({ algorithm: 'RSA', size: 2048, matchesCertificate: false });
  });

  it('leaves to OpenSSL what it cannot read: an EC key without its public key, another label, garbage', async () => {
    const { pkcs8, certificate } = await make('P-256');
    const d = Buffer.from(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' }).d!, 'base64url');
    // SEC 1 with the curve but without the optional [1] public key.
    const curve = Buffer.from([0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]);
    const body = Buffer.concat([Buffer.from([0x02, 0x01, 0x01, 0x04, d.length]), d, curve]);
    const noPublic = Buffer.concat([Buffer.from([0x30, body.length]), body]);
    expect(createPrivateKey({ key: noPublic, format: 'der', type: 'sec1' }).asymmetricKeyType).toBe('ec');
    expect(keyFactsFromDer(noPublic, 'EC PRIVATE KEY', certificate)).toBeUndefined();
    expect(keyFactsFromDer(pkcs8, 'ENCRYPTED PRIVATE KEY', certificate)).toBeUndefined();
    expect(keyFactsFromDer(Buffer.from('not a key'), 'PRIVATE KEY', certificate)).toBeUndefined();
    expect(keyFactsFromDer(pkcs8.subarray(0, 20), 'PRIVATE KEY', certificate)).toBeUndefined();
  });
});
