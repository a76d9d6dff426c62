// Just enough DER to read two fields Node's X509Certificate does not expose:
// the serial number's encoded bytes and the authority key identifier, which
// together name a certificate for ACME Renewal Information (RFC 9773 §4.1).
// A few lines of TLV walking instead of a full ASN.1 library at run time.

interface Tlv {
  tag: number;
  /** Where the value starts and ends in the buffer. */
  start: number;
  end: number;
}

/** One TLV at `offset`; throws on truncated or indefinite-length input. */
function readTlv(der: Uint8Array, offset: number, limit: number): Tlv {
  if (offset + 2 > limit) throw new Error('truncated DER');
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4) throw new Error('unsupported DER length');
    if (start + bytes > limit) throw new Error('truncated DER');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i]!;
    start += bytes;
  }
  const end = start + length;
  if (end > limit) throw new Error('truncated DER');
  return { tag, start, end };
}

function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end;) {
    const child = readTlv(der, at, parent.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const OID = 0x06;
const OCTET_STRING = 0x04;
const EXTENSIONS = 0xa3; // [3] EXPLICIT in TBSCertificate
const KEY_IDENTIFIER = 0x80; // [0] IMPLICIT in AuthorityKeyIdentifier
const AKI_OID = Buffer.from([0x55, 0x1d, 0x23]); // 2.5.29.35

export interface CertificateIds {
  /** The serial number's DER content octets (with the 0x00 a positive number with its high bit set carries). */
  serial: Buffer;
  /** The authority key identifier's keyIdentifier, when the extension has one. */
  authorityKeyId?: Buffer;
}

/** Reads the serial and authority key identifier from a DER certificate; undefined when it is not one. */
export function certificateIds(der: Uint8Array): CertificateIds | undefined {
  try {
    const certificate = readTlv(der, 0, der.length);
    if (certificate.tag !== SEQUENCE) return undefined;
    const tbs = children(der, certificate)[0];
    if (tbs?.tag !== SEQUENCE) return undefined;
    const fields = children(der, tbs);
    const serialField = fields.find((f) => f.tag === INTEGER);
    if (!serialField) return undefined;
    const ids: CertificateIds = { serial: Buffer.from(der.subarray(serialField.start, serialField.end)) };
    const extensionsField = fields.find((f) => f.tag === EXTENSIONS);
    const list = extensionsField ? children(der, extensionsField)[0] : undefined;
    for (const extension of list?.tag === SEQUENCE ? children(der, list) : []) {
      const [oid, ...rest] = children(der, extension);
      if (oid?.tag !== OID || !AKI_OID.equals(der.subarray(oid.start, oid.end))) continue;
      const value = rest.find((f) => f.tag === OCTET_STRING);
      if (!value) break;
      const aki = readTlv(der, value.start, value.end);
      if (aki.tag !== SEQUENCE) break;
      const keyId = children(der, aki).find((f) => f.tag === KEY_IDENTIFIER);
      if (keyId) ids.authorityKeyId = Buffer.from(der.subarray(keyId.start, keyId.end));
      break;
    }
    return ids;
  } catch {
    return undefined;
  }
}

/** RFC 9773's certID: base64url(keyIdentifier) "." base64url(serial DER content). */
export function ariCertId(der: Uint8Array): string | undefined {
  const ids = certificateIds(der);
  if (!ids?.authorityKeyId) return undefined;
  // join, not a template: one flat string (a template leaves a chain of concatenations, cached per TLS Secret).
  return [ids.authorityKeyId.toString('base64url'), ids.serial.toString('base64url')].join('.');
}
