import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { parseCertificateChain, parseWithOpenSsl } from './certificate.ts';
import { leafFactsFromDer } from './der.ts';

x509.cryptoProvider.set(webcrypto as never);
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const keys = webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;

interface Shape {
  serial?: string;
  subject?: string;
  notBefore?: string;
  notAfter?: string;
  names?: { type: 'dns' | 'ip' | 'email' | 'url'; value: string }[];
  usages?: string[];
  keyId?: string;
}

async function pem(shape: Shape): Promise<string> {
  const pair = await keys;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: shape.serial ?? '0a1b2c',
    subject: shape.subject ?? 'CN=leaf.example',
    issuer: 'CN=issuer',
    notBefore: new Date(shape.notBefore ?? '2026-01-01T00:00:00Z'),
    notAfter: new Date(shape.notAfter ?? '2026-04-01T12:34:56Z'),
    signingAlgorithm: alg,
    publicKey: pair.publicKey,
    signingKey: pair.privateKey,
    extensions: [
      ...(shape.names ? [new x509.SubjectAlternativeNameExtension(shape.names)] : []),
      ...(shape.usages ? [new x509.ExtendedKeyUsageExtension(shape.usages)] : []),
      ...(shape.keyId ? [new x509.AuthorityKeyIdentifierExtension(shape.keyId)] : []),
    ],
  });
  return cert.toString('pem');
}

const withoutPem = (parsed: ReturnType<typeof parseCertificateChain>) => {
  if (!parsed) return parsed;
  const { leafPem: _pem, leafDer: _der, ...facts } = parsed;
  return facts;
};

describe('parseCertificateChain reads the leaf from its DER as OpenSSL does', () => {
  // readFromDer: whether the DER walk takes it (false: it declines, and OpenSSL reads it).
  it.each<[string, Shape, boolean]>([
    ['names, IPv4 and IPv6, wildcard, EKU, ARI', {
      names: [{ type: 'dns', value: 'a.example' }, { type: 'dns', value: '*.w.example' }, { type: 'ip', value: '10.0.0.1' },
        { type: 'ip', value: '2001:db8::1' }, { type: 'ip', value: '::1' }, { type: 'email', value: 'a@b.example' }, { type: 'url', value: 'https://x.example/y' }],
      usages: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2', '1.2.3.4'], keyId: '0102030405',
    }, true],
    ['no names, no common name', { subject: 'O=Org' }, true],
    ['common name among other attributes, first one wins', { subject: 'C=DE, O=Org, CN=first.example, CN=second.example' }, true],
    ['validity past 2049 (GeneralizedTime)', { notBefore: '2049-12-31T23:59:59Z', notAfter: '2051-06-30T00:00:01Z' }, true],
    ['validity before 2000 (UTCTime 19xx)', { notBefore: '1999-03-04T05:06:07Z' }, true],
    ['serial with a leading zero byte', { serial: '00ff0102' }, true],
    ['a long serial', { serial: '7f' + '11'.repeat(19) }, true],
    ['time-stamping and OCSP signing usages', { usages: ['1.3.6.1.5.5.7.3.8', '1.3.6.1.5.5.7.3.9', '1.3.6.1.5.5.7.3.3', '1.3.6.1.5.5.7.3.4'] }, true],
    ['a DNS name OpenSSL quotes', { names: [{ type: 'dns', value: 'a,b.example' }] }, false],
    ['a non-ASCII common name', { subject: 'CN=zürich.example' }, false],
    ['a common name OpenSSL escapes', { subject: 'CN=a\\+b' }, false],
    ['a serial with its high bit set (encoded with a zero byte before it)', { serial: '80' }, true],
  ])('%s', async (_name, shape, readFromDer) => {
    const text = await pem(shape);
    const parsed = parseCertificateChain(text);
    expect(withoutPem(parsed)).toEqual(withoutPem(parseWithOpenSsl(text, 1)));
    expect(parsed).toBeDefined();
    expect(leafFactsFromDer(parsed!.leafDer) !== undefined).toBe(readFromDer);
  });

  it('gives the values a person would check', async () => {
    const parsed = parseCertificateChain(await pem({
      serial: '00ff0102', subject: 'CN=leaf.example', notAfter: '2051-06-30T00:00:01Z',
      names: [{ type: 'dns', value: 'leaf.example' }, { type: 'ip', value: '2001:db8::1' }], usages: ['1.3.6.1.5.5.7.3.1'],
    }));
    expect(parsed).toMatchObject({
      chainLength: 1, serialNumber: 'FF0102', commonName: 'leaf.example', notAfter: Date.parse('2051-06-30T00:00:01Z'),
      dnsNames: ['leaf.example'], ipAddresses: ['2001:DB8:0:0:0:0:0:1'], extendedKeyUsage: 1,
    });
  });

  it('counts the chain and reads the first block as the leaf', async () => {
    const leaf = await pem({ subject: 'CN=leaf.example' });
    const issuer = await pem({ subject: 'CN=intermediate.example' });
    expect(parseCertificateChain(`${leaf}\n${issuer}\n`)).toMatchObject({ chainLength: 2, commonName: 'leaf.example' });
  });

  it('leaves a certificate with bytes after its DER to OpenSSL, and reports what OpenSSL reports', async () => {
    const text = await pem({});
    const der = Buffer.from(text.split('\n').slice(1, -1).join(''), 'base64');
    const padded = Buffer.concat([der, Buffer.from([0x05, 0x00])]);
    const paddedPem = `-----BEGIN CERTIFICATE-----\n${padded.toString('base64')}\n-----END CERTIFICATE-----`;
    expect(leafFactsFromDer(der)).toBeDefined();
    expect(leafFactsFromDer(padded)).toBeUndefined();
    expect(withoutPem(parseCertificateChain(paddedPem))).toEqual(withoutPem(parseWithOpenSsl(paddedPem, 1)));
  });

  it('returns undefined for a garbled or truncated certificate, as OpenSSL does', async () => {
    const text = await pem({});
    const body = text.split('\n').slice(1, -1).join('');
    const truncated = `-----BEGIN CERTIFICATE-----\n${body.slice(0, body.length / 2)}\n-----END CERTIFICATE-----`;
    expect(parseCertificateChain(truncated)).toBeUndefined();
    expect(parseCertificateChain('-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----')).toBeUndefined();
    expect(parseCertificateChain('no PEM here')).toBeUndefined();
  });
});
