// Just enough DER to read what Node's X509Certificate does not expose:
// the serial number's encoded bytes and the authority key identifier, which
// together name a certificate for ACME Renewal Information (RFC 9773 §4.1);
// and the public key a private key carries, to tell whether it belongs to a
// certificate without loading it into OpenSSL (keyFactsFromDer).
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

const BIT_STRING = 0x03;
const EC_OID = Buffer.from([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]); // 1.2.840.10045.2.1
const RSA_OID = Buffer.from([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]); // 1.2.840.113549.1.1.1
const CURVES: [Buffer, number][] = [
  [Buffer.from([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]), 256], // prime256v1
  [Buffer.from([0x2b, 0x81, 0x04, 0x00, 0x22]), 384], // secp384r1
  [Buffer.from([0x2b, 0x81, 0x04, 0x00, 0x23]), 521], // secp521r1
];

export interface KeyFacts {
  algorithm: 'ECDSA' | 'RSA';
  size: number;
  matchesCertificate: boolean;
}

/** The public key a certificate or private key names: EC curve and point, or RSA modulus and exponent. */
type PublicKey = { kind: 'ec'; curve: Buffer; point: Buffer } | { kind: 'rsa'; modulus: Buffer; exponent: Buffer };

const value = (der: Uint8Array, tlv: Tlv) => Buffer.from(der.buffer, der.byteOffset + tlv.start, tlv.end - tlv.start);

/** Whether a TLV's content is exactly these bytes: an OID compared without making a Buffer of it. */
function contentIs(der: Uint8Array, tlv: Tlv, bytes: Uint8Array): boolean {
  if (tlv.end - tlv.start !== bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) if (der[tlv.start + i] !== bytes[i]) return false;
  return true;
}
/** An INTEGER's content without the leading zero bytes DER may add (so equal numbers compare equal). */
const unsigned = (bytes: Buffer) => {
  let at = 0;
  while (at < bytes.length - 1 && bytes[at] === 0) at++;
  return bytes.subarray(at);
};

function rsaPublic(der: Uint8Array, sequence: Tlv, skipVersion: boolean): PublicKey | undefined {
  const ints = children(der, sequence);
  const [modulus, exponent] = skipVersion ? ints.slice(1) : ints;
  if (modulus?.tag !== INTEGER || exponent?.tag !== INTEGER) return undefined;
  return { kind: 'rsa', modulus: unsigned(value(der, modulus)), exponent: unsigned(value(der, exponent)) };
}

/** The public key in a certificate's SubjectPublicKeyInfo. */
function certificatePublicKey(der: Uint8Array): PublicKey | undefined {
  const certificate = readTlv(der, 0, der.length);
  const tbs = children(der, certificate)[0];
  if (certificate.tag !== SEQUENCE || tbs?.tag !== SEQUENCE) return undefined;
  const fields = children(der, tbs);
  // version [0] (optional), serial, signature, issuer, validity, subject, subjectPublicKeyInfo
  const spki = fields[(fields[0]?.tag === 0xa0 ? 1 : 0) + 5];
  if (spki?.tag !== SEQUENCE) return undefined;
  const [algorithm, bits] = children(der, spki);
  if (algorithm?.tag !== SEQUENCE || bits?.tag !== BIT_STRING || der[bits.start] !== 0) return undefined;
  const [oid, parameters] = children(der, algorithm);
  const key = { tag: BIT_STRING, start: bits.start + 1, end: bits.end };
  if (oid?.tag === OID && EC_OID.equals(value(der, oid)) && parameters?.tag === OID) {
    return { kind: 'ec', curve: value(der, parameters), point: value(der, key) };
  }
  if (oid?.tag === OID && RSA_OID.equals(value(der, oid))) {
    const sequence = readTlv(der, key.start, key.end);
    return sequence.tag === SEQUENCE ? rsaPublic(der, sequence, false) : undefined;
  }
  return undefined;
}

