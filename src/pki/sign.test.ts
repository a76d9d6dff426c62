import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { generatePrivateKeyPem } from './keys.ts';
import { caKeyPairProblem, signCertificate, type CertificateTemplate, type Signer } from './sign.ts';

const NOW = new Date('2026-03-01T12:00:00Z');
const DAY_MS = 86_400_000;

const keys = {
  ec256: generatePrivateKeyPem('ECDSA', 256),
  ec384: generatePrivateKeyPem('ECDSA', 384),
  rsa: generatePrivateKeyPem('RSA', 2048),
  leaf: generatePrivateKeyPem('ECDSA', 256),
};

function template(overrides: Partial<CertificateTemplate> = {}): CertificateTemplate {
  return { dnsNames: [], ipAddresses: [], uris: [], emailAddresses: [], isCA: false, ...overrides };
}

function pemBlocks(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g) ?? [];
}

function fingerprints(pem: string): string[] {
  return pemBlocks(pem).map((block) => new X509Certificate(block).fingerprint256);
}

/** The first certificate of a PEM, parsed by @peculiar/x509 (for extension and algorithm details). */
function parsed(pem: string): x509.X509Certificate {
  return new x509.X509Certificate(pemBlocks(pem)[0]!);
}

async function selfSignedCa(keyPem: string, commonName: string, durationMs?: number) {
  const signed = await signCertificate(template({ commonName, isCA: true, durationMs }), keyPem, { kind: 'self' }, NOW);
  return { ...signed, keyPem, signer: { kind: 'ca', certificatePem: signed.chainPem, keyPem } as Signer };
}

