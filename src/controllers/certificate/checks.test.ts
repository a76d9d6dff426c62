import { describe, expect, it } from 'vitest';
import type { CertificateSpec } from '../../api/certificate.ts';
import type { CertificateFacts } from '../../pki/certificate.ts';
import { deferredRenewal, needsIssuance, Reason, renewalTime, requestedNames, spreadFraction, type SecretFacts } from './checks.ts';
import type { CertificateStatus } from '../../api/certificate.ts';

const spec: CertificateSpec = { secretName: 'web-tls', issuerRef: { name: 'gts', kind: 'Issuer' }, dnsNames: ['www.example.com', 'example.com'] };
const now = new Date('2026-06-01T00:00:00Z');
const cert = (over: Partial<CertificateFacts> = {}): CertificateFacts => ({
  chainLength: 2,
  notBefore: new Date('2026-05-01T00:00:00Z'), notAfter: new Date('2026-07-30T00:00:00Z'),
  dnsNames: ['example.com', 'www.example.com'], ipAddresses: [], commonName: undefined, serialNumber: '01', ...over,
});
const good: SecretFacts = { exists: true, certificate: cert(), key: { algorithm: 'ECDSA', size: 256, matchesCertificate: true }, issuer: { kind: 'Issuer', name: 'gts' } };

describe('needsIssuance', () => {
  const rows: [string, Partial<SecretFacts>, CertificateSpec, Date | undefined, string | undefined][] = [
    ['issues when the Secret is missing', { exists: false, certificate: undefined, key: undefined }, spec, undefined, Reason.SecretMissing],
    ['issues when tls.crt is not a certificate', { certificate: undefined }, spec, undefined, Reason.SecretInvalid],
    ['issues when tls.key is missing', { key: undefined }, spec, undefined, Reason.SecretInvalid],
    ['issues when the key does not match the certificate', { key: { algorithm: 'ECDSA', size: 256, matchesCertificate: false } }, spec, undefined, Reason.KeyMismatch],
    ['issues when the spec asks for another key algorithm', {}, { ...spec, privateKey: { algorithm: 'RSA', rotationPolicy: 'Always' } }, undefined, Reason.KeyChanged],
    ['issues when a DNS name was added', {}, { ...spec, dnsNames: ['www.example.com', 'example.com', 'api.example.com'] }, undefined, Reason.NamesChanged],
    ['issues when the commonName is not among the names', {}, { ...spec, commonName: 'other.example.com' }, undefined, Reason.NamesChanged],
    ['issues when the IP addresses differ', {}, { ...spec, ipAddresses: ['127.0.0.1'] }, undefined, Reason.NamesChanged],
    ['issues when the issuer changed', {}, { ...spec, issuerRef: { name: 'gts', kind: 'ClusterIssuer' } }, undefined, Reason.IssuerChanged],
    ['issues when the certificate expired', { certificate: cert({ notAfter: new Date('2026-05-31T00:00:00Z') }) }, spec, undefined, Reason.Expired],
    ['issues when renewal is due', {}, spec, new Date('2026-05-31T00:00:00Z'), Reason.RenewalDue],
    ['does nothing for a valid certificate before renewal', {}, spec, new Date('2026-07-01T00:00:00Z'), undefined],
    ['ignores name order and case', { certificate: cert({ dnsNames: ['WWW.example.com', 'example.com'] }) }, spec, undefined, undefined],
  ];
  it.each(rows)('%s', (_name, over, certSpec, renewal, reason) => {
    expect(needsIssuance({ spec: certSpec, secretName: 'web-tls', secret: { ...good, ...over }, now, renewalTime: renewal })?.reason).toBe(reason);
  });

  it('names the Secret and the difference in its message', () => {
    const verdict = needsIssuance({ spec: { ...spec, dnsNames: ['a.example.com'] }, secretName: 'web-tls', secret: good, now });
    expect(verdict?.message).toBe('the certificate is for DNS names [example.com, www.example.com], spec asks for [a.example.com]');
  });
});

describe('requestedNames', () => {
  it('adds a DNS commonName to the names once, sorted', () => {
    expect(requestedNames({ ...spec, commonName: 'www.example.com' }).dnsNames).toEqual(['example.com', 'www.example.com']);
    expect(requestedNames({ ...spec, commonName: '10.0.0.1', dnsNames: [] })).toEqual({ commonName: '10.0.0.1', dnsNames: [], ipAddresses: ['10.0.0.1'] });
  });
});

