// The annotations the Ingress and Gateway shim reads, and what each becomes on
// a Certificate. The family is cert-manager's (the names its ingress-shim
// documents), under certkeeper.io/; with readCertManager, also under
// cert-manager.io/ and acme.cert-manager.io/ for clusters moving off
// cert-manager. certkeeper.io/ wins when both are set. Annotations the
// Certificate API cannot express yet are collected by name, so the shim can say
// in a Warning event that they have no effect (never silently ignored).
import { DURATION_PATTERN, KeyUsage, type CertificateSpec } from '../../api/certificate.ts';

export const PREFIX = 'certkeeper.io/';
export const CERT_MANAGER_PREFIX = 'cert-manager.io/';
export const ACME_CERT_MANAGER_PREFIX = 'acme.cert-manager.io/';

/** The annotations the shim reads, by suffix, and which prefix family each lives in. */
const ANNOTATION = {
  issuer: 'issuer',
  clusterIssuer: 'cluster-issuer',
  issuerKind: 'issuer-kind',
  issuerGroup: 'issuer-group',
  commonName: 'common-name',
  duration: 'duration',
  renewBefore: 'renew-before',
  usages: 'usages',
  privateKeyAlgorithm: 'private-key-algorithm',
  privateKeySize: 'private-key-size',
  privateKeyRotationPolicy: 'private-key-rotation-policy',
} as const;

/**
 * Annotations of the family that the Certificate API has no field for yet, and
 * why. Keys are suffixes; `acme` ones live under acme.cert-manager.io/ in
 * cert-manager and under certkeeper.io/ here.
 */
export const NO_EFFECT: Record<string, string> = {
  'revision-history-limit': 'certkeeper keeps no CertificateRequests',
  'email-sans': 'ACME CAs issue certificates for DNS names and IP addresses only',
  'uri-sans': 'ACME CAs issue certificates for DNS names and IP addresses only',
  'ip-sans': 'IP addresses are not taken from annotations',
};

/** The suffixes cert-manager keeps under acme.cert-manager.io/. */
const ACME_SUFFIXES = new Set(['http01-ingress-class', 'http01-ingress-ingressclassname', 'http01-edit-in-place']);

export interface ShimOptions {
  /** Also read cert-manager.io/ and acme.cert-manager.io/ annotations (--ingress-shim-cert-manager-annotations). */
  readCertManager: boolean;
}

/** What an object's annotations ask for. */
export type ShimRequest =
  | { kind: 'none' }
  | { kind: 'invalid'; message: string }
  | {
    kind: 'certificates';
    issuerRef: { name: string; kind: 'Issuer' | 'ClusterIssuer' };
    /** Certificate spec fields set from annotations. */
    fields: Pick<CertificateSpec, 'commonName' | 'duration' | 'renewBefore' | 'usages' | 'privateKey' | 'renewBeforePercentage' | 'subject'>;
    /** Annotations present that have no effect yet, with the reason. */
    noEffect: { annotation: string; reason: string }[];
    /** http01-edit-in-place is "true": the Certificates' HTTP-01 challenges edit the annotated Ingress itself. */
    editInPlace: boolean;
    /** http01-ingress-class / http01-ingress-ingressclassname: the class of the Certificates' challenge Ingresses. */
    ingressClass?: string;
    ingressClassName?: string;
  };

/** Reads one annotation by suffix: certkeeper.io/ first, then (when allowed) cert-manager's prefix. */
function reader(annotations: Record<string, string>, options: ShimOptions) {
  return (suffix: string): { name: string; value: string } | undefined => {
    const own = `${PREFIX}${suffix}`;
    if (annotations[own] !== undefined) return { name: own, value: annotations[own] };
    if (!options.readCertManager) return undefined;
    const theirs = `${ACME_SUFFIXES.has(suffix) ? ACME_CERT_MANAGER_PREFIX : CERT_MANAGER_PREFIX}${suffix}`;
    return annotations[theirs] !== undefined ? { name: theirs, value: annotations[theirs] } : undefined;
  };
}

/** Whether the object asks for certificates at all (a cheap check for the informer). */
export function isAnnotated(annotations: Record<string, string> | undefined, options: ShimOptions): boolean {
  if (!annotations) return false;
  const read = reader(annotations, options);
  return read(ANNOTATION.issuer) !== undefined || read(ANNOTATION.clusterIssuer) !== undefined;
}

const DURATION = new RegExp(DURATION_PATTERN);

