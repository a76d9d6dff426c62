// Certificates certkeeper signs itself, for the selfSigned and ca issuers: the
// template → X.509 rules cert-manager follows, and the checks that say why a CA
// Secret cannot sign. @peculiar/x509 builds and signs on WebCrypto; node:crypto
// reads the PEM keys (PKCS#8, PKCS#1, SEC1) and the CA certificate.
import { createPrivateKey, createPublicKey, randomBytes, webcrypto, X509Certificate as NodeCertificate, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as never);

export interface CertificateTemplate {
  commonName?: string;
  subject?: {
    organizations?: string[]; countries?: string[]; organizationalUnits?: string[]; localities?: string[];
    provinces?: string[]; streetAddresses?: string[]; postalCodes?: string[]; serialNumber?: string;
  };
  dnsNames: string[]; ipAddresses: string[]; uris: string[]; emailAddresses: string[];
  isCA: boolean;
  /** cert-manager usage names (the KeyUsage enum in src/api/certificate.ts). Empty: digital signature, key encipherment, server auth. isCA adds cert sign. */
  usages?: string[];
  /** Lifetime in ms (default 90 days, cert-manager's 2160h). */
  durationMs?: number;
  crlDistributionPoints?: string[];
  ocspServers?: string[];
  issuingCertificateURLs?: string[];
}

/** Signer: 'self' signs with the subject's own key (self-signed); or a CA key pair. */
export type Signer = { kind: 'self' } | { kind: 'ca'; certificatePem: string; keyPem: string };

export interface SignedCertificate {
  /** tls.crt: the leaf, then (for a CA signer) the CA's chain as given, without duplicates. */
  chainPem: string;
  /** ca.crt: for 'self' the certificate itself; for 'ca' the last certificate of the CA's chain (its root). */
  caPem: string;
  /** As written in the certificate (whole seconds). */
  notBefore: Date;
  notAfter: Date;
}

export type CAKeyPairProblemReason = 'CAKeyPairMissing' | 'CAKeyPairInvalid' | 'NotACA' | 'CAExpired' | 'CAKeyMismatch';
export interface CAKeyPairProblem { reason: CAKeyPairProblemReason; message: string }

const DEFAULT_DURATION_MS = 2160 * 3600_000;
const DEFAULT_USAGES = ['digital signature', 'key encipherment', 'server auth'];
/**
 * A CA gets no extended key usage by default: verifiers such as Go's (the API server calling a
 * webhook) apply a CA's EKUs to every certificate below it, so server auth on a root would
 * refuse the client certificates it signs.
 */
const DEFAULT_CA_USAGES = ['digital signature', 'key encipherment', 'cert sign'];

const KEY_USAGE_FLAGS = new Map<string, x509.KeyUsageFlags>([
  ['signing', x509.KeyUsageFlags.digitalSignature],
  ['digital signature', x509.KeyUsageFlags.digitalSignature],
  ['content commitment', x509.KeyUsageFlags.nonRepudiation],
  ['key encipherment', x509.KeyUsageFlags.keyEncipherment],
  ['data encipherment', x509.KeyUsageFlags.dataEncipherment],
  ['key agreement', x509.KeyUsageFlags.keyAgreement],
  ['cert sign', x509.KeyUsageFlags.keyCertSign],
  ['crl sign', x509.KeyUsageFlags.cRLSign],
  ['encipher only', x509.KeyUsageFlags.encipherOnly],
  ['decipher only', x509.KeyUsageFlags.decipherOnly],
]);

const EXTENDED_KEY_USAGE_OIDS = new Map<string, string>([
  ['any', '2.5.29.37.0'],
  ['server auth', '1.3.6.1.5.5.7.3.1'],
  ['client auth', '1.3.6.1.5.5.7.3.2'],
  ['code signing', '1.3.6.1.5.5.7.3.3'],
  ['email protection', '1.3.6.1.5.5.7.3.4'],
  ['s/mime', '1.3.6.1.5.5.7.3.4'],
  ['ipsec end system', '1.3.6.1.5.5.7.3.5'],
  ['ipsec tunnel', '1.3.6.1.5.5.7.3.6'],
  ['ipsec user', '1.3.6.1.5.5.7.3.7'],
  ['timestamping', '1.3.6.1.5.5.7.3.8'],
  ['ocsp signing', '1.3.6.1.5.5.7.3.9'],
  ['microsoft sgc', '1.3.6.1.4.1.311.10.3.3'],
  ['netscape sgc', '2.16.840.1.113730.4.1'],
]);

