// Certificate: what a user asks for (names, key, issuer, Secret) and what
// certkeeper reports back. Field names follow cert-manager where the meaning
// is the same. One zod schema feeds the types, runtime parsing and the CRD.
import { z } from 'zod';
import type { ResourceType } from '../kube/client.ts';
import { Condition, GROUP, ObjectMeta, SecretName, VERSION } from './meta.ts';

/** Where the API server serves Certificates: the one definition the controllers and the shim use. */
export const certificates: ResourceType = { group: GROUP, version: VERSION, plural: 'certificates', namespaced: true };

/** Go-style durations as cert-manager uses them: "2160h", "720h30m", "90s". */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(h|m|s|ms))+$';

export const CertificatePrivateKey = z.object({
  algorithm: z.enum(['ECDSA', 'RSA']).default('ECDSA').describe('ECDSA (default) or RSA.'),
  size: z.int().optional().describe('2048, 3072 or 4096 for RSA (default 2048); 256 or 384 for ECDSA (default 256).'),
  rotationPolicy: z.enum(['Always', 'Never']).default('Always').describe('Always (default): a new key for every issuance. Never: reuse the key in the Secret while it matches algorithm and size.'),
  encoding: z.enum(['PKCS1', 'PKCS8']).optional().describe('How tls.key is written: PKCS8 (certkeeper\'s default, "BEGIN PRIVATE KEY") or PKCS1 (cert-manager\'s default: "BEGIN RSA PRIVATE KEY", or SEC1 "BEGIN EC PRIVATE KEY" for ECDSA).'),
}).meta({
  'x-kubernetes-validations': [
    { rule: '!has(self.size) || (self.algorithm == "RSA" ? self.size in [2048, 3072, 4096] : self.size in [256, 384])', message: 'size must be 2048, 3072 or 4096 for RSA and 256 or 384 for ECDSA' },
  ],
});

/**
 * An RFC 1123 host name as ACME CAs accept it: lower-case letters, digits and
 * hyphens, labels of 1 to 63 characters that neither start nor end with a
 * hyphen, joined by single dots, optionally after a leading `*.`. RE2 and
 * JavaScript read it the same (no lookarounds, no backslashes to escape in a
 * CEL string), so the API server's rule and
 * the operator's check (checks.ts) are one pattern. At most 253 characters.
 */
export const DNS_NAME_PATTERN = '^([*][.])?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?([.][a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$';
export const DNS_NAME_MAX_LENGTH = 253;
/** Let's Encrypt and GTS allow 100 names per certificate; the bound also keeps the API server's rule cost low. */
export const MAX_NAMES = 100;

/**
 * A DNS name. The API server checks it (maxLength and the CEL rules below);
 * zod does not, so an object stored before these rules existed still parses
 * and the operator reports it with reason InvalidName (checks.ts), with the
 * punycode form of a Unicode name, before anything is ordered.
 */
export const DnsName = z.string().min(1).meta({
  maxLength: DNS_NAME_MAX_LENGTH,
  'x-kubernetes-validations': [
    { rule: "self.matches('^[[:ascii:]]*$')", message: 'must be ASCII: write an internationalized name in its punycode form (xn--...)' },
    { rule: `!self.matches('^[[:ascii:]]*$') || self.matches('${DNS_NAME_PATTERN}')`, message: 'must be a lower-case DNS name (RFC 1123): labels of 1 to 63 letters, digits or hyphens, not starting or ending with a hyphen, separated by single dots, optionally after a leading *.' },
  ],
});

/** An IPv4 or IPv6 address: the API server checks the format; the operator checks again with node:net. */
export const IpAddress = z.string().min(1).meta({ anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] });

/**
 * cert-manager's usages, accepted as it spells them. ACME CAs choose the key
 * usages by profile and ignore what a CSR asks; certkeeper puts none in the CSR
 * and reports, after issuance, any asked-for usage the certificate lacks.
 */
export const KeyUsage = z.enum([
  'signing', 'digital signature', 'content commitment', 'key encipherment', 'key agreement', 'data encipherment',
  'cert sign', 'crl sign', 'encipher only', 'decipher only', 'any', 'server auth', 'client auth', 'code signing',
  'email protection', 's/mime', 'ipsec end system', 'ipsec tunnel', 'ipsec user', 'timestamping', 'ocsp signing',
  'microsoft sgc', 'netscape sgc',
]);