/** Reads the annotations into Certificate fields; a value that cannot be used makes the whole request invalid (nothing is half-applied). */
export function readAnnotations(annotations: Record<string, string> | undefined, options: ShimOptions): ShimRequest {
  if (!isAnnotated(annotations, options)) return { kind: 'none' };
  const read = reader(annotations!, options);
  const issuer = read(ANNOTATION.issuer);
  const clusterIssuer = read(ANNOTATION.clusterIssuer);
  if (issuer && clusterIssuer) {
    return { kind: 'invalid', message: `both ${issuer.name} and ${clusterIssuer.name} are set; keep one` };
  }
  const chosen = (issuer ?? clusterIssuer)!;
  if (!chosen.value) return { kind: 'invalid', message: `${chosen.name} is empty` };
  let kind: 'Issuer' | 'ClusterIssuer' = issuer ? 'Issuer' : 'ClusterIssuer';
  // cert-manager's issuer-kind/issuer-group name external issuers; certkeeper serves only its own kinds.
  const group = read(ANNOTATION.issuerGroup);
  if (group && group.value !== '' && group.value !== 'certkeeper.io' && group.value !== 'cert-manager.io') {
    return { kind: 'invalid', message: `${group.name} is "${group.value}": certkeeper serves only its own Issuers and ClusterIssuers` };
  }
  const issuerKind = read(ANNOTATION.issuerKind);
  if (issuer && issuerKind) {
    if (issuerKind.value !== 'Issuer' && issuerKind.value !== 'ClusterIssuer') {
      return { kind: 'invalid', message: `${issuerKind.name} is "${issuerKind.value}": certkeeper serves only Issuer and ClusterIssuer` };
    }
    kind = issuerKind.value;
  }

  const fields: Extract<ShimRequest, { kind: 'certificates' }>['fields'] = {};
  const commonName = read(ANNOTATION.commonName);
  if (commonName) {
    if (commonName.value.length > 64) return { kind: 'invalid', message: `${commonName.name} is longer than 64 characters` };
    fields.commonName = commonName.value;
  }
  for (const [suffix, field] of [[ANNOTATION.duration, 'duration'], [ANNOTATION.renewBefore, 'renewBefore']] as const) {
    const value = read(suffix);
    if (!value) continue;
    if (!DURATION.test(value.value)) return { kind: 'invalid', message: `${value.name} is "${value.value}", not a duration like 2160h or 720h30m` };
    fields[field] = value.value;
  }
  const usages = read(ANNOTATION.usages);
  if (usages) {
    const list = usages.value.split(',').map((u) => u.trim()).filter(Boolean);
    const unknown = list.filter((u) => !KeyUsage.safeParse(u).success);
    if (unknown.length > 0) {
      return { kind: 'invalid', message: `${usages.name}: ${unknown.map((u) => `"${u}"`).join(', ')} not supported (certkeeper knows ${KeyUsage.options.join(', ')})` };
    }
    fields.usages = list as CertificateSpec['usages'];
  }
  const algorithm = read(ANNOTATION.privateKeyAlgorithm);
  const size = read(ANNOTATION.privateKeySize);
  const rotation = read(ANNOTATION.privateKeyRotationPolicy);
  if (algorithm || size || rotation) {
    const privateKey: NonNullable<CertificateSpec['privateKey']> = { algorithm: 'ECDSA', rotationPolicy: 'Always' };
    if (algorithm) {
      if (algorithm.value !== 'ECDSA' && algorithm.value !== 'RSA') return { kind: 'invalid', message: `${algorithm.name} is "${algorithm.value}": ECDSA or RSA` };
      privateKey.algorithm = algorithm.value;
    }
    if (size) {
      const bits = Number(size.value);
      const allowed = privateKey.algorithm === 'RSA' ? [2048, 3072, 4096] : [256, 384];
      if (!allowed.includes(bits)) return { kind: 'invalid', message: `${size.name} is "${size.value}": ${allowed.join(', ')} for ${privateKey.algorithm}` };
      privateKey.size = bits;
    }
    if (rotation) {
      if (rotation.value !== 'Always' && rotation.value !== 'Never') return { kind: 'invalid', message: `${rotation.name} is "${rotation.value}": Always or Never` };
      privateKey.rotationPolicy = rotation.value;
    }
    fields.privateKey = privateKey;
  }
  const encoding = read('private-key-encoding');
  if (encoding) {
    if (encoding.value !== 'PKCS1' && encoding.value !== 'PKCS8') return { kind: 'invalid', message: `${encoding.name} is "${encoding.value}": PKCS1 or PKCS8` };
    fields.privateKey = { ...(fields.privateKey ?? { algorithm: 'ECDSA', rotationPolicy: 'Always' }), encoding: encoding.value };
  }
  const percentage = read('renew-before-percentage');
  if (percentage) {
    const value = Number(percentage.value);
    if (!Number.isInteger(value) || value < 1 || value > 99) return { kind: 'invalid', message: `${percentage.name} is "${percentage.value}": a whole number from 1 to 99` };
    if (fields.renewBefore) return { kind: 'invalid', message: `${percentage.name} and the renew-before annotation are mutually exclusive` };
    fields.renewBeforePercentage = value;
  }
  // cert-manager's subject annotations: comma-separated lists (serial number: one value).
  const subject: NonNullable<CertificateSpec['subject']> = {};
  for (const [suffix, field] of [
    ['subject-organizations', 'organizations'], ['subject-organizationalunits', 'organizationalUnits'], ['subject-countries', 'countries'],
    ['subject-provinces', 'provinces'], ['subject-localities', 'localities'], ['subject-postalcodes', 'postalCodes'], ['subject-streetaddresses', 'streetAddresses'],
  ] as const) {
    const value = read(suffix);
    if (value) subject[field] = value.value.split(',').map((v) => v.trim()).filter(Boolean);
  }
  const serial = read('subject-serialnumber');
  if (serial) subject.serialNumber = serial.value;
  if (Object.keys(subject).length > 0) fields.subject = subject;

  const noEffect = Object.entries(NO_EFFECT).flatMap(([suffix, reason]) => {
    const present = read(suffix);
    return present ? [{ annotation: present.name, reason }] : [];
  });
  // As in cert-manager, only the exact value "true" turns it on.
  const editInPlace = read('http01-edit-in-place')?.value === 'true';
  const ingressClass = read('http01-ingress-class')?.value || undefined;
  const ingressClassName = read('http01-ingress-ingressclassname')?.value || undefined;
  return {
    kind: 'certificates', issuerRef: { name: chosen.value, kind }, fields, noEffect, editInPlace,
    ...(ingressClass ? { ingressClass } : {}), ...(ingressClassName ? { ingressClassName } : {}),
  };
}