/** Signs a certificate for the subject's key: self-signed, or by a CA whose key pair caKeyPairProblem accepts. */
export async function signCertificate(template: CertificateTemplate, subjectKeyPem: string, signer: Signer, now: Date): Promise<SignedCertificate> {
  const subjectKey = readPrivateKey(subjectKeyPem, 'the private key');
  if (!subjectKey.ok) throw new Error(subjectKey.problem);
  const subjectPublicKey = new Uint8Array(createPublicKey(subjectKey.key).export({ type: 'spki', format: 'der' }));

  let issuer: Issuer;
  if (signer.kind === 'self') {
    const signing = signingAlgorithmFor(subjectKey.key);
    if (typeof signing === 'string') throw new Error(`the private key ${signing}`);
    issuer = { kind: 'self', key: subjectKey.key, signing };
  } else {
    const pair = readCaKeyPair(signer.certificatePem, signer.keyPem, now);
    if (!pair.ok) throw new Error(pair.problem.message);
    issuer = { kind: 'ca', ...pair };
  }

  const subject = subjectName(template);
  const notBefore = now;
  const lifetime = template.durationMs ?? DEFAULT_DURATION_MS;
  if (!(lifetime > 0)) throw new Error(`the duration must be positive, not ${lifetime} ms`);
  let notAfter = new Date(now.getTime() + lifetime);
  if (issuer.kind === 'ca' && notAfter > issuer.chain[0].validToDate) notAfter = issuer.chain[0].validToDate;

  const subjectKeyIdentifier = await x509.SubjectKeyIdentifierExtension.create(subjectPublicKey);
  const caCertificate = issuer.kind === 'ca' ? new x509.X509Certificate(new Uint8Array(issuer.chain[0].raw)) : undefined;
  const authorityKeyIdentifier = caCertificate ? await authorityKeyIdentifierOf(caCertificate) : new x509.AuthorityKeyIdentifierExtension(subjectKeyIdentifier.keyId);

  const signingKey = await webcrypto.subtle.importKey(
    'pkcs8', issuer.key.export({ type: 'pkcs8', format: 'der' }), issuer.signing.importAlgorithm, false, ['sign'],
  );
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject,
    issuer: caCertificate ? caCertificate.subjectName : subject,
    notBefore,
    notAfter,
    publicKey: subjectPublicKey,
    signingKey: signingKey as never,
    signingAlgorithm: issuer.signing.signAlgorithm as never,
    extensions: [
      ...usageExtensions(template),
      new x509.BasicConstraintsExtension(template.isCA, undefined, true),
      subjectKeyIdentifier,
      authorityKeyIdentifier,
      ...accessExtensions(template, subject),
    ],
  });

  const leafPem = toPem(Buffer.from(certificate.rawData));
  const leaf = new NodeCertificate(leafPem);
  if (issuer.kind === 'self') return { chainPem: leafPem, caPem: leafPem, notBefore: leaf.validFromDate, notAfter: leaf.validToDate };
  const seen = new Set([leaf.raw.toString('base64')]);
  const chain = [leafPem];
  for (const ca of issuer.chain) {
    const der = ca.raw.toString('base64');
    if (seen.has(der)) continue;
    seen.add(der);
    chain.push(toPem(ca.raw));
  }
  return { chainPem: chain.join(''), caPem: toPem(issuer.chain.at(-1)!.raw), notBefore: leaf.validFromDate, notAfter: leaf.validToDate };
}

/** Why a CA Secret's tls.crt/tls.key cannot sign, in words a person can act on (never quoting key material), or undefined when usable. */
export function caKeyPairProblem(certificatePem: string | undefined, keyPem: string | undefined, now: Date): CAKeyPairProblem | undefined {
  const pair = readCaKeyPair(certificatePem, keyPem, now);
  return pair.ok ? undefined : pair.problem;
}

interface SigningAlgorithm {
  importAlgorithm: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams | webcrypto.Algorithm;
  signAlgorithm: webcrypto.RsaHashedImportParams | webcrypto.EcdsaParams | webcrypto.Algorithm;
}
type Issuer =
  | { kind: 'self'; key: KeyObject; signing: SigningAlgorithm }
  | { kind: 'ca'; key: KeyObject; signing: SigningAlgorithm; chain: [NodeCertificate, ...NodeCertificate[]] };