const SecretPasswordRef = z.object({
  name: SecretName.describe('Name of the Secret in the Certificate\'s namespace.'),
  key: z.string().min(1).describe('Key in that Secret holding the password.'),
}).describe('The Secret entry holding the keystore password.');

const KeystoreFields = {
  create: z.boolean().describe('Write the keystore into the Secret.'),
  passwordSecretRef: SecretPasswordRef.optional(),
  password: z.string().optional().describe('The password itself (cert-manager\'s literal form); prefer passwordSecretRef.'),
};
const keystorePasswordRule = { rule: '!self.create || has(self.passwordSecretRef) != has(self.password)', message: 'give exactly one of passwordSecretRef or password' };

export const Keystores = z.object({
  pkcs12: z.object({
    ...KeystoreFields,
    profile: z.enum(['LegacyRC2', 'LegacyDES', 'Modern2023']).optional().describe('Encryption profile. certkeeper writes Modern2023 (AES-256, PBKDF2-SHA256, HMAC-SHA256) whatever is asked; the legacy ones are accepted and reported.'),
  }).meta({ 'x-kubernetes-validations': [keystorePasswordRule] }).optional().describe('keystore.p12: the key and the chain in a password-protected PKCS#12 file.'),
  jks: z.object({
    ...KeystoreFields,
    alias: z.string().optional().describe('Alias of the key entry (default "certificate").'),
  }).meta({ 'x-kubernetes-validations': [keystorePasswordRule] }).optional().describe('keystore.jks for Java: written in the PKCS#12 format, which Java\'s JKS KeyStore type reads (Java 8u60 and later).'),
}).describe('Keystores for Java and other consumers, written into the Secret with the certificate.');

export const CertificateSubject = z.object({
  organizations: z.array(z.string()).optional().describe('O: the first is sent.'),
  countries: z.array(z.string()).optional().describe('C: the first is sent.'),
  organizationalUnits: z.array(z.string()).optional().describe('OU: the first is sent.'),
  localities: z.array(z.string()).optional().describe('L: the first is sent.'),
  provinces: z.array(z.string()).optional().describe('ST: the first is sent.'),
  streetAddresses: z.array(z.string()).optional().describe('street: written by selfSigned and ca issuers; not sent to ACME CAs (reported).'),
  postalCodes: z.array(z.string()).optional().describe('postalCode: written by selfSigned and ca issuers; not sent to ACME CAs (reported).'),
  serialNumber: z.string().optional().describe('serialNumber: written by selfSigned and ca issuers; not sent to ACME CAs (reported).'),
}).describe('Subject fields. selfSigned and ca issuers write them all. ACME CAs (GTS, Let\'s Encrypt) drop every subject field but the common name; certkeeper sends the first organization, country, unit, locality and province and says so.');

