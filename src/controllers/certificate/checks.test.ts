import { describe, expect, it } from 'vitest';
import { DNS_NAME_PATTERN, type CertificateSpec } from '../../api/certificate.ts';
import type { Solver } from '../../api/solvers.ts';
import type { CertificateFacts } from '../../pki/certificate.ts';
import {
  deferredRenewal, dnsNameProblem, invalidNames, needsIssuance, Reason, Refusal, renewalTime, requestedNames, secretOwnership, spreadFraction,
  unsolvableNames, acmeUnsupported, signedRequestDigest, type Claimant, type OwnershipInput, type SecretFacts, certificateNotes, expectedOutputs, foreignIssuerGroup, outputsStale, stillValidDuring,
} from './checks.ts';
import type { CertificateStatus } from '../../api/certificate.ts';

const spec: CertificateSpec = { secretName: 'web-tls', issuerRef: { name: 'gts', kind: 'Issuer' }, dnsNames: ['www.example.com', 'example.com'] };
const now = new Date('2026-06-01T00:00:00Z');
const cert = (over: Partial<CertificateFacts> = {}): CertificateFacts => ({
  chainLength: 2,
  notBefore: Date.parse('2026-05-01T00:00:00Z'), notAfter: Date.parse('2026-07-30T00:00:00Z'),
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
    ['issues when the certificate expired', { certificate: cert({ notAfter: Date.parse('2026-05-31T00:00:00Z') }) }, spec, undefined, Reason.Expired],
    ['issues when renewal is due', {}, spec, new Date('2026-05-31T00:00:00Z'), Reason.RenewalDue],
    ['does nothing for a valid certificate before renewal', {}, spec, new Date('2026-07-01T00:00:00Z'), undefined],
    ['ignores name order and case', { certificate: cert({ dnsNames: ['WWW.example.com', 'example.com'] }) }, spec, undefined, undefined],
    ['issues when one name was replaced by another (same count)', { certificate: cert({ dnsNames: ['example.com', 'old.example.com'] }) }, spec, undefined, Reason.NamesChanged],
    ['counts a repeated name in the certificate (as a sort did)', { certificate: cert({ dnsNames: ['example.com', 'example.com'] }) }, spec, undefined, Reason.NamesChanged],
    ['compares long name lists in any order', { certificate: cert({ dnsNames: Array.from({ length: 12 }, (_, i) => `n${11 - i}.example.com`) }) },
      { ...spec, dnsNames: Array.from({ length: 12 }, (_, i) => `N${i}.example.com`) }, undefined, undefined],
    ['issues when one of a long name list differs', { certificate: cert({ dnsNames: Array.from({ length: 12 }, (_, i) => `n${i}.example.com`) }) },
      { ...spec, dnsNames: Array.from({ length: 12 }, (_, i) => `n${i === 5 ? 'x' : i}.example.com`) }, undefined, Reason.NamesChanged],
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
  const notBefore = Date.parse('2026-01-01T00:00:00Z');
  const notAfter = Date.parse('2026-04-01T00:00:00Z'); // 90 days
  const lifetime = notAfter - notBefore;

  it('renews at two thirds of the lifetime, moved earlier by at most an hour', () => {
    const at = renewalTime({ notBefore, notAfter, seed: 'uid-1' }).getTime();
    const twoThirds = notBefore + (lifetime * 2) / 3;
    expect(at).toBeLessThanOrEqual(twoThirds);
    expect(at).toBeGreaterThan(twoThirds - 3_600_000);
  });

  it('honours renewBefore', () => {
    const at = renewalTime({ notBefore, notAfter, renewBefore: '720h', seed: 'uid-1' }).getTime();
    expect(notAfter - at).toBeGreaterThanOrEqual(720 * 3_600_000);
    expect(notAfter - at).toBeLessThan(721 * 3_600_000);
  });

  it('falls back to two thirds when renewBefore exceeds the lifetime', () => {
    const at = renewalTime({ notBefore, notAfter, renewBefore: '4000h', seed: 'x' }).getTime();
    expect(at).toBeGreaterThan(notBefore + lifetime / 2);
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
  const notAfter = Date.parse('2026-07-30T00:00:00.400Z');
  const status: CertificateStatus = {
    notAfter: '2026-07-30T00:00:00Z',
    renewalTime: '2026-06-29T10:00:00Z',
    conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'valid', lastTransitionTime: '2026-05-01T00:00:00Z', observedGeneration: 3 }],
  };
  const base = { status, generation: 3, notAfter, now, pollAt: new Date(now.getTime() + 60_000) };
  const rows: [string, Partial<typeof base>, string | undefined][] = [
    ['keeps the renewal time in status before the poll time', {}, '2026-06-29T10:00:00.000Z'],
    ['asks the CA once the poll time has come', { now: base.pollAt }, undefined],
    ['asks when status describes another certificate', { notAfter: Date.parse('2026-08-30T00:00:00Z') }, undefined],
    ['asks when the spec changed since', { generation: 4 }, undefined],
    ['asks when status has no renewal time', { status: { ...status, renewalTime: undefined } }, undefined],
    ['asks when the Certificate was not Ready', { status: { ...status, conditions: [{ ...status.conditions![0]!, status: 'False' }] } }, undefined],
    ['asks when the renewal time is not a time', { status: { ...status, renewalTime: 'soon' } }, undefined],
  ];
  it.each(rows)('%s', (_name, over, expected) => {
    expect(deferredRenewal({ ...base, ...over })?.toISOString()).toBe(expected);
  });
});