describe('renewalTime', () => {
  const notBefore = new Date('2026-01-01T00:00:00Z');
  const notAfter = new Date('2026-04-01T00:00:00Z'); // 90 days
  const lifetime = notAfter.getTime() - notBefore.getTime();

  it('renews at two thirds of the lifetime, moved earlier by at most an hour', () => {
    const at = renewalTime({ notBefore, notAfter, seed: 'uid-1' }).getTime();
    const twoThirds = notBefore.getTime() + (lifetime * 2) / 3;
    expect(at).toBeLessThanOrEqual(twoThirds);
    expect(at).toBeGreaterThan(twoThirds - 3_600_000);
  });

  it('honours renewBefore', () => {
    const at = renewalTime({ notBefore, notAfter, renewBefore: '720h', seed: 'uid-1' }).getTime();
    expect(notAfter.getTime() - at).toBeGreaterThanOrEqual(720 * 3_600_000);
    expect(notAfter.getTime() - at).toBeLessThan(721 * 3_600_000);
  });

  it('falls back to two thirds when renewBefore exceeds the lifetime', () => {
    const at = renewalTime({ notBefore, notAfter, renewBefore: '4000h', seed: 'x' }).getTime();
    expect(at).toBeGreaterThan(notBefore.getTime() + lifetime / 2);
  });

  it('is the same after a restart and spreads different certificates apart', () => {
    expect(renewalTime({ notBefore, notAfter, seed: 'a' })).toEqual(renewalTime({ notBefore, notAfter, seed: 'a' }));
    const times = new Set(Array.from({ length: 100 }, (_, i) => renewalTime({ notBefore, notAfter, seed: `uid-${i}` }).getTime()));
    expect(times.size).toBeGreaterThan(95);
  });

  it('never renews later than a later ARI window would allow, and not later than its own schedule', () => {
    const late = { start: new Date('2026-03-25T00:00:00Z'), end: new Date('2026-03-26T00:00:00Z') };
    expect(renewalTime({ notBefore, notAfter, seed: 'a', ariWindow: late })).toEqual(renewalTime({ notBefore, notAfter, seed: 'a' }));
  });

  it('picks a time inside the CA\'s ARI window when it is earlier (e.g. before a revocation)', () => {
    const ariWindow = { start: new Date('2026-03-01T00:00:00Z'), end: new Date('2026-03-03T00:00:00Z') };
    for (const seed of ['a', 'b', 'c']) {
      const at = renewalTime({ notBefore, notAfter, seed, ariWindow });
      expect(at >= ariWindow.start && at < ariWindow.end).toBe(true);
    }
  });

  it('spreadFraction stays in [0, 1)', () => {
    for (let i = 0; i < 50; i++) {
      const f = spreadFraction(String(i));
      expect(f >= 0 && f < 1).toBe(true);
    }
  });
});

describe('deferredRenewal', () => {
  const notAfter = new Date('2026-07-30T00:00:00.400Z');
  const status: CertificateStatus = {
    notAfter: '2026-07-30T00:00:00Z',
    renewalTime: '2026-06-29T10:00:00Z',
    conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'valid', lastTransitionTime: '2026-05-01T00:00:00Z', observedGeneration: 3 }],
  };
  const base = { status, generation: 3, notAfter, now, pollAt: new Date(now.getTime() + 60_000) };
  const rows: [string, Partial<typeof base>, string | undefined][] = [
    ['keeps the renewal time in status before the poll time', {}, '2026-06-29T10:00:00.000Z'],
    ['asks the CA once the poll time has come', { now: base.pollAt }, undefined],
    ['asks when status describes another certificate', { notAfter: new Date('2026-08-30T00:00:00Z') }, undefined],
    ['asks when the spec changed since', { generation: 4 }, undefined],
    ['asks when status has no renewal time', { status: { ...status, renewalTime: undefined } }, undefined],
    ['asks when the Certificate was not Ready', { status: { ...status, conditions: [{ ...status.conditions![0]!, status: 'False' }] } }, undefined],
    ['asks when the renewal time is not a time', { status: { ...status, renewalTime: 'soon' } }, undefined],
  ];
  it.each(rows)('%s', (_name, over, expected) => {
    expect(deferredRenewal({ ...base, ...over })?.toISOString()).toBe(expected);
  });
});