type CaKeyPair =
  | { ok: true; key: KeyObject; signing: SigningAlgorithm; chain: [NodeCertificate, ...NodeCertificate[]] }
  | { ok: false; problem: CAKeyPairProblem };

/** The checks in the order a person fixes them: present, parsable, a CA, still valid, the key belongs to it. */
function readCaKeyPair(certificatePem: string | undefined, keyPem: string | undefined, now: Date): CaKeyPair {
  const fail = (reason: CAKeyPairProblemReason, message: string): CaKeyPair => ({ ok: false, problem: { reason, message } });
  const missing = [!certificatePem?.trim() && 'tls.crt', !keyPem?.trim() && 'tls.key'].filter((file) => file !== false);
  if (missing.length > 0) return fail('CAKeyPairMissing', `the CA Secret has no ${missing.join(' and no ')}`);

  const chain = readCertificateChain(certificatePem!);
  if (!chain.ok) return fail('CAKeyPairInvalid', chain.problem);
  const key = readPrivateKey(keyPem!, 'tls.key');
  if (!key.ok) return fail('CAKeyPairInvalid', key.problem);
  const signing = signingAlgorithmFor(key.key);
  if (typeof signing === 'string') return fail('CAKeyPairInvalid', `tls.key ${signing}`);

  const [ca] = chain.chain;
  if (!ca.ca) return fail('NotACA', `the first certificate in tls.crt (subject "${oneLine(ca.subject)}") is not a CA: its basic constraints do not say cA=true`);
  if (ca.validToDate.getTime() <= now.getTime()) return fail('CAExpired', `the CA certificate in tls.crt expired at ${ca.validToDate.toISOString()}`);
  if (!ca.checkPrivateKey(key.key)) return fail('CAKeyMismatch', 'tls.key is not the private key of the first certificate in tls.crt');
  return { ok: true, key: key.key, signing, chain: chain.chain };
}

function readCertificateChain(pem: string): { ok: true; chain: [NodeCertificate, ...NodeCertificate[]] } | { ok: false; problem: string } {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return { ok: false, problem: 'tls.crt holds no PEM certificate' };
  const chain: NodeCertificate[] = [];
  for (const [index, block] of blocks.entries()) {
    try {
      chain.push(new NodeCertificate(block));
    } catch {
      return { ok: false, problem: `certificate ${index + 1} in tls.crt is not a valid X.509 certificate` };
    }
  }
  return { ok: true, chain: chain as [NodeCertificate, ...NodeCertificate[]] };
}

function readPrivateKey(pem: string, file: string): { ok: true; key: KeyObject } | { ok: false; problem: string } {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) return { ok: false, problem: `${file} holds no PEM private key` };
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem)) return { ok: false, problem: `${file} holds an encrypted private key; it must be unencrypted` };
  try {
    return { ok: true, key: createPrivateKey({ key: pem, format: 'pem' }) };
  } catch {
    return { ok: false, problem: `${file} holds a PEM block that is not a valid private key` };
  }
}

/** The signature algorithm Go's x509 picks for a signer key (cert-manager signs with it); a string says why the key cannot sign. */
function signingAlgorithmFor(key: KeyObject): SigningAlgorithm | string {
  const unsupported = 'must be RSA, ECDSA (P-256, P-384 or P-521) or Ed25519';
  switch (key.asymmetricKeyType) {
    case 'rsa': {
      const rsa = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
      return { importAlgorithm: rsa, signAlgorithm: rsa };
    }
    case 'ec': {
      const curve = EC_CURVES.get(key.asymmetricKeyDetails?.namedCurve ?? '');
      if (!curve) return `holds an ECDSA key on curve ${key.asymmetricKeyDetails?.namedCurve ?? 'unknown'}; it ${unsupported}`;
      return { importAlgorithm: { name: 'ECDSA', namedCurve: curve.name }, signAlgorithm: { name: 'ECDSA', hash: curve.hash } };
    }
    case 'ed25519':
      return { importAlgorithm: { name: 'Ed25519' }, signAlgorithm: { name: 'Ed25519' } };
    default:
      return `holds a ${key.asymmetricKeyType ?? 'unknown'} key; it ${unsupported}`;
  }
}

const EC_CURVES = new Map([
  ['prime256v1', { name: 'P-256', hash: 'SHA-256' }],
  ['secp384r1', { name: 'P-384', hash: 'SHA-384' }],
  ['secp521r1', { name: 'P-521', hash: 'SHA-512' }],
]);

