// What a TLS Secret holds, reduced to plain facts: parsed once when the Secret
// changes (not on every sync), without trusting its content, and without
// keeping key material or native X509 objects in memory.
import { LABEL_ACCOUNT_KEY } from '../../api/meta.ts';
import { X509Certificate, type KeyObject } from 'node:crypto';
import type { KubeObject } from '../../kube/client.ts';
import { parseCertificateChain, parsePrivateKey } from '../../pki/certificate.ts';
import { keyFactsFromDer } from '../../pki/der.ts';
import type { SecretFacts } from './checks.ts';

/** Annotations certkeeper writes on the TLS Secret. */
export const SECRET_ANNOTATION = {
  /** With certificateUid: the Certificate that owns the Secret (the only one that may write it). */
  certificateName: 'certkeeper.io/certificate-name',
  certificateUid: 'certkeeper.io/certificate-uid',
  issuerName: 'certkeeper.io/issuer-name',
  issuerKind: 'certkeeper.io/issuer-kind',
  altNames: 'certkeeper.io/alt-names',
  commonName: 'certkeeper.io/common-name',
  ipSans: 'certkeeper.io/ip-sans',
  issuerGroup: 'certkeeper.io/issuer-group',
  /** The renew request (certkeeper renew) the certificate in this Secret answered. */
  renewRequest: 'certkeeper.io/renew-request',
  /** Where the keystores' passwords came from when they were written (outputs.ts keystorePasswordSource). */
  keystorePasswordSource: 'certkeeper.io/keystore-password-source',
  /** selfSigned and ca issuers: digest of what was signed beyond the names (checks.ts signedRequestDigest). */
  signedRequest: 'certkeeper.io/signed-request',
} as const;

/**
 * The informational annotations cert-manager puts on its TLS Secrets, which
 * tools read (kube-state-metrics configurations, reflector, dashboards). With
 * --secret-annotations-cert-manager certkeeper writes them too, with the same
 * values as its own.
 */
export const CERT_MANAGER_SECRET_ANNOTATION = {
  certificateName: 'cert-manager.io/certificate-name',
  issuerName: 'cert-manager.io/issuer-name',
  issuerKind: 'cert-manager.io/issuer-kind',
  issuerGroup: 'cert-manager.io/issuer-group',
  commonName: 'cert-manager.io/common-name',
  altNames: 'cert-manager.io/alt-names',
  ipSans: 'cert-manager.io/ip-sans',
  uriSans: 'cert-manager.io/uri-sans',
} as const;

export interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

/** The data keys certkeeper writes besides tls.crt and tls.key (cert-manager's names). */
export const OUTPUT_KEYS = new Set(['keystore.p12', 'keystore.jks', 'tls-combined.pem', 'key.der']);

const CURVE_BITS: Record<string, number> = { prime256v1: 256, secp384r1: 384, secp521r1: 521 };

/** Who wrote the Secret, as its ownership annotations say (undefined: no certkeeper mark). */
export function ownerMark(annotations: Record<string, string> | undefined): SecretFacts['owner'] {
  const name = annotations?.[SECRET_ANNOTATION.certificateName] || undefined;
  const uid = annotations?.[SECRET_ANNOTATION.certificateUid] || undefined;
  return name || uid ? { ...(name ? { name } : {}), ...(uid ? { uid } : {}) } : undefined;
}

const PEM_BLOCK = /-----BEGIN ([A-Z ]+)-----([\s\S]+?)-----END \1-----/;

/**
 * The key's type, size and whether it belongs to the certificate: read from
 * the DER when it is a plain PKCS#8, SEC 1 or PKCS#1 key (src/pki/der.ts),
 * else loaded into OpenSSL (an EC key without its public key, an encrypted or
 * garbled one: then no facts).
 */
function privateKeyFacts(keyPem: string, parsed: ReturnType<typeof parseCertificateChain>): SecretFacts['key'] {
  const block = PEM_BLOCK.exec(keyPem);
  const fromDer = block ? keyFactsFromDer(Buffer.from(block[2]!, 'base64'), block[1]!, parsed?.leafDer) : undefined;
  if (fromDer) return fromDer;
  const key = parsePrivateKey(keyPem);
  if (!key || (key.asymmetricKeyType !== 'ec' && key.asymmetricKeyType !== 'rsa')) return undefined;
  return {
    algorithm: key.asymmetricKeyType === 'ec' ? 'ECDSA' : 'RSA',
    size: key.asymmetricKeyType === 'ec'
      ? CURVE_BITS[key.asymmetricKeyDetails?.namedCurve ?? ''] ?? 0
      : key.asymmetricKeyDetails?.modulusLength ?? 0,
    matchesCertificate: parsed ? matchesLeaf(parsed.leafPem, key) : false,
  };
}

function matchesLeaf(leafPem: string, key: KeyObject): boolean {
  try {
    return new X509Certificate(leafPem).checkPrivateKey(key);
  } catch {
    return false;
  }
}

export function secretFacts(secret: SecretObject | undefined): SecretFacts {
  if (!secret) return { exists: false };
  const type = secret.type || undefined;
  // An ACME account key is never parsed as a certificate key, nor read for one.
  if (secret.metadata.labels?.[LABEL_ACCOUNT_KEY] === 'true') return { exists: true, type, accountKey: true };
  const crt = secret.data?.['tls.crt'] ? Buffer.from(secret.data['tls.crt'], 'base64').toString('utf8') : '';
  const keyPem = secret.data?.['tls.key'] ? Buffer.from(secret.data['tls.key'], 'base64').toString('utf8') : '';
  const parsed = crt ? parseCertificateChain(crt) : undefined;
  const annotations = secret.metadata.annotations ?? {};
  const issuerName = annotations[SECRET_ANNOTATION.issuerName];
  // Facts are cached for every TLS Secret: objects written out field by field
  // share one V8 shape with their fields inside (spreads and rest copies each
  // get an extra properties array).
  const certificate: SecretFacts['certificate'] = parsed
    ? {
      chainLength: parsed.chainLength, notBefore: parsed.notBefore, notAfter: parsed.notAfter, dnsNames: parsed.dnsNames,
      ipAddresses: parsed.ipAddresses, commonName: parsed.commonName, serialNumber: parsed.serialNumber,
      ariCertId: parsed.ariCertId, extendedKeyUsage: parsed.extendedKeyUsage,
    }
    : undefined;
  // The extra outputs certkeeper writes that are present, as one short string: compared, never parsed.
  const outputs = Object.keys(secret.data ?? {}).filter((k) => OUTPUT_KEYS.has(k)).sort().join(',');
  const keyFacts = keyPem ? privateKeyFacts(keyPem, parsed) : undefined;
  return {
    exists: true,
    type,
    owner: ownerMark(annotations),
    renewRequest: annotations[SECRET_ANNOTATION.renewRequest] || undefined,
    outputs: outputs || undefined,
    keystorePasswordSource: annotations[SECRET_ANNOTATION.keystorePasswordSource] || undefined,
    signedRequest: annotations[SECRET_ANNOTATION.signedRequest] || undefined,
    // Only the non-default encoding is kept (most Secrets carry nothing extra in the cache).
    keyEncoding: /^-----BEGIN (RSA|EC) PRIVATE KEY-----/.test(keyPem) ? 'PKCS1' : undefined,
    certificate,
    key: keyFacts,
    issuer: issuerName ? { kind: annotations[SECRET_ANNOTATION.issuerKind] ?? 'Issuer', name: issuerName } : undefined,
  };
}
