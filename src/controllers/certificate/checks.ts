// Why a Certificate needs (re-)issuing: a chain of small pure checks, each
// returning a named reason and a message, or nothing. The same checks decide
// readiness. Plus the renewal time, computed from the Secret (not memory), so
// a restart schedules the same renewal.
import { createHash } from 'node:crypto';
import { parseDuration, type CertificateSpec, type CertificateStatus } from '../../api/certificate.ts';
import type { CertificateFacts } from '../../pki/certificate.ts';

export const Reason = {
  SecretMissing: 'SecretMissing',
  SecretInvalid: 'SecretInvalid',
  KeyMismatch: 'KeyMismatch',
  KeyChanged: 'PrivateKeyChanged',
  NamesChanged: 'NamesChanged',
  IssuerChanged: 'IssuerChanged',
  Expired: 'Expired',
  RenewalDue: 'RenewalDue',
} as const;
export type ReissueReason = typeof Reason[keyof typeof Reason];

export interface SecretFacts {
  exists: boolean;
  /** tls.crt parsed, when parseable. */
  certificate?: CertificateFacts;
  /** tls.key present and parseable. */
  key?: { algorithm: 'ECDSA' | 'RSA'; size: number; matchesCertificate: boolean };
  /** The issuer recorded when certkeeper wrote the Secret. */
  issuer?: { kind: string; name: string };
}

export interface CheckInput {
  spec: CertificateSpec;
  secretName: string;
  secret: SecretFacts;
  now: Date;
  renewalTime?: Date;
}

export type Verdict = { reason: ReissueReason; message: string } | undefined;
type Check = (input: CheckInput) => Verdict;

/** The names a certificate must carry: dnsNames plus a DNS commonName, sorted and unique. */
export function requestedNames(spec: CertificateSpec): { commonName?: string; dnsNames: string[]; ipAddresses: string[] } {
  const isIp = (v: string) => /^[0-9.]+$/.test(v) || v.includes(':');
  const dns = new Set((spec.dnsNames ?? []).map((n) => n.toLowerCase()));
  const ips = new Set(spec.ipAddresses ?? []);
  if (spec.commonName) (isIp(spec.commonName) ? ips : dns).add(spec.commonName.toLowerCase());
  return {
    ...(spec.commonName ? { commonName: spec.commonName } : {}),
    dnsNames: [...dns].sort(),
    ipAddresses: [...ips].sort(),
  };
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && [...a].sort().every((v, i) => v === [...b].sort()[i]);

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

const namesChanged: Check = ({ spec, secret }) => {
  const cert = secret.certificate;
  if (!cert) return undefined;
  const want = requestedNames(spec);
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

const expired: Check = ({ secret, now }) =>
  secret.certificate && secret.certificate.notAfter <= now
    ? { reason: Reason.Expired, message: `the certificate expired at ${secret.certificate.notAfter.toISOString()}` }
    : undefined;

const renewalDue: Check = ({ renewalTime, now }) =>
  renewalTime && renewalTime <= now ? { reason: Reason.RenewalDue, message: `renewal was due at ${renewalTime.toISOString()}` } : undefined;

/** In order: the first that applies is the reason to issue. */
export const checks: readonly Check[] = [secretMissing, secretInvalid, keyMismatch, keyChanged, namesChanged, issuerChanged, expired, renewalDue];

export function needsIssuance(input: CheckInput): Verdict {
  for (const check of checks) {
    const verdict = check(input);
    if (verdict) return verdict;
  }
  return undefined;
}

/** A stable number in [0, 1) from a seed (the Certificate's UID): the same after a restart. */
export function spreadFraction(seed: string): number {
  return createHash('sha256').update(seed).digest().readUInt32BE(0) / 2 ** 32;
}

export interface RenewalInput {
  notBefore: Date;
  notAfter: Date;
  renewBefore?: string;
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
  const lifetime = input.notAfter.getTime() - input.notBefore.getTime();
  let at = input.notBefore.getTime() + Math.floor((lifetime * 2) / 3);
  if (input.renewBefore) {
    const before = parseDuration(input.renewBefore);
    if (before < lifetime) at = input.notAfter.getTime() - before;
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
  /** The certificate now in the Secret. */
  notAfter: Date;
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
  if (Date.parse(status.notAfter) !== Math.floor(notAfter.getTime() / 1000) * 1000) return undefined;
  const ready = status.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True' || ready.observedGeneration !== generation) return undefined;
  const renewal = Date.parse(status.renewalTime);
  return Number.isNaN(renewal) ? undefined : new Date(renewal);
}