describe('invalidNames', () => {
  const named = (over: Partial<CertificateSpec>): CertificateSpec => ({ ...spec, dnsNames: [], ...over });
  const rows: [string, Partial<CertificateSpec>, string | undefined][] = [
    ['accepts lower-case host names and a leading wildcard', { dnsNames: ['www.example.com', '*.example.com', 'a-b.c1.example'] }, undefined],
    ['accepts IPv4 and IPv6 addresses', { ipAddresses: ['192.0.2.1', '2001:db8::1'] }, undefined],
    ['accepts an IP address as commonName', { commonName: '192.0.2.1' }, undefined],
    ['refuses an underscore and punctuation', { dnsNames: ['bad_name!.example.com'] }, 'is not a DNS name'],
    ['refuses a space', { dnsNames: ['www example.com'] }, 'is not a DNS name'],
    ['refuses an empty label', { dnsNames: ['a..b'] }, 'is not a DNS name'],
    ['refuses a leading hyphen', { dnsNames: ['-www.example.com'] }, 'is not a DNS name'],
    ['refuses a trailing hyphen in a label', { dnsNames: ['www-.example.com'] }, 'is not a DNS name'],
    ['refuses a wildcard that is not the whole first label', { dnsNames: ['w*.example.com'] }, 'is not a DNS name'],
    ['refuses a label over 63 characters', { dnsNames: [`${'a'.repeat(64)}.example.com`] }, 'has a label of 64 characters'],
    ['refuses a name over 253 characters', { dnsNames: [Array.from({ length: 6 }, () => 'a'.repeat(50)).join('.')] }, 'has 305 characters, at most 253'],
    ['refuses upper case, giving the lower-case form', { dnsNames: ['WWW.example.com'] }, 'must be lower-case ("www.example.com")'],
    ['refuses a Unicode name, giving its punycode form', { dnsNames: ['bücher.example'] }, 'write it in its punycode form "xn--bcher-kva.example"'],
    ['refuses an IP address among the DNS names', { dnsNames: ['192.0.2.1'] }, 'list it under ipAddresses'],
    ['refuses an address that is not an IP', { ipAddresses: ['192.0.2.300'] }, '"192.0.2.300" is not an IPv4 or IPv6 address'],
    ['refuses an invalid commonName', { commonName: 'not valid' }, 'commonName: "not valid" is not a DNS name'],
  ];
  it.each(rows)('%s', (_name, over, expected) => {
    const refused = invalidNames(named(over));
    if (expected === undefined) expect(refused).toBeUndefined();
    else {
      expect(refused?.reason).toBe(Refusal.InvalidName);
      expect(refused?.message).toContain(expected);
      expect(refused?.message).toMatch(/nothing was ordered$/);
    }
  });

  it('agrees with the API server\'s rule on every name it accepts', () => {
    const pattern = new RegExp(DNS_NAME_PATTERN);
    for (const name of ['a', 'a.b', '*.a.b', 'xn--bcher-kva.example', `${'a'.repeat(63)}.b`]) {
      expect(pattern.test(name), name).toBe(true);
      expect(dnsNameProblem(name), name).toBeUndefined();
    }
    for (const name of ['*', '*.', '.a', 'a.', 'a_b', 'A.b', '*.*.a']) {
      expect(pattern.test(name), name).toBe(false);
      expect(dnsNameProblem(name), name).toBeDefined();
    }
  });
});