/** An ECPrivateKey (SEC 1): its curve ([0], or the PKCS#8 algorithm's) and public key ([1]). */
function ecPrivatePublic(der: Uint8Array, sequence: Tlv, curve: Buffer | undefined): PublicKey | undefined {
  let point: Buffer | undefined;
  for (const field of children(der, sequence)) {
    if (field.tag === 0xa0) {
      const oid = readTlv(der, field.start, field.end);
      if (oid.tag === OID) curve = value(der, oid);
    } else if (field.tag === 0xa1) {
      const bits = readTlv(der, field.start, field.end);
      if (bits.tag === BIT_STRING && der[bits.start] === 0) point = value(der, { tag: BIT_STRING, start: bits.start + 1, end: bits.end });
    }
  }
  return curve && point ? { kind: 'ec', curve, point } : undefined;
}

/** The public half a private key carries: PKCS#8 ("PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY"). */
function privateKeyPublic(der: Uint8Array, label: string): PublicKey | undefined {
  const outer = readTlv(der, 0, der.length);
  if (outer.tag !== SEQUENCE) return undefined;
  if (label === 'EC PRIVATE KEY') return ecPrivatePublic(der, outer, undefined);
  if (label === 'RSA PRIVATE KEY') return rsaPublic(der, outer, true);
  if (label !== 'PRIVATE KEY') return undefined;
  const [version, algorithm, octets] = children(der, outer);
  if (version?.tag !== INTEGER || algorithm?.tag !== SEQUENCE || octets?.tag !== OCTET_STRING) return undefined;
  const [oid, parameters] = children(der, algorithm);
  const inner = readTlv(der, octets.start, octets.end);
  if (inner.tag !== SEQUENCE || oid?.tag !== OID) return undefined;
  if (EC_OID.equals(value(der, oid))) return ecPrivatePublic(der, inner, parameters?.tag === OID ? value(der, parameters) : undefined);
  if (RSA_OID.equals(value(der, oid))) return rsaPublic(der, inner, true);
  return undefined;
}

/**
 * A private key's type and size and whether it belongs to the certificate,
 * from their DER alone: the public key the private key carries (an EC key's
 * [1] point, an RSA key's modulus and exponent) against the certificate's,
 * which is what OpenSSL's X509_check_private_key compares too. About 30 times
 * cheaper than loading the key into OpenSSL, which matters when every TLS
 * Secret is read at start-up. Undefined for anything else (an EC key without
 * its public key, another curve or algorithm, malformed DER): ask OpenSSL.
 */
export function keyFactsFromDer(keyDer: Uint8Array, label: string, certificateDer: Uint8Array | undefined): KeyFacts | undefined {
  try {
    const key = privateKeyPublic(keyDer, label);
    if (!key) return undefined;
    const certificate = certificateDer ? certificatePublicKey(certificateDer) : undefined;
    if (key.kind === 'ec') {
      const size = CURVES.find(([oid]) => oid.equals(key.curve))?.[1];
      if (size === undefined) return undefined;
      const matches = certificate?.kind === 'ec' && certificate.curve.equals(key.curve) && certificate.point.equals(key.point);
      return { algorithm: 'ECDSA', size, matchesCertificate: matches };
    }
    const first = key.modulus[0] ?? 0;
    const size = key.modulus.length * 8 - (first === 0 ? 8 : Math.clz32(first) - 24);
    const matches = certificate?.kind === 'rsa' && certificate.modulus.equals(key.modulus) && certificate.exponent.equals(key.exponent);
    return { algorithm: 'RSA', size, matchesCertificate: matches };
  } catch {
    return undefined;
  }
}

/** What certkeeper reads from a leaf certificate (see CertificateFacts), without its chain length. */
export interface LeafFacts {
  notBefore: number;
  notAfter: number;
  dnsNames: string[];
  ipAddresses: string[];
  commonName: string | undefined;
  serialNumber: string;
  ariCertId: string | undefined;
  /** The extended key usages' OIDs as DER content (compared by the caller with the ones it knows). */
  extendedKeyUsages: Buffer[];
}

