// Why a Certificate needs (re-)issuing: a chain of small pure checks, each
// returning a named reason and a message, or nothing. The same checks decide
// readiness. Plus the renewal time, computed from the Secret (not memory), so
// a restart schedules the same renewal.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { DNS_NAME_MAX_LENGTH, DNS_NAME_PATTERN, parseDuration, type CertificateSpec, type CertificateStatus } from '../../api/certificate.ts';
import type { Solver } from '../../api/solvers.ts';
import { extendedKeyUsageBits, type CertificateFacts } from '../../pki/certificate.ts';
import { selectSolver } from '../../solvers/select.ts';

export const Reason = {
  SecretMissing: 'SecretMissing',
  SecretInvalid: 'SecretInvalid',
  KeyMismatch: 'KeyMismatch',
  KeyChanged: 'PrivateKeyChanged',
  NamesChanged: 'NamesChanged',
  IssuerChanged: 'IssuerChanged',
  Expired: 'Expired',
  RenewalDue: 'RenewalDue',
  RenewRequested: 'RenewRequested',
  SignedRequestChanged: 'SignedRequestChanged',
} as const;

/** Set by `certkeeper renew` (like cmctl renew): a request to issue again now, honoured once. */
export const RENEW_REQUEST_ANNOTATION = 'certkeeper.io/renew-requested-at';
export type ReissueReason = typeof Reason[keyof typeof Reason];

export interface SecretFacts {
  exists: boolean;
  /** The Secret's type (kubernetes.io/tls for the ones certkeeper may write). */
  type?: string;
  /** Labelled as an ACME account key: never written, never read as a certificate key. */
  accountKey?: boolean;
  /** The Certificate that wrote it, from its ownership annotations. */
  owner?: { name?: string; uid?: string };
  /** tls.crt parsed, when parseable. */
  certificate?: CertificateFacts;
  /** tls.key present and parseable. */
  key?: { algorithm: 'ECDSA' | 'RSA'; size: number; matchesCertificate: boolean };
  /** The issuer recorded when certkeeper wrote the Secret. */
  issuer?: { kind: string; name: string };
  /** Data keys besides tls.crt and tls.key, sorted, comma-separated (keystore.p12, tls-combined.pem, ...). */
  outputs?: string;
  /** The renew request (certkeeper renew) the certificate answered: recorded on the Secret, so it survives a failed status write. */
  renewRequest?: string;
  /** tls.key is PKCS#1/SEC1 ("BEGIN RSA/EC PRIVATE KEY"); absent: PKCS#8 (or no key). */
  keyEncoding?: 'PKCS1';
  /** Where the keystores' passwords came from when written (a Secret's version, or a literal's digest). */
  keystorePasswordSource?: string;
  /** selfSigned and ca issuers: the signedRequestDigest the certificate was signed for. */
  signedRequest?: string;
}

export interface CheckInput {
  spec: CertificateSpec;
  secretName: string;
  secret: SecretFacts;
  now: Date;
  renewalTime?: Date;
  /** A renew request (its annotation's value) that no issuance has honoured yet. */
  renewRequest?: string;
  /**
   * The issuer signs here (selfSigned, ca): the common name is a subject field, not a
   * name the certificate must carry, and the certificate must match signedRequestDigest(spec).
   */
  localIssuer?: boolean;
}

export type Verdict = { reason: ReissueReason; message: string } | undefined;
type Check = (input: CheckInput) => Verdict;

/**
 * The names a certificate must carry: dnsNames plus a DNS commonName, sorted and unique.
 * commonNameIsName false (selfSigned and ca issuers, as cert-manager): the common name
 * is a subject field only ("Example Root CA").
 */