describe('unsolvableNames', () => {
  const http01: Solver = { http01: {} };
  const dns01Zone: Solver = { selector: { dnsZones: ['example.com'] }, dns01: { rfc2136: { nameserver: '192.0.2.53:53', tsigKeyName: 'k', tsigAlgorithm: 'HMACSHA256', tsigSecretSecretRef: { name: 't', key: 'secret' } } } } as Solver;
  const names = (dnsNames: string[]) => ({ dnsNames, ipAddresses: [] });
  const rows: [string, string[], Solver[], string | undefined][] = [
    ['accepts names an http01 solver covers', ['www.example.com'], [http01], undefined],
    ['refuses a wildcard when only http01 is configured', ['*.example.com', 'example.com'], [http01], 'no solver of Issuer ns/gts matches *.example.com (wildcards need a dns01 solver)'],
    ['accepts a wildcard inside a dns01 solver\'s zone', ['*.example.com'], [dns01Zone], undefined],
    ['refuses a wildcard outside every dns01 solver\'s zone', ['*.example.org'], [dns01Zone], 'matches *.example.org'],
    ['refuses a name no selector matches', ['www.example.org'], [dns01Zone], 'matches www.example.org; nothing was ordered'],
    ['refuses everything without solvers', ['www.example.com'], [], 'matches www.example.com'],
  ];
  it.each(rows)('%s', (_name, dnsNames, solvers, expected) => {
    const refused = unsolvableNames(names(dnsNames), solvers, {}, 'Issuer ns/gts');
    if (expected === undefined) expect(refused).toBeUndefined();
    else expect(refused).toEqual({ reason: Refusal.NoSolver, message: expect.stringContaining(expected) });
  });
});

describe('secretOwnership', () => {
  const me: Claimant = { name: 'web', uid: 'u-web', createdAt: '2026-06-01T10:00:00Z' };
  const older: Claimant = { name: 'zeta', uid: 'u-zeta', createdAt: '2026-06-01T09:00:00Z' };
  const younger: Claimant = { name: 'alpha', uid: 'u-alpha', createdAt: '2026-06-01T11:00:00Z' };
  const sameSecond: Claimant = { name: 'api', uid: 'u-api', createdAt: me.createdAt };
  const tls = (owner?: SecretFacts['owner']): SecretFacts => ({ exists: true, type: 'kubernetes.io/tls', ...(owner ? { owner } : {}) });
  const absent: SecretFacts = { exists: false };
  const base: OwnershipInput = { certificate: me, secretName: 'web-tls', secret: absent, rivals: [] };
  const rows: [string, Partial<OwnershipInput>, string | undefined, string?][] = [
    ['writes a Secret that does not exist yet', {}, undefined],
    ['writes its own Secret', { secret: tls({ name: 'web', uid: 'u-web' }) }, undefined],
    ['writes a Secret an earlier certkeeper marked with its name only', { secret: tls({ name: 'web' }), rivals: [older] }, undefined],
    ['adopts a kubernetes.io/tls Secret nobody marked', { secret: tls() }, undefined],
    ['refuses a Secret another live Certificate wrote', { secret: tls({ name: 'zeta', uid: 'u-zeta' }), rivals: [older] }, Refusal.SecretInUse, 'belongs to Certificate zeta, which wrote it'],
    ['refuses it even when the owner came later', { secret: tls({ name: 'alpha', uid: 'u-alpha' }), rivals: [younger] }, Refusal.SecretInUse, 'belongs to Certificate alpha'],
    ['takes over a Secret whose owner was deleted', { secret: tls({ name: 'zeta', uid: 'u-gone' }) }, undefined],
    ['takes over its old Secret when re-created under the same name', { secret: tls({ name: 'web', uid: 'u-old' }) }, undefined],
    ['yields to an older Certificate when nobody wrote the Secret yet', { rivals: [older] }, Refusal.SecretInUse, 'Certificate zeta also names Secret web-tls and came first'],
    ['goes first when it is the older one', { rivals: [younger] }, undefined],
    ['breaks a tie of creation times by name', { rivals: [sameSecond] }, Refusal.SecretInUse, 'Certificate api also names'],
    ['yields to the oldest of several', { rivals: [younger, older] }, Refusal.SecretInUse, 'Certificate zeta'],
    ['yields to a rival holding the next-key claim', { rivals: [younger], claim: { name: 'alpha', uid: 'u-alpha' } }, Refusal.SecretInUse, 'Certificate alpha is issuing into Secret web-tls'],
    ['ignores a claim of a Certificate that is gone', { claim: { name: 'old', uid: 'u-gone' } }, undefined],
    ['refuses an Opaque Secret', { secret: { exists: true, type: 'Opaque' } }, Refusal.SecretNotOurs, 'exists with type Opaque'],
    ['refuses a Secret of another type, even one it marked', { secret: { exists: true, type: 'kubernetes.io/dockerconfigjson', owner: { uid: 'u-web' } } }, Refusal.SecretNotOurs, 'kubernetes.io/dockerconfigjson'],
    ['refuses an account key Secret', { secret: { exists: true, type: 'Opaque', accountKey: true } }, Refusal.SecretIsAccountKey, 'holds the ACME account key'],
    ['refuses the name of an Issuer\'s account key before it exists', { accountKeyOf: 'Issuer ns/gts' }, Refusal.SecretIsAccountKey, 'account key of Issuer ns/gts'],
  ];
  it.each(rows)('%s', (_name, over, reason, message) => {
    const refused = secretOwnership({ ...base, ...over });
    expect(refused?.reason).toBe(reason);
    if (message) expect(refused?.message).toContain(message);
  });

  it('names what to do in every refusal', () => {
    const refused = secretOwnership({ ...base, secret: tls({ name: 'zeta', uid: 'u-zeta' }), rivals: [older] });
    expect(refused?.message).toBe('Secret web-tls belongs to Certificate zeta, which wrote it; this Certificate proceeds once zeta is deleted or names another Secret');
  });
});

