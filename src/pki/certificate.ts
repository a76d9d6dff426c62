// Reading what a TLS Secret holds (without trusting it) and building CSRs.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { ariCertId } from './der.ts';

/** What certkeeper needs to know about tls.crt: plain values, cheap to keep for thousands of Secrets. */
export interface CertificateFacts {
  chainLength: number;
  /** Validity, in milliseconds since the epoch (numbers: these are cached for every TLS Secret, a Date costs ~90 bytes). */
  notBefore: number;
  notAfter: number;
  dnsNames: string[];
  ipAddresses: string[];
  commonName: string | undefined;
  serialNumber: string;
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
  /** The leaf, first in tls.crt (holds native memory: use it and let it go). */
  leaf: X509Certificate;
  /** The leaf's DER (X509Certificate.raw copies it on every call). */
  leafDer: Buffer;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function splitPemChain(pem: string): string[] {
  return pem.match(PEM_CERT) ?? [];
}

/** Parses tls.crt; undefined when it holds no parseable certificate. */
export function parseCertificateChain(pem: string): ParsedCertificate | undefined {
  const blocks = splitPemChain(pem);
  if (blocks.length === 0) return undefined;
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(blocks[0]!);
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
  let extendedKeyUsage = 0;
  for (const oid of leaf.keyUsage ?? []) {
    for (const usage of Object.values(extendedKeyUsageBits)) if (usage.oid === oid) extendedKeyUsage |= usage.bit;
  }
  return {
    leaf,
    leafDer,
    chainLength: blocks.length,
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
