import { createPrivateKey, generateKeyPairSync, X509Certificate, webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { combinedPem, derPrivateKey, encodePrivateKey, pkcs12Keystore } from './keystores.ts';

// A self-signed certificate built with the dev dependency @peculiar/x509, so the test needs no process.
async function selfSigned(algorithm: 'ec' | 'rsa') {
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as never);
  const params = algorithm === 'ec'
    ? { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
    : { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(params as never, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name: 'CN=keystore-test', notBefore: new Date(), notAfter: new Date(Date.now() + 86_400_000), keys, signingAlgorithm: params as never });
  const keyPem = createPrivateKey({ key: Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }).toString();
  return { keyPem, certPem: cert.toString('pem') };
}

async function readPkcs12(p12: Buffer, password: string) {
  const pkijs = await import('pkijs');
  pkijs.setEngine('node', new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as never }));
  const pfx = pkijs.PFX.fromBER(p12.buffer.slice(p12.byteOffset, p12.byteOffset + p12.byteLength) as ArrayBuffer);
  const pw = new TextEncoder().encode(password).buffer as ArrayBuffer;
  await pfx.parseInternalValues({ password: pw, checkIntegrity: true });
  const safe = pfx.parsedValue!.authenticatedSafe!;
  await safe.parseInternalValues({ safeContents: [{}, { password: pw }] });
  const bags = safe.parsedValue!.safeContents.flatMap((c: { value: { safeBags: unknown[] } }) => c.value.safeBags) as { bagId: string; bagValue: { parseInternalValues?: (o: object) => Promise<void>; parsedValue?: { toSchema(): { toBER(): ArrayBuffer } } } }[];
  return { bags };
}

describe('keystores and output formats', () => {
  it.each(['ec', 'rsa'] as const)('writes a PKCS#12 keystore (%s key) that opens with the password and holds the key and the chain', async (algorithm) => {
    const { keyPem, certPem } = await selfSigned(algorithm);
    const p12 = await pkcs12Keystore(keyPem, certPem, 'changeit');
    const { bags } = await readPkcs12(p12, 'changeit');
    expect(bags.map((b) => b.bagId).sort()).toEqual(['1.2.840.113549.1.12.10.1.2', '1.2.840.113549.1.12.10.1.3']);
    const certBag = bags.find((b) => b.bagId === '1.2.840.113549.1.12.10.1.3')!;
    const der = Buffer.from(certBag.bagValue.parsedValue!.toSchema().toBER());
    expect(new X509Certificate(der).fingerprint256).toBe(new X509Certificate(certPem).fingerprint256);
    await expect(readPkcs12(p12, 'wrong')).rejects.toThrow();
  });

  it('encodes the key as PKCS#1/SEC1 or PKCS#8 and keeps it the same key', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(encodePrivateKey(rsa, 'PKCS1')).toContain('BEGIN RSA PRIVATE KEY');
    expect(encodePrivateKey(ec, 'PKCS1')).toContain('BEGIN EC PRIVATE KEY');
    expect(encodePrivateKey(ec, 'PKCS8')).toContain('BEGIN PRIVATE KEY');
    const same = (a: string, b: string) => createPrivateKey(a).export({ type: 'pkcs8', format: 'der' }).equals(createPrivateKey(b).export({ type: 'pkcs8', format: 'der' }));
    expect(same(encodePrivateKey(rsa, 'PKCS1'), rsa)).toBe(true);
    expect(same(encodePrivateKey(ec, 'PKCS1'), ec)).toBe(true);
  });

  it('writes the combined PEM as key then chain, and the key in DER', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const combined = combinedPem(ec, '-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n');
    expect(combined.indexOf('PRIVATE KEY')).toBeLessThan(combined.indexOf('CERTIFICATE'));
    expect(createPrivateKey({ key: derPrivateKey(ec), format: 'der', type: 'pkcs8' }).asymmetricKeyType).toBe('ec');
  });
});
