import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ariCertId, RenewalInfoClient } from './ari.ts';

x509.cryptoProvider.set(webcrypto as never);

async function certificate(serialNumber: string, keyId: string): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
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
    extensions: [new x509.AuthorityKeyIdentifierExtension(keyId)],
  });
  return cert.toString('pem');
}

describe('ariCertId', () => {
  it('joins the base64url key identifier and the DER serial (RFC 9773 §4.1 example)', async () => {
    // The RFC's example: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4, serial 00:87:65:43:21.
    const pem = await certificate('0087654321', '69885b6b87464041e1b37b847ba0ae2cde01c8d4');
    expect(await ariCertId(pem)).toBe('aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
  });

  it('has no ID without an authority key identifier', async () => {
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name: 'CN=x', keys, signingAlgorithm: alg });
    expect(await ariCertId(cert.toString('pem'))).toBeUndefined();
  });
});

describe('RenewalInfoClient', () => {
  it('gives no window (and does not throw) when the CA cannot be reached', async () => {
    const client = new RenewalInfoClient(pino({ level: 'silent' }));
    const pem = await certificate('01', '0102030405');
    expect(await client.window('https://127.0.0.1:1/directory', pem, {})).toBeUndefined();
  });
});