describe('signCertificate', () => {
  it('makes a self-signed root that verifies with its own key, is a CA, and is its own ca.crt', async () => {
    const root = await selfSignedCa(keys.ec256, 'Example Root CA');
    const cert = new X509Certificate(root.chainPem);
    expect(cert.subject).toBe('CN=Example Root CA');
    expect(cert.issuer).toBe('CN=Example Root CA');
    expect(cert.ca).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(pemBlocks(root.chainPem)).toHaveLength(1);
    expect(root.caPem).toBe(root.chainPem);
    const p = parsed(root.chainPem);
    expect(p.getExtension(x509.BasicConstraintsExtension)).toMatchObject({ ca: true, critical: true });
    expect(p.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(p.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId);
  });

  it('signs a leaf with the CA: it verifies against the CA, carries the names asked, and the chain is leaf then CA', async () => {
    const root = await selfSignedCa(keys.ec256, 'Example Root CA');
    const leaf = await signCertificate(template({
      commonName: 'web',
      dnsNames: ['example.com', '*.example.com'],
      ipAddresses: ['192.0.2.10', '2001:db8::1'],
      uris: ['spiffe://cluster.local/ns/default/sa/web'],
      emailAddresses: ['ops@example.com'],
    }), keys.leaf, root.signer, NOW);
    const cert = new X509Certificate(leaf.chainPem);
    const ca = new X509Certificate(root.chainPem);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.checkPrivateKey(createPrivateKey(keys.leaf))).toBe(true);
    expect(cert.subjectAltName!.split(', ').sort()).toEqual([
      'DNS:*.example.com', 'DNS:example.com', 'IP Address:192.0.2.10', 'IP Address:2001:DB8:0:0:0:0:0:1',
      'URI:spiffe://cluster.local/ns/default/sa/web', 'email:ops@example.com',
    ]);
    expect(fingerprints(leaf.chainPem)).toEqual([cert.fingerprint256, ca.fingerprint256]);
    expect(leaf.caPem).toBe(root.chainPem);
    const p = parsed(leaf.chainPem);
    expect(p.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(parsed(root.chainPem).getExtension(x509.SubjectKeyIdentifierExtension)!.keyId);
    expect(p.getExtension(x509.SubjectAlternativeNameExtension)!.critical).toBe(false);
  });

  it('signs with an intermediate: tls.crt is leaf, intermediate, root once each; ca.crt is the root; the leaf ends when the intermediate does', async () => {
    const root = await selfSignedCa(keys.ec384, 'Example Root CA', 3650 * DAY_MS);
    const intermediate = await signCertificate(template({ commonName: 'Example Intermediate CA', isCA: true, durationMs: 30 * DAY_MS }), keys.ec256, root.signer, NOW);
    // The intermediate's own tls.crt is intermediate + root; the root appended again must not appear twice.
    const [intermediateFp, ...intermediateRest] = fingerprints(intermediate.chainPem);
    expect(intermediateRest).toEqual(fingerprints(root.chainPem));
    const intermediateSigner: Signer = { kind: 'ca', certificatePem: intermediate.chainPem + root.chainPem, keyPem: keys.ec256 };

    const leaf = await signCertificate(template({ dnsNames: ['example.com'] }), keys.leaf, intermediateSigner, NOW);
    const cert = new X509Certificate(leaf.chainPem);
    expect(fingerprints(leaf.chainPem)).toEqual([cert.fingerprint256, intermediateFp, ...fingerprints(root.chainPem)]);
    expect(leaf.caPem).toBe(root.chainPem);
    const intermediateCert = new X509Certificate(intermediate.chainPem);
    expect(cert.checkIssued(intermediateCert)).toBe(true);
    expect(cert.verify(intermediateCert.publicKey)).toBe(true);
    expect(intermediateCert.verify(new X509Certificate(root.chainPem).publicKey)).toBe(true);
    expect(leaf.notAfter).toEqual(intermediateCert.validToDate);
    expect(cert.validToDate).toEqual(new Date(NOW.getTime() + 30 * DAY_MS));
  });

  it('lasts 90 days from now by default, and reports the dates the certificate holds', async () => {
    const signed = await signCertificate(template({ commonName: 'default' }), keys.ec256, { kind: 'self' }, NOW);
    const cert = new X509Certificate(signed.chainPem);
    expect(signed.notBefore).toEqual(NOW);
    expect(signed.notAfter).toEqual(new Date(NOW.getTime() + 90 * DAY_MS));
    expect(cert.validFromDate).toEqual(signed.notBefore);
    expect(cert.validToDate).toEqual(signed.notAfter);
  });

  it('gives two signings different positive 128-bit serial numbers', async () => {
    const serials = await Promise.all([1, 2, 3].map(async () => parsed((await signCertificate(template({ commonName: 's' }), keys.ec256, { kind: 'self' }, NOW)).chainPem).serialNumber));
    expect(new Set(serials).size).toBe(3);
    for (const serial of serials) {
      expect(serial).toMatch(/^[0-9a-f]{32}$/i);
      const firstByte = parseInt(serial.slice(0, 2), 16);
      expect(firstByte).toBeGreaterThan(0);
      expect(firstByte).toBeLessThan(0x80);
    }
  });

  it.each([
    { signerKey: 'ec256', name: 'ECDSA', hash: 'SHA-256' },
    { signerKey: 'ec384', name: 'ECDSA', hash: 'SHA-384' },
    { signerKey: 'rsa', name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  ] as const)('signs with $name $hash when the CA key is $signerKey, whatever the subject key', async ({ signerKey, name, hash }) => {
    const root = await selfSignedCa(keys[signerKey], 'Example Root CA');
    for (const subjectKey of [keys.leaf, keys.rsa]) {
      const leaf = await signCertificate(template({ dnsNames: ['example.com'] }), subjectKey, root.signer, NOW);
      expect(parsed(leaf.chainPem).signatureAlgorithm).toMatchObject({ name, hash: { name: hash } });
      expect(new X509Certificate(leaf.chainPem).verify(new X509Certificate(root.chainPem).publicKey)).toBe(true);
    }
    expect(parsed(root.chainPem).signatureAlgorithm).toMatchObject({ name, hash: { name: hash } });
  });

  /** PKCS#1 for RSA, SEC1 for EC: the encodings with "BEGIN RSA/EC PRIVATE KEY". */
  const traditional = (pem: string): string => {
    const key = createPrivateKey(pem);
    return key.export({ type: key.asymmetricKeyType === 'rsa' ? 'pkcs1' : 'sec1', format: 'pem' }) as string;
  };
  it.each([
    { format: 'PKCS#1', keyPem: keys.rsa, header: 'BEGIN RSA PRIVATE KEY' },
    { format: 'SEC1', keyPem: keys.ec256, header: 'BEGIN EC PRIVATE KEY' },
  ])('reads $format keys for both the subject and the CA', async ({ keyPem, header }) => {
    const converted = traditional(keyPem);
    expect(converted).toContain(header);
    const root = await selfSignedCa(converted, 'Example Root CA');
    const rootCert = new X509Certificate(root.chainPem);
    expect(rootCert.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    const subjectKey = keyPem === keys.rsa ? keys.leaf : keys.rsa;
    const leaf = await signCertificate(template({ dnsNames: ['example.com'] }), traditional(subjectKey), root.signer, NOW);
    const leafCert = new X509Certificate(leaf.chainPem);
    expect(leafCert.verify(rootCert.publicKey)).toBe(true);
    expect(leafCert.checkPrivateKey(createPrivateKey(subjectKey))).toBe(true);
  });

  const F = x509.KeyUsageFlags;
  const EKU = { server: '1.3.6.1.5.5.7.3.1', client: '1.3.6.1.5.5.7.3.2', code: '1.3.6.1.5.5.7.3.3', email: '1.3.6.1.5.5.7.3.4', time: '1.3.6.1.5.5.7.3.8', ocsp: '1.3.6.1.5.5.7.3.9' };
  it.each([
    { name: 'defaults to digital signature, key encipherment and server auth', usages: undefined, isCA: false, keyUsage: F.digitalSignature | F.keyEncipherment, extended: [EKU.server] },
    { name: 'treats an empty list as the default', usages: [], isCA: false, keyUsage: F.digitalSignature | F.keyEncipherment, extended: [EKU.server] },
    { name: 'gives a CA cert sign and no extended usage by default (a CA\'s EKUs bind every certificate below it)', usages: undefined, isCA: true, keyUsage: F.digitalSignature | F.keyEncipherment | F.keyCertSign, extended: undefined },
    { name: 'adds cert sign for a CA whose usages omit it', usages: ['crl sign'], isCA: true, keyUsage: F.keyCertSign | F.cRLSign, extended: undefined },
    { name: 'reads signing as digital signature and maps every key usage bit', usages: ['signing', 'content commitment', 'key encipherment', 'data encipherment', 'key agreement', 'cert sign', 'crl sign', 'encipher only', 'decipher only'], isCA: false, keyUsage: F.digitalSignature | F.nonRepudiation | F.keyEncipherment | F.dataEncipherment | F.keyAgreement | F.keyCertSign | F.cRLSign | F.encipherOnly | F.decipherOnly, extended: undefined },
    { name: 'maps the extended usages and reads s/mime as email protection, once', usages: ['digital signature', 'server auth', 'client auth', 'code signing', 'email protection', 's/mime', 'timestamping', 'ocsp signing'], isCA: false, keyUsage: F.digitalSignature, extended: [EKU.server, EKU.client, EKU.code, EKU.email, EKU.time, EKU.ocsp] },
    { name: 'maps the IPsec, SGC and any usages', usages: ['ipsec end system', 'ipsec tunnel', 'ipsec user', 'microsoft sgc', 'netscape sgc', 'any'], isCA: false, keyUsage: undefined, extended: ['1.3.6.1.5.5.7.3.5', '1.3.6.1.5.5.7.3.6', '1.3.6.1.5.5.7.3.7', '1.3.6.1.4.1.311.10.3.3', '2.16.840.1.113730.4.1', '2.5.29.37.0'] },
  ])('usages: $name', async ({ usages, isCA, keyUsage, extended }) => {
    const cert = parsed((await signCertificate(template({ commonName: 'u', usages, isCA }), keys.ec256, { kind: 'self' }, NOW)).chainPem);
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    expect(ku?.usages).toBe(keyUsage);
    if (ku) expect(ku.critical).toBe(true);
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual(extended);
  });

  it('refuses a usage it does not know', async () => {
    await expect(signCertificate(template({ usages: ['server auth', 'world domination'] }), keys.ec256, { kind: 'self' }, NOW)).rejects.toThrow('unknown usage "world domination"');
  });

  it('writes every subject field in Go\'s order, one value per RDN, with characters DN syntax would read', async () => {
    const signed = await signCertificate(template({
      commonName: 'Example, "Web" + more',
      subject: {
        countries: ['DE'], provinces: ['Bayern'], localities: ['München'], streetAddresses: ['Hauptstraße 1'], postalCodes: ['80331'],
        organizations: ['Acme', 'Acme Holding'], organizationalUnits: ['Ops'], serialNumber: '#42',
      },
    }), keys.ec256, { kind: 'self' }, NOW);
    const p = parsed(signed.chainPem);
    expect(p.subjectName.toJSON()).toEqual([
      { C: ['DE'] }, { ST: ['Bayern'] }, { L: ['München'] }, { '2.5.4.9': ['Hauptstraße 1'] }, { '2.5.4.17': ['80331'] },
      { O: ['Acme'] }, { O: ['Acme Holding'] }, { OU: ['Ops'] }, { CN: ['Example, "Web" + more'] }, { '2.5.4.5': ['#42'] },
    ]);
    expect(p.issuer).toBe(p.subject);
  });

  it('marks the subject alternative names critical when the subject is empty', async () => {
    const signed = await signCertificate(template({ dnsNames: ['example.com'] }), keys.ec256, { kind: 'self' }, NOW);
    const p = parsed(signed.chainPem);
    expect(p.subject).toBe('');
    expect(p.getExtension(x509.SubjectAlternativeNameExtension)!.critical).toBe(true);
  });

  it('writes CRL distribution points and authority information access when asked, and not otherwise', async () => {
    const withUrls = parsed((await signCertificate(template({
      commonName: 'u', crlDistributionPoints: ['http://crl.example.com/ca.crl'], ocspServers: ['http://ocsp.example.com'], issuingCertificateURLs: ['http://ca.example.com/ca.crt'],
    }), keys.ec256, { kind: 'self' }, NOW)).chainPem);
    const aia = withUrls.getExtension(x509.AuthorityInfoAccessExtension)!;
    expect(aia.ocsp.map((n) => n.value)).toEqual(['http://ocsp.example.com']);
    expect(aia.caIssuers.map((n) => n.value)).toEqual(['http://ca.example.com/ca.crt']);
    const crl = withUrls.getExtension(x509.CRLDistributionPointsExtension)!;
    expect(crl.distributionPoints[0]!.distributionPoint!.fullName![0]!.uniformResourceIdentifier).toBe('http://crl.example.com/ca.crl');

    const without = parsed((await signCertificate(template({ commonName: 'u' }), keys.ec256, { kind: 'self' }, NOW)).chainPem);
    expect(without.getExtension(x509.AuthorityInfoAccessExtension)).toBeNull();
    expect(without.getExtension(x509.CRLDistributionPointsExtension)).toBeNull();
    expect(without.getExtension(x509.SubjectAlternativeNameExtension)).toBeNull();
  });

  it('refuses to sign with a CA key pair that cannot sign, saying why', async () => {
    const root = await selfSignedCa(keys.ec256, 'Example Root CA');
    await expect(signCertificate(template({ dnsNames: ['example.com'] }), keys.leaf, { kind: 'ca', certificatePem: root.chainPem, keyPem: keys.ec384 }, NOW))
      .rejects.toThrow('tls.key is not the private key of the first certificate in tls.crt');
  });
});

const root = await selfSignedCa(keys.ec256, 'Example Root CA');
const leaf = await signCertificate(template({ commonName: 'not a ca' }), keys.leaf, root.signer, NOW);
const truncatedKey = keys.ec256.replace(/\n[A-Za-z0-9+/=]+\n-----END/, '\n-----END');
const afterExpiry = new Date(root.notAfter.getTime() + 1000);

describe('caKeyPairProblem', () => {
  it.each([
    { name: 'accepts a CA certificate with its key', cert: root.chainPem, key: keys.ec256, now: NOW, reason: undefined, says: undefined },
    { name: 'accepts a chain whose first certificate is the CA', cert: root.chainPem + root.chainPem, key: keys.ec256, now: NOW, reason: undefined, says: undefined },
    { name: 'reports a missing tls.crt', cert: undefined, key: keys.ec256, now: NOW, reason: 'CAKeyPairMissing', says: 'no tls.crt' },
    { name: 'reports a missing tls.key', cert: root.chainPem, key: '', now: NOW, reason: 'CAKeyPairMissing', says: 'no tls.key' },
    { name: 'reports both missing', cert: '', key: undefined, now: NOW, reason: 'CAKeyPairMissing', says: 'no tls.crt and no tls.key' },
    { name: 'reports a tls.crt without a certificate', cert: 'hello', key: keys.ec256, now: NOW, reason: 'CAKeyPairInvalid', says: 'tls.crt holds no PEM certificate' },
    { name: 'reports a tls.crt whose certificate is damaged', cert: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', key: keys.ec256, now: NOW, reason: 'CAKeyPairInvalid', says: 'certificate 1 in tls.crt is not a valid X.509 certificate' },
    { name: 'reports a tls.key that is not PEM', cert: root.chainPem, key: 'secret', now: NOW, reason: 'CAKeyPairInvalid', says: 'tls.key holds no PEM private key' },
    { name: 'reports a tls.key whose key is damaged', cert: root.chainPem, key: truncatedKey, now: NOW, reason: 'CAKeyPairInvalid', says: 'tls.key holds a PEM block that is not a valid private key' },
    { name: 'reports a certificate that is not a CA', cert: leaf.chainPem, key: keys.leaf, now: NOW, reason: 'NotACA', says: 'is not a CA' },
    { name: 'reports an expired CA, saying when it expired', cert: root.chainPem, key: keys.ec256, now: afterExpiry, reason: 'CAExpired', says: `expired at ${root.notAfter.toISOString()}` },
    { name: 'reports a CA that expires this very second', cert: root.chainPem, key: keys.ec256, now: root.notAfter, reason: 'CAExpired', says: 'expired' },
    { name: 'reports a key that is not the CA\'s', cert: root.chainPem, key: keys.ec384, now: NOW, reason: 'CAKeyMismatch', says: 'tls.key is not the private key' },
    { name: 'reports an RSA key against an ECDSA CA as a mismatch', cert: root.chainPem, key: keys.rsa, now: NOW, reason: 'CAKeyMismatch', says: 'tls.key is not the private key' },
  ])('$name', ({ cert, key, now, reason, says }) => {
    const problem = caKeyPairProblem(cert, key, now);
    expect(problem?.reason).toBe(reason);
    if (says) expect(problem!.message).toContain(says);
    if (problem) {
      expect(problem.message).not.toContain('PRIVATE KEY');
      for (const pem of [key ?? '', keys.ec256, keys.leaf]) {
        for (const line of pem.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----'))) expect(problem.message).not.toContain(line.slice(0, 16));
      }
    }
  });
});
