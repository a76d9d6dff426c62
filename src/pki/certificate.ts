// Reading what a TLS Secret holds (without trusting it) and building CSRs.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { ariCertId, leafFactsFromDer, type LeafFacts } from './der.ts';

/**
 * What certkeeper needs to know about tls.crt: plain values, cheap to keep for
 * thousands of Secrets. Validity in milliseconds since the epoch (numbers:
 * these are cached for every TLS Secret, a Date costs ~90 bytes).
 */
export interface CertificateFacts extends Omit<LeafFacts, 'ariCertId' | 'extendedKeyUsages'> {
  chainLength: number;
  /** The leaf's ACME Renewal Information certID, when it has an authority key identifier. */
  ariCertId?: string;
  /** Extended key usages of the leaf, as bits (EKU in extendedKeyUsageBits): a number, cheap to cache. */
  extendedKeyUsage?: number;
}

/** The extended key usages certkeeper reports on, as bits of CertificateFacts.extendedKeyUsage. */
export const extendedKeyUsageBits = {
  'server auth': { bit: 1, oid: '1.3.6.1.5.5.7.3.1' },
  'client auth': { bit: 2, oid: '1.3.6.1.5.5.7.3.2' },
  'code signing': { bit: 4, oid: '1.3.6.1.5.5.7.3.3' },
  'email protection': { bit: 8, oid: '1.3.6.1.5.5.7.3.4' },
  timestamping: { bit: 16, oid: '1.3.6.1.5.5.7.3.8' },
  'ocsp signing': { bit: 32, oid: '1.3.6.1.5.5.7.3.9' },
} as const;

export interface ParsedCertificate extends CertificateFacts {
  /** The leaf's PEM block, first in tls.crt (for OpenSSL when the DER alone does not do). */
  leafPem: string;
  /** The leaf's DER. */
  leafDer: Buffer;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function splitPemChain(pem: string): string[] {
  return pem.match(PEM_CERT) ?? [];
}

function extendedKeyUsageOf(oids: string[]): number | undefined {
  let bits = 0;
  for (const oid of oids) {
    for (const usage of Object.values(extendedKeyUsageBits)) if (usage.oid === oid) bits |= usage.bit;
  }
  return bits || undefined;
}

/** Dotted text of an OID's DER content (for the extended key usages read from the DER). */
function oidText(bytes: Buffer): string {
  const parts = [Math.floor(bytes[0]! / 40), bytes[0]! % 40];
  let n = 0;
  for (const byte of bytes.subarray(1)) {
    n = n * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      parts.push(n);
      n = 0;
    }
  }
  return parts.join('.');
}

/**
 * Parses tls.crt; undefined when it holds no parseable certificate. The leaf's
 * facts come from its DER (src/pki/der.ts), or from OpenSSL (X509Certificate)
 * when the DER walk declines an unusual certificate.
 */
export function parseCertificateChain(pem: string): ParsedCertificate | undefined {
  const blocks = splitPemChain(pem);
  if (blocks.length === 0) return undefined;
  const leafPem = blocks[0]!;
  const body = leafPem.slice('-----BEGIN CERTIFICATE-----'.length, -'-----END CERTIFICATE-----'.length);
  const leafDer = Buffer.from(body, 'base64');
  const fromDer = leafFactsFromDer(leafDer);
  if (fromDer) {
    const extendedKeyUsage = extendedKeyUsageOf(fromDer.extendedKeyUsages.map(oidText));
    return {
      leafPem, leafDer, chainLength: blocks.length,
      notBefore: fromDer.notBefore, notAfter: fromDer.notAfter, dnsNames: fromDer.dnsNames, ipAddresses: fromDer.ipAddresses,
      commonName: fromDer.commonName, serialNumber: fromDer.serialNumber,
      ...(fromDer.ariCertId ? { ariCertId: fromDer.ariCertId } : {}),
      ...(extendedKeyUsage ? { extendedKeyUsage } : {}),
    };
  }
  return parseWithOpenSsl(leafPem, blocks.length);
}

/** The same facts read by OpenSSL, which prints its fields to strings (several times the DER walk's cost). */
export function parseWithOpenSsl(leafPem: string, chainLength: number): ParsedCertificate | undefined {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(leafPem);
  } catch {
    return undefined;
  }
  let dnsNames: string[] = [];
  let ipAddresses: string[] = [];
  for (const entry of (leaf.subjectAltName ?? '').split(', ')) {
    if (entry.startsWith('DNS:')) dnsNames.push(entry.slice(4));
    else if (entry.startsWith('IP Address:')) ipAddresses.push(entry.slice(11));
  }
  // Slices keep the whole subjectAltName string alive; facts are cached for
  // every TLS Secret, so store copies of just the names.
  [dnsNames, ipAddresses] = JSON.parse(JSON.stringify([dnsNames, ipAddresses])) as [string[], string[]];
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(leaf.subject)?.[1];
  const leafDer = leaf.raw;
  const certId = ariCertId(leafDer);
  const extendedKeyUsage = extendedKeyUsageOf(leaf.keyUsage ?? []);
  return {
    leafPem,
    leafDer,
    chainLength,
    notBefore: Date.parse(leaf.validFrom),
    notAfter: Date.parse(leaf.validTo),
    dnsNames,
    ipAddresses,
    commonName: cn,
    serialNumber: leaf.serialNumber,
    ...(certId ? { ariCertId: certId } : {}),
    ...(extendedKeyUsage ? { extendedKeyUsage } : {}),
  };
}

export function parsePrivateKey(pem: string): KeyObject | undefined {
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    return undefined;
  }
}

/** Subject fields a CSR can carry besides the common name (one value each: what acme-client writes). */
export interface CsrSubject {
  organization?: string;
  organizationUnit?: string;
  country?: string;
  state?: string;
  locality?: string;
}

/** A CSR for the names, signed by the key (acme-client builds it; no key usage or EKU is added: ACME CAs choose them). */
export async function createCsr(keyPem: string, names: { commonName?: string; dnsNames: string[]; ipAddresses: string[] }, subject: CsrSubject = {}): Promise<Buffer> {
  const altNames = [...names.dnsNames, ...names.ipAddresses];
  const { default: acme } = await import('acme-client');
  const [, csr] = await acme.crypto.createCsr({
    ...(names.commonName ? { commonName: names.commonName } : {}),
    ...subject,
    altNames,
  }, keyPem);
  return csr;
}
