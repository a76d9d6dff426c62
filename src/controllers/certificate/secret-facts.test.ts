import { generateKeyPairSync, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { interner, reduceManagedSecret } from '../secrets.ts';
import { SECRET_ANNOTATION, secretFacts, type SecretObject } from './secret-facts.ts';

x509.cryptoProvider.set(webcrypto as never);
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const b64 = (s: string) => Buffer.from(s).toString('base64');

let certPem = '';
let keyPem = '';
beforeAll(async () => {
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '0a0b', subject: 'CN=www.example.com', issuer: 'CN=issuer',
    notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2026-04-01T00:00:00Z'),
    signingAlgorithm: alg, publicKey: keys.publicKey, signingKey: keys.privateKey,
    extensions: [
      new x509.AuthorityKeyIdentifierExtension('0102030405'),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'www.example.com' }, { type: 'ip', value: '192.0.2.1' }]),
    ],
  });
  certPem = cert.toString('pem');
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64')}\n-----END PRIVATE KEY-----\n`;
});

const tlsSecret = (data: Record<string, string>, annotations: Record<string, string> = {}): SecretObject => ({
  metadata: { name: 'web-tls', namespace: 'apps', resourceVersion: '42', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":"..."}', ...annotations } },
  type: 'kubernetes.io/tls',
  data,
});

describe('secretFacts', () => {
  it('knows a missing Secret from an empty one', () => {
    expect(secretFacts(undefined)).toEqual({ exists: false });
    expect(secretFacts(tlsSecret({}))).toEqual({ exists: true, type: 'kubernetes.io/tls' });
  });

  it('reads who owns the Secret from its ownership annotations', () => {
    expect(secretFacts(tlsSecret({}, { [SECRET_ANNOTATION.certificateName]: 'web', [SECRET_ANNOTATION.certificateUid]: 'u-1' })).owner).toEqual({ name: 'web', uid: 'u-1' });
    expect(secretFacts(tlsSecret({}, { [SECRET_ANNOTATION.certificateName]: 'web' })).owner).toEqual({ name: 'web' });
    expect(secretFacts(tlsSecret({})).owner).toBeUndefined();
  });

  it('never parses an account key Secret\'s key, whatever its data', () => {
    const account: SecretObject = {
      metadata: { name: 'gts-account', namespace: 'apps', labels: { 'certkeeper.io/account-key': 'true' } },
      type: 'Opaque',
      data: { 'tls.key': b64(keyPem), 'tls.crt': b64(certPem) },
    };
    expect(secretFacts(account)).toEqual({ exists: true, type: 'Opaque', accountKey: true });
  });

  it('tells the type of a Secret that is not a TLS Secret', () => {
    expect(secretFacts({ metadata: { name: 'user-data', namespace: 'apps' }, type: 'Opaque', data: { config: b64('x') } })).toEqual({ exists: true, type: 'Opaque' });
  });

  it('reads validity, names, key type, key match, issuer and the ARI certID', () => {
    const facts = secretFacts(tlsSecret({ 'tls.crt': b64(certPem), 'tls.key': b64(keyPem) }, { [SECRET_ANNOTATION.issuerName]: 'gts' }));
    expect(facts.certificate).toMatchObject({
      notBefore: Date.parse('2026-01-01T00:00:00Z'), notAfter: Date.parse('2026-04-01T00:00:00Z'),
      dnsNames: ['www.example.com'], ipAddresses: ['192.0.2.1'], commonName: 'www.example.com', chainLength: 1,
      ariCertId: 'AQIDBAU.Cgs',
    });
    expect(facts.key).toEqual({ algorithm: 'ECDSA', size: 256, matchesCertificate: true });
    expect(facts.issuer).toEqual({ kind: 'Issuer', name: 'gts' });
    // Plain values only: nothing native (X509Certificate, KeyObject) is kept.
    expect(structuredClone(facts)).toEqual(facts);
  });

  it('notices a key that belongs to another certificate, and garbage', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(secretFacts(tlsSecret({ 'tls.crt': b64(certPem), 'tls.key': b64(other) })).key).toEqual({ algorithm: 'ECDSA', size: 384, matchesCertificate: false });
    const garbage = secretFacts(tlsSecret({ 'tls.crt': b64('not a certificate'), 'tls.key': b64('not a key') }));
    expect(garbage).toEqual({ exists: true, type: 'kubernetes.io/tls' });
  });
});

describe('reduceManagedSecret', () => {
  it('keeps the facts of a TLS Secret and none of its data or annotations', () => {
    const reduced = reduceManagedSecret(tlsSecret({ 'tls.crt': b64(certPem), 'tls.key': b64(keyPem) }));
    expect(reduced.metadata).toEqual({ name: 'web-tls', namespace: 'apps', resourceVersion: '42' });
    expect(reduced.tls?.key?.matchesCertificate).toBe(true);
    expect(JSON.stringify(reduced)).not.toContain(b64(keyPem).slice(0, 40));
    expect(reduced).not.toHaveProperty('data');
  });

  it('passes the strings thousands of Secrets repeat (namespace, type) through the interner, and nothing else', () => {
    const seen: string[] = [];
    const reduced = reduceManagedSecret(tlsSecret({ 'tls.crt': b64(certPem), 'tls.key': b64(keyPem) }), (value) => {
      seen.push(value);
      return value;
    });
    expect(seen).toEqual(['apps', 'kubernetes.io/tls']);
    expect(reduced.metadata.namespace).toBe('apps');
    expect(reduced.tls?.type).toBe('kubernetes.io/tls');
    const intern = interner();
    expect(intern('apps')).toBe('apps');
    expect(intern(['a', 'pps'].join(''))).toBe('apps');
  });

  it('keeps an account key Secret\'s labels and annotations (the EAB record), not its key', () => {
    const reduced = reduceManagedSecret({
      metadata: { name: 'gts-account', namespace: 'apps', resourceVersion: '7', labels: { 'certkeeper.io/account-key': 'true' }, annotations: { 'certkeeper.io/eab-key-id': 'kid-1' } },
      data: { 'tls.key': b64(keyPem) },
    });
    expect(reduced).toEqual({ metadata: { name: 'gts-account', namespace: 'apps', resourceVersion: '7', labels: { 'certkeeper.io/account-key': 'true' }, annotations: { 'certkeeper.io/eab-key-id': 'kid-1' } } });
  });

  it('keeps a next-key Secret\'s labels and annotations (the claim), not its key', () => {
    const metadata = { name: 'web-tls-next-key', namespace: 'apps', resourceVersion: '9', labels: { 'certkeeper.io/next-key': 'true' }, annotations: { [SECRET_ANNOTATION.certificateUid]: 'u-1' } };
    const reduced = reduceManagedSecret({ metadata, type: 'Opaque', data: { 'tls.key': b64(keyPem) } });
    expect(reduced).toEqual({ metadata });
  });
});