describe('cert-manager parity checks', () => {
  const base = { secretName: 's', issuerRef: { name: 'gts', kind: 'Issuer' as const }, dnsNames: ['a.example.com'] };

  it('renews when the given share of the lifetime remains (renewBeforePercentage)', () => {
    const notBefore = Date.parse('2026-01-01T00:00:00Z');
    const notAfter = Date.parse('2026-04-01T00:00:00Z'); // 90 days
    const at = renewalTime({ notBefore, notAfter, renewBeforePercentage: 50, seed: 'x' });
    const midpoint = notBefore + (notAfter - notBefore) / 2;
    expect(at.getTime()).toBeLessThanOrEqual(midpoint);
    expect(at.getTime()).toBeGreaterThan(midpoint - 3_600_001);
  });

  it.each([
    [undefined, false], ['certkeeper.io', false], ['cert-manager.io', true], ['awspca.cert-manager.io', true],
  ])('refuses issuerRef.group %s: %s', (group, refused) => {
    const verdict = foreignIssuerGroup({ ...base, issuerRef: { ...base.issuerRef, ...(group ? { group } : {}) } } as never);
    expect(verdict !== undefined).toBe(refused);
    if (verdict) expect(verdict.message).toContain(`issuerRef.group is ${group}`);
  });

  it('knows which files the spec asks for and when the Secret lacks or has too many', () => {
    const spec = { ...base, keystores: { pkcs12: { create: true, password: 'x' }, jks: { create: false, password: 'x' } }, additionalOutputFormats: [{ type: 'DER' as const }, { type: 'CombinedPEM' as const }] };
    expect(expectedOutputs(spec as never)).toBe('key.der,keystore.p12,tls-combined.pem');
    const key = { algorithm: 'ECDSA' as const, size: 256, matchesCertificate: true };
    expect(outputsStale(spec as never, { exists: true, key, outputs: 'key.der,keystore.p12,tls-combined.pem' })).toBeUndefined();
    expect(outputsStale(spec as never, { exists: true, key, outputs: 'key.der' })).toBe('keystore.p12, tls-combined.pem missing');
    expect(outputsStale(base as never, { exists: true, key, outputs: 'keystore.jks' })).toBe('keystore.jks no longer asked for');
    expect(outputsStale({ ...base, privateKey: { encoding: 'PKCS1' } } as never, { exists: true, key })).toBe('tls.key is PKCS8, the spec asks for PKCS1');
    expect(outputsStale(base as never, { exists: true, key, keyEncoding: 'PKCS1' })).toBe('tls.key is PKCS1, the spec asks for PKCS8');
  });

  it('rewrites keystores whose password source changed, and only then', () => {
    const spec = { ...base, keystores: { pkcs12: { create: true, passwordSecretRef: { name: 'pw', key: 'password' } } } };
    const key = { algorithm: 'ECDSA' as const, size: 256, matchesCertificate: true };
    const written = { exists: true as const, key, outputs: 'keystore.p12', keystorePasswordSource: 'pkcs12=secret:pw/password@10' };
    expect(outputsStale(spec as never, written, 'pkcs12=secret:pw/password@10')).toBeUndefined();
    expect(outputsStale(spec as never, written, 'pkcs12=secret:pw/password@11')).toBe('the keystore password changed (or was not recorded yet)');
    // Unknown (the password Secret not in the caches yet): nothing to compare.
    expect(outputsStale(spec as never, written, undefined)).toBeUndefined();
    // A keystore missing is reported as such, not as a password change.
    expect(outputsStale(spec as never, { ...written, outputs: '' }, 'pkcs12=secret:pw/password@11')).toBe('keystore.p12 missing');
  });

  it('records where keystore passwords come from without the password', async () => {
    const { keystorePasswordSource } = await import('./outputs.ts');
    const spec = { ...base, keystores: { pkcs12: { create: true, password: 'hunter2' }, jks: { create: true, passwordSecretRef: { name: 'pw', key: 'password' } } } };
    const source = keystorePasswordSource(spec as never, (name) => (name === 'pw' ? '42' : undefined))!;
    expect(source).toMatch(/^pkcs12=literal:[0-9a-f]{16};jks=secret:pw\/password@42$/);
    expect(source).not.toContain('hunter2');
    expect(keystorePasswordSource({ ...spec, keystores: { pkcs12: { create: true, password: 'other' } } } as never, () => undefined)).not.toBe(source.split(';')[0]);
    expect(keystorePasswordSource(spec as never, () => undefined)).toBeUndefined();
    expect(keystorePasswordSource(base as never, () => '1')).toBeUndefined();
  });

  it('names what has no effect, and the usages the CA did not grant', () => {
    const facts = { chainLength: 2, notBefore: Date.now(), notAfter: Date.now(), dnsNames: [], ipAddresses: [], commonName: undefined, serialNumber: '1', extendedKeyUsage: 1 };
    const notes = certificateNotes({
      ...base, revisionHistoryLimit: 3, signatureAlgorithm: 'SHA256WithRSA', usages: ['digital signature', 'server auth', 'client auth'],
      subject: { organizations: ['A', 'B'], postalCodes: ['1'] }, keystores: { pkcs12: { create: true, password: 'x', profile: 'LegacyRC2' } },
    } as never, facts);
    expect(notes).toEqual([
      'revisionHistoryLimit has no effect (certkeeper keeps no CertificateRequests)',
      'signatureAlgorithm SHA256WithRSA has no effect (the CA signs the certificate with its own algorithm)',
      'only the first value of subject.organizations goes into the CSR',
      'subject.postalCodes is not sent',
      'ACME CAs drop subject fields other than the common name',
      'keystores.pkcs12.profile LegacyRC2 is written as Modern2023 (AES-256, PBKDF2-SHA256)',
      'the CA did not grant usage client auth (ACME CAs choose usages by profile; GTS grants client auth only on its client_auth directory)',
    ]);
    expect(certificateNotes(base as never, facts)).toEqual([]);
  });
});