const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;
const SAN_OID = Buffer.from([0x55, 0x1d, 0x11]); // 2.5.29.17
const EKU_OID = Buffer.from([0x55, 0x1d, 0x25]); // 2.5.29.37
const CN_OID = Buffer.from([0x55, 0x04, 0x03]); // 2.5.4.3
const DNS_NAME = 0x82; // [2] IMPLICIT IA5String in GeneralName
const IP_ADDRESS = 0x87; // [7] IMPLICIT OCTET STRING
const PLAIN_STRINGS = new Set([0x0c, 0x13, 0x16]); // UTF8String, PrintableString, IA5String
// What OpenSSL prints as is: anything else (quotes, commas, escapes, non-ASCII) it may
// quote or escape in X509Certificate's strings, so such a certificate is read by OpenSSL instead.
const PLAIN_NAME = /^[A-Za-z0-9.*_-]+$/;
const PLAIN_COMMON_NAME = /^[A-Za-z0-9.*_\- :@()'/]*$/;

/** UTCTime (YYMMDDHHMMSSZ, 1950–2049) or GeneralizedTime (YYYYMMDDHHMMSSZ) in ms; undefined for any other form. */
function readTime(der: Uint8Array, tlv: Tlv): number | undefined {
  const yearDigits = tlv.tag === UTC_TIME ? 2 : tlv.tag === GENERALIZED_TIME ? 4 : 0;
  // Read from the bytes: this runs for every TLS Secret at start-up, and a string and a regex match per time were garbage.
  if (yearDigits === 0 || tlv.end - tlv.start !== yearDigits + 11 || der[tlv.end - 1] !== 0x5a /* Z */) return undefined;
  const digits = (at: number, count: number) => {
    let n = 0;
    for (let i = 0; i < count; i++) {
      const digit = der[tlv.start + at + i]! - 0x30;
      if (digit < 0 || digit > 9) return Number.NaN;
      n = n * 10 + digit;
    }
    return n;
  };
  let year = digits(0, yearDigits);
  if (yearDigits === 2) year += year < 50 ? 2000 : 1900;
  const time = Date.UTC(year, digits(yearDigits, 2) - 1, digits(yearDigits + 2, 2), digits(yearDigits + 4, 2), digits(yearDigits + 6, 2), digits(yearDigits + 8, 2));
  return Number.isNaN(time) ? undefined : time;
}

function formatIp(bytes: Buffer): string | undefined {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length !== 16) return undefined;
  // As X509Certificate prints an IPv6 address: eight groups, upper case, no compression.
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16).toUpperCase());
  return groups.join(':');
}

/**
 * The leaf's validity, names, serial, ARI certID and extended key usages from
 * its DER: the same values X509Certificate gives, without loading the
 * certificate into OpenSSL and printing its fields to strings (at start-up
 * every TLS Secret is read, and that was an eighth of the CPU at 100,000).
 * Undefined for anything unusual (another time format, a negative serial, a
 * name OpenSSL would quote or escape, malformed DER): the caller asks OpenSSL.
 */
