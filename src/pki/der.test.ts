import { X509Certificate as NodeX509, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { ariCertId, certificateIds } from './der.ts';

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