describe('renew requests', () => {
  it('re-issues a valid certificate for an outstanding request, once, and keeps it counted as valid meanwhile', () => {
    const input = { spec, secretName: 'web-tls', now, renewalTime: new Date('2026-07-01T00:00:00Z') };
    expect(needsIssuance({ ...input, secret: good, renewRequest: '2026-06-01T00:00:00Z' })?.reason).toBe(Reason.RenewRequested);
    expect(needsIssuance({ ...input, secret: good })).toBeUndefined();
    expect(stillValidDuring(Reason.RenewRequested)).toBe(true);
    expect(stillValidDuring(Reason.Expired)).toBe(false);
  });
});

describe('selfSigned and ca issuers (signed here)', () => {
  const local: CertificateSpec = { secretName: 'ca-tls', issuerRef: { name: 'root', kind: 'Issuer' }, isCA: true, commonName: 'Example Root CA' };
  const signed: SecretFacts = { ...good, certificate: cert({ dnsNames: [], commonName: 'Example Root CA' }), issuer: { kind: 'Issuer', name: 'root' }, signedRequest: signedRequestDigest(local) };
  const rows: [string, Partial<SecretFacts>, CertificateSpec, string | undefined][] = [
    ['keeps a CA whose common name is not among its names (a subject field, not a name)', {}, local, undefined],
    ['signs again when isCA changed', {}, { ...local, isCA: false }, Reason.SignedRequestChanged],
    ['signs again when the usages changed', {}, { ...local, usages: ['cert sign'] }, Reason.SignedRequestChanged],
    ['signs again when the subject changed', {}, { ...local, subject: { organizations: ['Other'] } }, Reason.SignedRequestChanged],
    ['signs again when a URI was added', {}, { ...local, uris: ['spiffe://a/b'] }, Reason.SignedRequestChanged],
    ['signs again when the duration changed', {}, { ...local, duration: '24h' }, Reason.SignedRequestChanged],
    ['keeps an adopted certificate without certkeeper\'s mark (a CA migrated from cert-manager is never signed anew)', { signedRequest: undefined }, { ...local, usages: ['cert sign'] }, undefined],
    ['still renews on the names first', {}, { ...local, dnsNames: ['ca.example.com'] }, Reason.NamesChanged],
  ];
  it.each(rows)('%s', (_name, over, certSpec, reason) => {
    expect(needsIssuance({ spec: certSpec, secretName: 'ca-tls', secret: { ...signed, ...over }, now, localIssuer: true })?.reason).toBe(reason);
  });

  it('the same spec for an ACME issuer wants the common name among the names', () => {
    expect(needsIssuance({ spec: local, secretName: 'ca-tls', secret: signed, now })?.reason).toBe(Reason.NamesChanged);
  });

  it('the digest ignores the order of usages, uris and emails', () => {
    expect(signedRequestDigest({ ...local, usages: ['server auth', 'client auth'], uris: ['b', 'a'] }))
      .toBe(signedRequestDigest({ ...local, usages: ['client auth', 'server auth'], uris: ['a', 'b'] }));
  });

  it('does not check a common name as a DNS name for them', () => {
    expect(invalidNames(local, false)).toBeUndefined();
    expect(invalidNames(local)?.reason).toBe(Refusal.InvalidName);
    expect(requestedNames({ ...local, dnsNames: ['ca.example.com'] }, false)).toEqual({ commonName: 'Example Root CA', dnsNames: ['ca.example.com'], ipAddresses: [] });
  });

  const refusals: [string, Partial<CertificateSpec>, string | undefined][] = [
    ['refuses isCA for an ACME issuer', { isCA: true }, 'isCA cannot be true: ACME CAs issue leaf certificates only'],
    ['refuses uris for an ACME issuer', { uris: ['spiffe://a/b'] }, 'uris cannot be requested: ACME CAs issue certificates for DNS names and IP addresses only'],
    ['refuses emailAddresses for an ACME issuer', { emailAddresses: ['a@example.com'] }, 'emailAddresses cannot be requested'],
    ['accepts isCA false and empty lists', { isCA: false, uris: [], emailAddresses: [] }, undefined],
  ];
  it.each(refusals)('%s', (_name, over, message) => {
    const refused = acmeUnsupported({ ...spec, ...over }, 'Issuer ns/gts');
    expect(refused?.message).toEqual(message === undefined ? undefined : expect.stringContaining(message));
    if (refused) {
      expect(refused.reason).toBe(Refusal.NotSupportedByAcme);
      expect(refused.message).toContain('Issuer ns/gts is an ACME issuer; a selfSigned or ca issuer signs such certificates');
    }
  });

  it('says spec.renewal (cert-manager\'s renewal windows) is accepted and not applied', () => {
    expect(certificateNotes({ ...spec, renewal: { windows: [{ cron: '0 2 * * 6', windowDuration: '4h' }] } }, cert())).toContain('spec.renewal (renewal windows) is not applied: certkeeper renews at the renewal time above, whatever the windows say');
    expect(certificateNotes(spec, cert()).join()).not.toContain('spec.renewal');
  });

  it('notes only what has no effect when signing here (every subject field and usage is written)', () => {
    const notes = certificateNotes({ ...local, subject: { organizations: ['A', 'B'], postalCodes: ['1'] }, usages: ['client auth'], signatureAlgorithm: 'ECDSAWithSHA256' }, cert(), true);
    expect(notes).toEqual(['signatureAlgorithm ECDSAWithSHA256 has no effect (the issuer signs with the algorithm of its key)']);
  });
});