export function leafFactsFromDer(der: Uint8Array): LeafFacts | undefined {
  // Index loops, not for-of: without the optimizing compilers (the image runs without them) each
  // for-of step allocates an iterator result, and this runs for every TLS Secret at start-up.
  try {
    const certificate = readTlv(der, 0, der.length);
    // Bytes after the certificate: not what OpenSSL reads as one; let it decide.
    if (certificate.end !== der.length || certificate.tag !== SEQUENCE) return undefined;
    // All three parts walked (tbsCertificate, signatureAlgorithm, signature): malformed ones are OpenSSL's to judge.
    const tbs = children(der, certificate)[0];
    if (tbs?.tag !== SEQUENCE) return undefined;
    const fields = children(der, tbs);
    // version [0] (optional), serial, signature, issuer, validity, subject, subjectPublicKeyInfo, ..., extensions [3]
    const first = fields[0]?.tag === 0xa0 ? 1 : 0;
    const serialField = fields[first];
    const validity = fields[first + 3];
    const subject = fields[first + 4];
    if (serialField?.tag !== INTEGER || validity?.tag !== SEQUENCE || subject?.tag !== SEQUENCE) return undefined;
    const serial = value(der, serialField);
    if (serial.length === 0 || (serial[0]! & 0x80) !== 0) return undefined;
    const serialNumber = unsigned(serial).toString('hex').toUpperCase();
    const times = children(der, validity);
    const notBefore = times[0] && readTime(der, times[0]);
    const notAfter = times[1] && readTime(der, times[1]);
    if (notBefore === undefined || notAfter === undefined) return undefined;

    let commonName: string | undefined;
    const rdns = children(der, subject);
    for (let r = 0; r < rdns.length; r++) {
      const attributes = children(der, rdns[r]!);
      for (let a = 0; a < attributes.length; a++) {
        const typeAndText = children(der, attributes[a]!);
        const type = typeAndText[0];
        const text = typeAndText[1];
        if (type?.tag !== OID || !contentIs(der, type, CN_OID) || commonName !== undefined) continue;
        if (!text || !PLAIN_STRINGS.has(text.tag)) return undefined;
        commonName = value(der, text).toString('utf8');
        if (!PLAIN_COMMON_NAME.test(commonName)) return undefined;
      }
    }

    const dnsNames: string[] = [];
    const ipAddresses: string[] = [];
    const extendedKeyUsages: Buffer[] = [];
    let certId: string | undefined;
    let extensionsField: Tlv | undefined;
    for (let f = 0; f < fields.length && !extensionsField; f++) if (fields[f]!.tag === EXTENSIONS) extensionsField = fields[f];
    const list = extensionsField ? readTlv(der, extensionsField.start, extensionsField.end) : undefined;
    const extensions = list?.tag === SEQUENCE ? children(der, list) : [];
    for (let e = 0; e < extensions.length; e++) {
      // Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
      const parts = children(der, extensions[e]!);
      const oid = parts[0];
      const octets = parts[1]?.tag === OCTET_STRING ? parts[1] : parts[2]?.tag === OCTET_STRING ? parts[2] : undefined;
      if (oid?.tag !== OID || !octets) continue;
      if (contentIs(der, oid, SAN_OID)) {
        const names = children(der, readTlv(der, octets.start, octets.end));
        for (let n = 0; n < names.length; n++) {
          const name = names[n]!;
          if (name.tag === DNS_NAME) {
            // toString copies: a slice of a larger string would keep that alive in the cache.
            const dnsName = value(der, name).toString('latin1');
            if (!PLAIN_NAME.test(dnsName)) return undefined;
            dnsNames.push(dnsName);
          } else if (name.tag === IP_ADDRESS) {
            const ip = formatIp(value(der, name));
            if (ip === undefined) return undefined;
            ipAddresses.push(ip);
          }
        }
      } else if (contentIs(der, oid, EKU_OID)) {
        const usages = children(der, readTlv(der, octets.start, octets.end));
        for (let u = 0; u < usages.length; u++) if (usages[u]!.tag === OID) extendedKeyUsages.push(value(der, usages[u]!));
      } else if (contentIs(der, oid, AKI_OID)) {
        const aki = readTlv(der, octets.start, octets.end);
        const keyId = aki.tag === SEQUENCE ? children(der, aki).find((f) => f.tag === KEY_IDENTIFIER) : undefined;
        // As ariCertId words it, from the fields already read (not a second walk of the certificate).
        if (keyId) certId = [value(der, keyId).toString('base64url'), serial.toString('base64url')].join('.');
      }
    }
    return { notBefore, notAfter, dnsNames, ipAddresses, commonName, serialNumber, ariCertId: certId, extendedKeyUsages };
  } catch {
    return undefined;
  }
}