const ATTRIBUTE_OIDS = {
  country: '2.5.4.6', province: '2.5.4.8', locality: '2.5.4.7', streetAddress: '2.5.4.9', postalCode: '2.5.4.17',
  organization: '2.5.4.10', organizationalUnit: '2.5.4.11', commonName: '2.5.4.3', serialNumber: '2.5.4.5',
};

/**
 * The subject in Go's order (C, ST, L, street, postalCode, O, OU, CN, serialNumber),
 * one RDN per value; PrintableString when the value allows it, else UTF8String.
 * Values are passed as typed strings so nothing in them is read as DN syntax.
 */
function subjectName(template: CertificateTemplate): x509.Name {
  const s = template.subject ?? {};
  const attributes: [string, string[] | undefined][] = [
    [ATTRIBUTE_OIDS.country, s.countries],
    [ATTRIBUTE_OIDS.province, s.provinces],
    [ATTRIBUTE_OIDS.locality, s.localities],
    [ATTRIBUTE_OIDS.streetAddress, s.streetAddresses],
    [ATTRIBUTE_OIDS.postalCode, s.postalCodes],
    [ATTRIBUTE_OIDS.organization, s.organizations],
    [ATTRIBUTE_OIDS.organizationalUnit, s.organizationalUnits],
    [ATTRIBUTE_OIDS.commonName, template.commonName ? [template.commonName] : undefined],
    [ATTRIBUTE_OIDS.serialNumber, s.serialNumber ? [s.serialNumber] : undefined],
  ];
  const rdns = attributes.flatMap(([oid, values]) => (values ?? []).filter((value) => value !== '').map((value) => ({
    [oid]: [x509.Name.isPrintableString(value) ? { printableString: value } : { utf8String: value }],
  })));
  return new x509.Name(rdns);
}

function usageExtensions(template: CertificateTemplate): x509.Extension[] {
  const usages = template.usages && template.usages.length > 0 ? template.usages : template.isCA ? DEFAULT_CA_USAGES : DEFAULT_USAGES;
  let keyUsage = template.isCA ? x509.KeyUsageFlags.keyCertSign : 0;
  const extended = new Set<string>();
  for (const usage of usages) {
    const flag = KEY_USAGE_FLAGS.get(usage);
    const oid = EXTENDED_KEY_USAGE_OIDS.get(usage);
    if (flag !== undefined) keyUsage |= flag;
    else if (oid !== undefined) extended.add(oid);
    else throw new Error(`unknown usage "${usage}"`);
  }
  return [
    ...(keyUsage !== 0 ? [new x509.KeyUsagesExtension(keyUsage, true)] : []),
    ...(extended.size > 0 ? [new x509.ExtendedKeyUsageExtension([...extended])] : []),
  ];
}

/** AIA, SAN and CRL distribution points, when asked; the SAN is critical when the subject is empty (RFC 5280 4.2.1.6). */
function accessExtensions(template: CertificateTemplate, subject: x509.Name): x509.Extension[] {
  const extensions: x509.Extension[] = [];
  const ocsp = template.ocspServers ?? [];
  const caIssuers = template.issuingCertificateURLs ?? [];
  if (ocsp.length > 0 || caIssuers.length > 0) extensions.push(new x509.AuthorityInfoAccessExtension({ ocsp, caIssuers }));
  const names: x509.JsonGeneralName[] = [
    ...template.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...template.emailAddresses.map((value) => ({ type: 'email' as const, value })),
    ...template.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
    ...template.uris.map((value) => ({ type: 'url' as const, value })),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, subject.toJSON().length === 0));
  const crl = template.crlDistributionPoints ?? [];
  if (crl.length > 0) extensions.push(new x509.CRLDistributionPointsExtension(crl));
  return extensions;
}

/** The CA's own subject key identifier; computed from its public key when the CA certificate has none. */
async function authorityKeyIdentifierOf(ca: x509.X509Certificate): Promise<x509.AuthorityKeyIdentifierExtension> {
  const ski = ca.getExtension(x509.SubjectKeyIdentifierExtension);
  return ski ? new x509.AuthorityKeyIdentifierExtension(ski.keyId) : x509.AuthorityKeyIdentifierExtension.create(ca.publicKey);
}

/** 128 random bits, positive as DER reads it: the first byte is 0x01–0x7f. */
function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = 1 + (bytes[0]! % 0x7f);
  return bytes.toString('hex');
}

function toPem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}

function oneLine(text: string): string {
  return text.replace(/\n/g, ', ');
}