export const CertificateSpec = z.object({
  secretName: SecretName.describe('The kubernetes.io/tls Secret to write (tls.crt, tls.key) in the Certificate\'s namespace.'),
  secretTemplate: z.object({
    labels: z.record(z.string(), z.string()).optional().describe('Labels to put on the Secret.'),
    annotations: z.record(z.string(), z.string()).optional().describe('Annotations to put on the Secret.'),
  }).optional().describe('Labels and annotations copied onto the Secret.'),
  issuerRef: z.object({
    name: z.string().min(1).describe('Name of the Issuer or ClusterIssuer.'),
    kind: z.enum(['Issuer', 'ClusterIssuer']).default('Issuer').describe('Issuer (default, same namespace) or ClusterIssuer.'),
    group: z.string().optional().describe('certkeeper.io (the only group served; present for cert-manager compatibility).'),
  }).describe('The issuer that obtains the certificate.'),
  commonName: z.string().max(64).optional().describe('Subject common name; must also be one of dnsNames for most CAs.'),
  dnsNames: z.array(DnsName).max(MAX_NAMES).optional().describe('DNS names (wildcards like *.example.com need a DNS-01 solver).'),
  ipAddresses: z.array(IpAddress).max(MAX_NAMES).optional().describe('IP addresses (the CA must support IP identifiers).'),
  duration: z.string().regex(new RegExp(DURATION_PATTERN)).optional().describe('Requested lifetime, e.g. 2160h (the default for selfSigned and ca issuers; a ca issuer never signs past its own expiry). ACME CAs decide the lifetime (see profile) unless the issuer sets enableDurationFeature.'),
  renewBefore: z.string().regex(new RegExp(DURATION_PATTERN)).optional().describe('Renew this long before expiry (e.g. 720h). Default: when two thirds of the lifetime have passed, or the CA\'s renewal window (ARI).'),
  privateKey: CertificatePrivateKey.optional().describe('The certificate\'s private key.'),
  usages: z.array(KeyUsage).optional().describe('Key usages. Default: digital signature, key encipherment, server auth; with isCA: digital signature, key encipherment, cert sign (no extended usage, which would bind every certificate below the CA). selfSigned and ca issuers write exactly these; ACME CAs choose by profile (no client auth unless asked: Google Trust Services rejects it).'),
  profile: z.string().optional().describe('ACME profile to request (e.g. GTS "standard" or "minimal"), when the CA offers profiles.'),
  preferredChain: z.string().optional().describe('Common name of the root of the chain to prefer when the CA offers alternates.'),
  subject: CertificateSubject.optional(),
  literalSubject: z.string().optional().describe('cert-manager\'s RFC 4514 subject. Accepted and reported: certkeeper builds the subject from commonName and subject, and ACME CAs keep only the common name anyway.'),
  isCA: z.boolean().optional().describe('A CA certificate (basic constraints cA, key usage cert sign): selfSigned and ca issuers only (a selfSigned one is a root for a ca issuer). ACME CAs issue leaf certificates only: refused for them.'),
  uris: z.array(z.string()).max(MAX_NAMES).optional().describe('URI subject alternative names (SPIFFE IDs, say): selfSigned and ca issuers only; refused for ACME issuers.'),
  emailAddresses: z.array(z.string()).max(MAX_NAMES).optional().describe('Email subject alternative names: selfSigned and ca issuers only; refused for ACME issuers.'),
  otherNames: z.array(z.object({ oid: z.string().optional().describe('OID of the name.'), utf8Value: z.string().optional().describe('Its value.') })).optional().describe('Refused: certkeeper does not write otherName subject alternative names.'),
  keystores: Keystores.optional(),
  additionalOutputFormats: z.array(z.object({
    type: z.enum(['CombinedPEM', 'DER']).describe('CombinedPEM: tls-combined.pem (key, then chain). DER: key.der (the key in PKCS#8 DER).'),
  })).optional().describe('More files in the Secret, as cert-manager writes them.'),
  renewBeforePercentage: z.int().min(1).max(99).optional().describe('Renew when this share of the lifetime remains (e.g. 33); exclusive with renewBefore.'),
  revisionHistoryLimit: z.int().min(1).optional().describe('Accepted for cert-manager manifests; no effect: certkeeper keeps no CertificateRequests.'),
  encodeUsagesInRequest: z.boolean().optional().describe('Accepted for cert-manager manifests; certkeeper never encodes usages in the CSR (ACME CAs choose them).'),
  signatureAlgorithm: z.enum(['SHA256WithRSA', 'SHA384WithRSA', 'SHA512WithRSA', 'ECDSAWithSHA256', 'ECDSAWithSHA384', 'ECDSAWithSHA512', 'PureEd25519']).optional()
    .describe('Accepted for cert-manager manifests; no effect on the certificate: an ACME CA signs with its own key and algorithm, and the CSR\'s signature (SHA-256, SHA-384 for P-384 keys) only proves possession of the key.'),
  renewal: z.object({
    policy: z.enum(['Disabled', 'RenewBefore']).optional().describe('cert-manager\'s renewal policy.'),
    windows: z.array(z.object({
      cron: z.string().describe('When a window opens (5-field cron).'),
      timezone: z.string().optional().describe('IANA time zone of cron (default UTC).'),
      windowDuration: z.string().optional().describe('How long each window stays open.'),
    })).max(16).optional().describe('Renewal windows.'),
  }).optional().describe('cert-manager\'s renewal windows. Accepted so cert-manager manifests apply, and NOT applied: certkeeper renews at renewBefore (or two thirds of the lifetime, or inside the CA\'s ARI window), and the Ready message says so.'),
  nameConstraints: z.looseObject({}).meta({ 'x-kubernetes-preserve-unknown-fields': true }).optional().describe('Refused: name constraints belong to CA certificates, and ACME CAs issue leaf certificates only.'),
}).meta({
  'x-kubernetes-validations': [
    { rule: '!has(self.otherNames)', message: 'otherNames cannot be requested: certkeeper does not write otherName subject alternative names' },
    { rule: '!has(self.nameConstraints)', message: 'nameConstraints cannot be requested: certkeeper does not write name constraints into CA certificates' },
    { rule: '!(has(self.renewBefore) && has(self.renewBeforePercentage))', message: 'renewBefore and renewBeforePercentage are mutually exclusive' },
    { rule: '!(has(self.literalSubject) && (has(self.subject) || has(self.commonName)))', message: 'literalSubject is exclusive with subject and commonName' },
    { rule: 'has(self.commonName) || (has(self.dnsNames) && size(self.dnsNames) > 0) || (has(self.ipAddresses) && size(self.ipAddresses) > 0) || (has(self.uris) && size(self.uris) > 0) || (has(self.emailAddresses) && size(self.emailAddresses) > 0)', message: 'at least one of commonName, dnsNames, ipAddresses, uris or emailAddresses is required' },
  ],
}).describe('The certificate to obtain and keep valid.');
export type CertificateSpec = z.infer<typeof CertificateSpec>;