export function requestedNames(spec: CertificateSpec, commonNameIsName = true): { commonName?: string; dnsNames: string[]; ipAddresses: string[] } {
  // Plain loops and arrays: this runs on every sync, and Sets, spreads and sorts of two names were its garbage.
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  const dns = spec.dnsNames ?? [];
  for (let i = 0; i < dns.length; i++) addUnique(dnsNames, dns[i]!.toLowerCase());
  const ips = spec.ipAddresses ?? [];
  for (let i = 0; i < ips.length; i++) addUnique(ipAddresses, ips[i]!);
  if (spec.commonName && commonNameIsName) {
    if (isIP(spec.commonName) !== 0) addUnique(ipAddresses, spec.commonName.toLowerCase());
    else addUnique(dnsNames, spec.commonName.toLowerCase());
  }
  if (dnsNames.length > 1) dnsNames.sort();
  if (ipAddresses.length > 1) ipAddresses.sort();
  return spec.commonName ? { commonName: spec.commonName, dnsNames, ipAddresses } : { dnsNames, ipAddresses };
}

function addUnique(list: string[], value: string): void {
  if (!list.includes(value)) list.push(value);
}

/**
 * The same names, in any order, counting repeats (b was copied and sorted again for every
 * element of a before: garbage on every sync). Short lists, the usual case, without copies.
 */
function sameSet(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  if (a.length <= 8) {
    const count = (list: string[], value: string) => {
      let n = 0;
      for (let i = 0; i < list.length; i++) if (list[i] === value) n++;
      return n;
    };
    for (let i = 0; i < a.length; i++) if (count(a, a[i]!) !== count(b, a[i]!)) return false;
    return true;
  }
  const x = [...a].sort();
  const y = [...b].sort();
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

const secretMissing: Check = ({ secret, secretName }) =>
  secret.exists ? undefined : { reason: Reason.SecretMissing, message: `Secret ${secretName} does not exist` };

const secretInvalid: Check = ({ secret, secretName }) => {
  if (!secret.certificate) return { reason: Reason.SecretInvalid, message: `Secret ${secretName} has no valid certificate in tls.crt` };
  if (!secret.key) return { reason: Reason.SecretInvalid, message: `Secret ${secretName} has no valid private key in tls.key` };
  return undefined;
};

const keyMismatch: Check = ({ secret, secretName }) =>
  secret.key && !secret.key.matchesCertificate
    ? { reason: Reason.KeyMismatch, message: `tls.key in Secret ${secretName} does not match the certificate in tls.crt` }
    : undefined;

const keyChanged: Check = ({ spec, secret }) => {
  const want = spec.privateKey?.algorithm ?? 'ECDSA';
  const size = spec.privateKey?.size ?? (want === 'RSA' ? 2048 : 256);
  if (!secret.key) return undefined;
  return secret.key.algorithm !== want || secret.key.size !== size
    ? { reason: Reason.KeyChanged, message: `the Secret's key is ${secret.key.algorithm} ${secret.key.size}, spec asks for ${want} ${size}` }
    : undefined;
};

const namesChanged: Check = ({ spec, secret, localIssuer }) => {
  const cert = secret.certificate;
  if (!cert) return undefined;
  const want = requestedNames(spec, !localIssuer);
  if (!sameSet(cert.dnsNames.map((n) => n.toLowerCase()), want.dnsNames)) {
    return { reason: Reason.NamesChanged, message: `the certificate is for DNS names [${cert.dnsNames.join(', ')}], spec asks for [${want.dnsNames.join(', ')}]` };
  }
  if (!sameSet(cert.ipAddresses, want.ipAddresses)) {
    return { reason: Reason.NamesChanged, message: `the certificate is for IP addresses [${cert.ipAddresses.join(', ')}], spec asks for [${want.ipAddresses.join(', ')}]` };
  }
  return undefined;
};

const issuerChanged: Check = ({ spec, secret }) => {
  const want = { kind: spec.issuerRef.kind ?? 'Issuer', name: spec.issuerRef.name };
  return secret.issuer && (secret.issuer.kind !== want.kind || secret.issuer.name !== want.name)
    ? { reason: Reason.IssuerChanged, message: `the certificate was issued by ${secret.issuer.kind} ${secret.issuer.name}, spec asks for ${want.kind} ${want.name}` }
    : undefined;
};

/**
 * What a selfSigned or ca issuer signs beyond the names, as a short digest recorded on the
 * TLS Secret: a change (isCA, usages, subject, uris, emails, duration) signs again. Pure.
 */
export function signedRequestDigest(spec: CertificateSpec): string {
  const sorted = (list: string[] | undefined) => [...(list ?? [])].sort();
  return createHash('sha256').update(JSON.stringify([
    spec.commonName ?? '', spec.subject ?? {}, spec.isCA === true, sorted(spec.usages), sorted(spec.uris), sorted(spec.emailAddresses), spec.duration ?? '',
  ])).digest('base64url').slice(0, 22);
}

// Only for a certificate certkeeper signed (it carries the mark): one adopted from cert-manager
// is kept while its names, key and validity fit, so a migrated CA is never signed anew.
const signedRequestChanged: Check = ({ spec, secret, localIssuer }) =>
  localIssuer && secret.certificate && secret.signedRequest !== undefined && secret.signedRequest !== signedRequestDigest(spec)
    ? { reason: Reason.SignedRequestChanged, message: 'the certificate was signed for another subject, isCA, usages, uris, emailAddresses or duration than the spec asks for' }
    : undefined;

const expired: Check = ({ secret, now }) =>
  secret.certificate && secret.certificate.notAfter <= now.getTime()
    ? { reason: Reason.Expired, message: `the certificate expired at ${new Date(secret.certificate.notAfter).toISOString()}` }
    : undefined;

const renewalDue: Check = ({ renewalTime, now }) =>
  renewalTime && renewalTime <= now ? { reason: Reason.RenewalDue, message: `renewal was due at ${renewalTime.toISOString()}` } : undefined;

/** In order: the first that applies is the reason to issue. */
const renewRequested: Check = ({ renewRequest }) =>
  renewRequest ? { reason: Reason.RenewRequested, message: `renewal requested at ${renewRequest} (certkeeper renew)` } : undefined;

export const checks: readonly Check[] = [secretMissing, secretInvalid, keyMismatch, keyChanged, namesChanged, issuerChanged, signedRequestChanged, expired, renewalDue, renewRequested];

/** Reasons that re-issue while the current certificate stays valid (Ready stays True meanwhile). */
export function stillValidDuring(reason: ReissueReason): boolean {
  return reason === Reason.RenewalDue || reason === Reason.RenewRequested;
}

export function needsIssuance(input: CheckInput): Verdict {
  for (const check of checks) {
    const verdict = check(input);
    if (verdict) return verdict;
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Refusals: decided before anything is ordered. Each returns a reason and a
// message that says what to do, or nothing. A refused Certificate is not
// Ready and orders nothing until its spec, its Secret or a rival changes.
// ---------------------------------------------------------------------------

// NoSolver is decided when it comes to ordering (decide.ts, 'a solver matches every name'): a wait,
// which keeps Ready while the certificate in the Secret serves, and drops the order (reasons.ts).
export const Refusal = {
  InvalidName: 'InvalidName',
  NotSupportedByAcme: 'NotSupportedByAcme',
  NoSolver: 'NoSolver',
  SecretInUse: 'SecretInUse',
  SecretNotOurs: 'SecretNotOurs',
  SecretIsAccountKey: 'SecretIsAccountKey',
} as const;
export type RefusalReason = typeof Refusal[keyof typeof Refusal];
export type Refused = { reason: RefusalReason; message: string } | undefined;

const dnsNamePattern = new RegExp(DNS_NAME_PATTERN);

/** Why a DNS name is not one an ACME CA can issue for (the CRD's rule, worded per problem), or undefined. */
export function dnsNameProblem(name: string): string | undefined {
  if (/[^\x00-\x7f]/.test(name)) {
    const ascii = domainToASCII(name.toLowerCase());
    return ascii
      ? `"${name}" is not ASCII: write it in its punycode form "${ascii}"`
      : `"${name}" is not ASCII and has no punycode form`;
  }
  if (name.length > DNS_NAME_MAX_LENGTH) return `"${name.slice(0, 40)}…" has ${name.length} characters, at most ${DNS_NAME_MAX_LENGTH} are allowed`;
  if (name !== name.toLowerCase()) return `"${name}" must be lower-case ("${name.toLowerCase()}")`;
  if (isIP(name) !== 0) return `"${name}" is an IP address: list it under ipAddresses`;
  const long = name.replace(/^\*\./, '').split('.').find((label) => label.length > 63);
  if (long) return `"${name}" has a label of ${long.length} characters, at most 63 are allowed`;
  if (!dnsNamePattern.test(name)) {
    return `"${name}" is not a DNS name: labels of letters, digits and hyphens, not starting or ending with a hyphen, separated by single dots, optionally after a leading *.`;
  }
  return undefined;
}

/**
 * Names the API server would refuse today, in objects stored before its
 * rules existed: checked again here, so none of them ever reaches the CA.
 */
export function invalidNames(spec: CertificateSpec, commonNameIsName = true): Refused {
  const problems: string[] = [];
  for (const name of spec.dnsNames ?? []) {
    const problem = dnsNameProblem(name);
    if (problem) problems.push(`dnsNames: ${problem}`);
  }
  for (const ip of spec.ipAddresses ?? []) {
    if (isIP(ip) === 0) problems.push(`ipAddresses: "${ip}" is not an IPv4 or IPv6 address`);
  }
  if (spec.commonName && commonNameIsName && isIP(spec.commonName) === 0) {
    const problem = dnsNameProblem(spec.commonName);
    if (problem) problems.push(`commonName: ${problem}`);
  }
  return problems.length > 0 ? { reason: Refusal.InvalidName, message: `${problems.join('; ')}; nothing was ordered` } : undefined;
}

/**
 * A Certificate whose ca issuer signs with the very Secret it would write: writing it would
 * replace the CA's key with a leaf's and lose the CA. (The root Certificate that writes a ca
 * issuer's Secret is issued by another issuer, usually selfSigned: that is the bootstrap, not this.)
 */
export function writesOwnCaSecret(spec: CertificateSpec, namespace: string, issuer: { ref: string; secretNamespace: string; caSecretName?: string }): Refused {
  if (issuer.caSecretName !== spec.secretName || issuer.secretNamespace !== namespace) return undefined;
  return {
    reason: Refusal.SecretNotOurs,
    message: `Secret ${spec.secretName} holds the CA key pair ${issuer.ref} signs with; certkeeper never writes a CA's Secret with a certificate that CA signs (the CA's key would be lost): choose another secretName`,
  };
}

/**
 * What a Certificate asks that only selfSigned and ca issuers can do (the API server
 * refused these for every Certificate before those issuers existed; now the issuer decides).
 */
export function acmeUnsupported(spec: CertificateSpec, issuer: string): Refused {
  const problems: string[] = [];
  if (spec.isCA) problems.push('isCA cannot be true: ACME CAs issue leaf certificates only');
  const extra = (['uris', 'emailAddresses'] as const).filter((field) => (spec[field]?.length ?? 0) > 0);
  if (extra.length) problems.push(`${extra.join(' and ')} cannot be requested: ACME CAs issue certificates for DNS names and IP addresses only`);
  return problems.length > 0
    ? { reason: Refusal.NotSupportedByAcme, message: `${problems.join('; ')} (${issuer} is an ACME issuer; a selfSigned or ca issuer signs such certificates); nothing was ordered` }
    : undefined;
}

/** A name no solver of the issuer can validate (a wildcard without a matching dns01 solver, say): refused before ordering. */
export function unsolvableNames(names: { dnsNames: string[]; ipAddresses: string[] }, solvers: readonly Solver[], labels: Record<string, string>, issuer: string): Refused {
  const unsolved = [...names.dnsNames, ...names.ipAddresses].filter((name) => !selectSolver(solvers, name, labels));
  if (unsolved.length === 0) return undefined;
  const wildcards = unsolved.some((name) => name.startsWith('*.'));
  return {
    reason: Refusal.NoSolver,
    message: `no solver of ${issuer} matches ${unsolved.join(', ')}${wildcards ? ' (wildcards need a dns01 solver)' : ''}; nothing was ordered`,
  };
}

/** A Certificate as the ownership rule sees it. */
export interface Claimant {
  name: string;
  uid: string;
  /** metadata.creationTimestamp (RFC 3339, so text order is time order). */
  createdAt: string;
}

export interface OwnershipInput {
  certificate: Claimant;
  secretName: string;
  secret: SecretFacts;
  /** The other live Certificates in the namespace whose spec names this Secret. */
  rivals: readonly Claimant[];
  /** The Issuer (or ClusterIssuer) that keeps its ACME account key under this Secret name, if any. */
  accountKeyOf?: string;
  /** The Certificate that holds the next-key Secret's claim (issuing into this Secret), when known. */
  claim?: { name?: string; uid?: string };
}

const isMark = (mark: { name?: string; uid?: string }, c: Claimant) => (mark.uid ? mark.uid === c.uid : mark.name === c.name);
const first = (a: Claimant, b: Claimant) => (a.createdAt !== b.createdAt ? a.createdAt < b.createdAt : a.name < b.name);

/**
 * Whether this Certificate may write its Secret. A Secret belongs to the one
 * Certificate that wrote it (its ownership annotations); while that
 * Certificate exists and names it, every other one is refused. A Secret with
 * no live owner (absent, an unmarked kubernetes.io/tls Secret to adopt, or
 * its owner deleted or moved to another Secret) goes to the Certificate that
 * came first: the oldest, ties by name. Account keys and Secrets of other
 * types are never written.
 */
export function secretOwnership(input: OwnershipInput): Refused {
  const { certificate, secretName, secret, rivals } = input;
  if (secret.accountKey || input.accountKeyOf) {
    return {
      reason: Refusal.SecretIsAccountKey,
      message: `Secret ${secretName} holds the ACME account key${input.accountKeyOf ? ` of ${input.accountKeyOf}` : ''}; certkeeper never writes it or uses it as a certificate key: choose another secretName`,
    };
  }
  if (secret.exists && secret.type !== 'kubernetes.io/tls') {
    return {
      reason: Refusal.SecretNotOurs,
      message: `Secret ${secretName} exists with type ${secret.type ?? 'Opaque'}; certkeeper writes only kubernetes.io/tls Secrets and never replaces another: choose another secretName`,
    };
  }
  if (secret.owner && isMark(secret.owner, certificate)) return undefined;
  const owner = secret.owner && rivals.find((r) => isMark(secret.owner!, r));
  if (owner) {
    return { reason: Refusal.SecretInUse, message: `Secret ${secretName} belongs to Certificate ${owner.name}, which wrote it; this Certificate proceeds once ${owner.name} is deleted or names another Secret` };
  }
  const claimant = input.claim && !isMark(input.claim, certificate) ? rivals.find((r) => isMark(input.claim!, r)) : undefined;
  if (claimant) {
    return { reason: Refusal.SecretInUse, message: `Certificate ${claimant.name} is issuing into Secret ${secretName}; this Certificate proceeds once ${claimant.name} is deleted or names another Secret` };
  }
  const earlier = rivals.filter((r) => first(r, certificate)).sort((a, b) => (first(a, b) ? -1 : 1))[0];
  if (earlier) {
    return { reason: Refusal.SecretInUse, message: `Certificate ${earlier.name} also names Secret ${secretName} and came first; this Certificate proceeds once ${earlier.name} is deleted or names another Secret` };
  }
  return undefined;
}

/** A stable number in [0, 1) from a seed (the Certificate's UID): the same after a restart. */
export function spreadFraction(seed: string): number {
  return createHash('sha256').update(seed).digest().readUInt32BE(0) / 2 ** 32;
}

export interface RenewalInput {
  /** Milliseconds since the epoch (CertificateFacts). */
  notBefore: number;
  notAfter: number;
  renewBefore?: string;
  /** Renew when this share (percent) of the lifetime remains. */
  renewBeforePercentage?: number;
  seed: string;
  /** The CA's suggested window (ACME Renewal Information), when offered. */
  ariWindow?: { start: Date; end: Date };
}

/**
 * When to renew: renewBefore before expiry, else when two thirds of the
 * lifetime have passed, moved earlier by up to 2 % of the lifetime (at most an
 * hour), seeded, so that thousands of certificates issued together do not
 * renew in the same second. When the CA offers a renewal window (ARI), a
 * seeded time inside it is used if that is earlier: never later than the CA
 * asks (it moves the window forward when it must revoke).
 */
export function renewalTime(input: RenewalInput): Date {
  const fraction = spreadFraction(input.seed);
  const lifetime = input.notAfter - input.notBefore;
  let at = input.notBefore + Math.floor((lifetime * 2) / 3);
  if (input.renewBefore) {
    const before = parseDuration(input.renewBefore);
    if (before < lifetime) at = input.notAfter - before;
  } else if (input.renewBeforePercentage) {
    at = input.notAfter - Math.floor((lifetime * input.renewBeforePercentage) / 100);
  }
  const spread = Math.min(lifetime * 0.02, 3_600_000);
  at -= Math.floor(spread * fraction);
  if (input.ariWindow && input.ariWindow.end > input.ariWindow.start) {
    const span = input.ariWindow.end.getTime() - input.ariWindow.start.getTime();
    at = Math.min(at, input.ariWindow.start.getTime() + Math.floor(span * fraction));
  }
  return new Date(at);
}

/** Over how long after start the CA is first asked for renewal windows (ARI) of certificates already in status. */
export const ARI_START_SPREAD_MS = 3_600_000;

export interface DeferredRenewalInput {
  status: CertificateStatus;
  generation: number;
  /** The certificate now in the Secret (milliseconds since the epoch). */
  notAfter: number;
  now: Date;
  /** When this Certificate's first ARI poll after start is due (start + seeded share of ARI_START_SPREAD_MS). */
  pollAt: Date;
}

/**
 * After a restart, thousands of Ready Certificates would each ask the CA for
 * its renewal window at once. Until its seeded poll time, a Certificate keeps
 * the renewal time in its status, which the last sync computed with the CA's
 * window, if that status is about the same certificate and the same spec.
 * Undefined: ask the CA now.
 */
export function deferredRenewal({ status, generation, notAfter, now, pollAt }: DeferredRenewalInput): Date | undefined {
  if (now >= pollAt || !status.renewalTime || !status.notAfter) return undefined;
  if (Date.parse(status.notAfter) !== Math.floor(notAfter / 1000) * 1000) return undefined;
  const ready = status.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True' || ready.observedGeneration !== generation) return undefined;
  const renewal = Date.parse(status.renewalTime);
  return Number.isNaN(renewal) ? undefined : new Date(renewal);
}

// ---------------------------------------------------------------------------
// cert-manager parity: the issuer group, the Secret's extra outputs, and what
// the spec asks that certkeeper or the CA does not do (said, never ignored)
// ---------------------------------------------------------------------------

/** issuerRef.group names another controller's issuers (cert-manager.io, an external issuer): not certkeeper's to serve. */
export function foreignIssuerGroup(spec: CertificateSpec): { reason: string; message: string } | undefined {
  const group = spec.issuerRef.group;
  if (!group || group === 'certkeeper.io') return undefined;
  return {
    reason: 'IssuerGroupNotServed',
    message: `issuerRef.group is ${group}: that issuer belongs to another controller, and certkeeper does not serve it with its own issuer of the same name. Set issuerRef.group to certkeeper.io (or remove it) to have certkeeper issue this certificate.`,
  };
}

/** The Secret's data keys besides tls.crt and tls.key that the spec asks for, sorted and comma-separated. */
export function expectedOutputs(spec: CertificateSpec): string {
  const keys: string[] = [];
  if (spec.keystores?.pkcs12?.create) keys.push('keystore.p12');
  if (spec.keystores?.jks?.create) keys.push('keystore.jks');
  for (const format of spec.additionalOutputFormats ?? []) keys.push(format.type === 'CombinedPEM' ? 'tls-combined.pem' : 'key.der');
  return [...new Set(keys)].sort().join(',');
}

/** The Secret holds a valid certificate, but not in the files and encoding the spec asks for: rewrite them, no new order. */
export function outputsStale(spec: CertificateSpec, secret: SecretFacts, passwordSource?: string): string | undefined {
  const expected = expectedOutputs(spec);
  // Other keys (a user's own, or cert-manager's ca.crt) are left alone; only what certkeeper writes is compared.
  const present = new Set((secret.outputs ?? '').split(',').filter(Boolean));
  const wanted = new Set(expected.split(',').filter(Boolean));
  const missing = [...wanted].filter((k) => !present.has(k));
  const extra = [...present].filter((k) => !wanted.has(k));
  const encoding = spec.privateKey?.encoding ?? 'PKCS8';
  const problems = [
    ...(missing.length ? [`${missing.join(', ')} missing`] : []),
    ...(extra.length ? [`${extra.join(', ')} no longer asked for`] : []),
    ...(secret.key && (secret.keyEncoding ?? 'PKCS8') !== encoding ? [`tls.key is ${secret.keyEncoding ?? 'PKCS8'}, the spec asks for ${encoding}`] : []),
    // The password Secret was edited (or the literal changed) since the keystores were written.
    ...(passwordSource !== undefined && missing.length === 0 && secret.keystorePasswordSource !== passwordSource ? ['the keystore password changed (or was not recorded yet)'] : []),
  ];
  return problems.length ? problems.join('; ') : undefined;
}

/** What the spec asks that has no effect here, or that the issued certificate does not have. Pure. */
export function certificateNotes(spec: CertificateSpec, certificate: CertificateFacts | undefined, localIssuer = false): string[] {
  const notes: string[] = [];
  if (spec.revisionHistoryLimit !== undefined) notes.push('revisionHistoryLimit has no effect (certkeeper keeps no CertificateRequests)');
  if (spec.renewal !== undefined) notes.push('spec.renewal (renewal windows) is not applied: certkeeper renews at the renewal time above, whatever the windows say');
  if (spec.signatureAlgorithm !== undefined) notes.push(`signatureAlgorithm ${spec.signatureAlgorithm} has no effect (the ${localIssuer ? 'issuer signs with the algorithm of its key' : 'CA signs the certificate with its own algorithm'})`);
  if (spec.encodeUsagesInRequest !== undefined && !localIssuer) notes.push('encodeUsagesInRequest has no effect (certkeeper never puts usages in the CSR; the CA chooses them)');
  if (spec.literalSubject) notes.push(`literalSubject is not ${localIssuer ? 'written' : 'sent'} (certkeeper builds the subject from commonName and subject${localIssuer ? '' : '; ACME CAs keep only the common name'})`);
  const subject = spec.subject;
  // selfSigned and ca issuers write every subject field and exactly the usages asked for.
  if (subject && !localIssuer) {
    const multi = (['organizations', 'countries', 'organizationalUnits', 'localities', 'provinces'] as const).filter((k) => (subject[k]?.length ?? 0) > 1);
    const unsent = (['streetAddresses', 'postalCodes', 'serialNumber'] as const).filter((k) => subject[k] !== undefined);
    if (multi.length) notes.push(`only the first value of subject.${multi.join(', subject.')} goes into the CSR`);
    if (unsent.length) notes.push(`subject.${unsent.join(', subject.')} ${unsent.length > 1 ? 'are' : 'is'} not sent`);
    notes.push('ACME CAs drop subject fields other than the common name');
  }
  const profile = spec.keystores?.pkcs12?.profile;
  if (profile && profile !== 'Modern2023') notes.push(`keystores.pkcs12.profile ${profile} is written as Modern2023 (AES-256, PBKDF2-SHA256)`);
  if (certificate && spec.usages && !localIssuer) {
    const have = certificate.extendedKeyUsage ?? 0;
    const lacking = spec.usages.filter((u) => u in extendedKeyUsageBits && !(have & extendedKeyUsageBits[u as keyof typeof extendedKeyUsageBits].bit));
    if (lacking.length) notes.push(`the CA did not grant usage ${lacking.join(', ')} (ACME CAs choose usages by profile; GTS grants client auth only on its client_auth directory)`);
  }
  return notes;
}