export const AuthorizationStatus = z.object({
  identifier: z.string().describe('The DNS name or IP address.'),
  url: z.string().describe('The ACME authorization URL.'),
  challengeType: z.string().optional().describe('http-01 or dns-01.'),
  token: z.string().optional().describe('The challenge token (public: it is served over HTTP).'),
  state: z.string().describe('pending, valid, invalid, ...'),
});

export const OrderStatus = z.object({
  url: z.string().describe('The ACME order URL; a restart resumes this order.'),
  state: z.string().describe('pending, ready, processing, valid or invalid.'),
  revision: z.int().describe('The Certificate revision this order is for.'),
  requestHash: z.string().describe('Hash of the names, issuer and profile the order was opened for.'),
  authorizations: z.array(AuthorizationStatus).optional().describe('Each identifier\'s authorization.'),
  certificateUrl: z.string().optional().describe('Where the CA serves the issued certificate, once the order is valid: a failed Secret write or a restart downloads it from here instead of ordering again.'),
}).describe('The ACME order in progress.');
export type OrderStatus = z.infer<typeof OrderStatus>;

export const CertificateStatus = z.object({
  observedGeneration: z.int().optional().describe('The metadata.generation this status was computed for.'),
  conditions: z.array(Condition).optional().describe('Ready: the Secret holds a valid certificate for the spec. Issuing: an issuance is in progress, and why.'),
  notBefore: z.string().optional().describe('Start of the current certificate\'s validity.'),
  notAfter: z.string().optional().describe('End of the current certificate\'s validity.'),
  renewalTime: z.string().optional().describe('When certkeeper will renew.'),
  revision: z.int().optional().describe('Incremented at each issuance.'),
  order: OrderStatus.optional(),
  lastFailureTime: z.string().optional().describe('When the last issuance attempt failed.'),
  failedIssuanceAttempts: z.int().optional().describe('Consecutive failed issuance attempts (reset on success); sets the backoff.'),
}).describe('What certkeeper observed and is doing.');
export type CertificateStatus = z.infer<typeof CertificateStatus>;

export const Certificate = z.object({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: ObjectMeta,
  spec: CertificateSpec,
  status: CertificateStatus.optional(),
});
export type Certificate = z.infer<typeof Certificate>;

/** Parses "1h30m", "90s", "2160h" into milliseconds. */
export function parseDuration(text: string): number {
  const re = /([0-9]+(?:\.[0-9]+)?)(h|ms|m|s)/g;
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
  let total = 0;
  let consumed = 0;
  for (const match of text.matchAll(re)) {
    total += Number(match[1]) * unit[match[2]!]!;
    consumed += match[0].length;
  }
  if (consumed !== text.length || consumed === 0) throw new Error(`invalid duration "${text}"`);
  return total;
}
