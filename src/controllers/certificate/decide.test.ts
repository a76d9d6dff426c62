import { describe, expect, it } from 'vitest';
import type { CertificateSpec, CertificateStatus } from '../../api/certificate.ts';
import { issuerType, type AcmeIssuerSpec, type Issuer, type IssuerSpec } from '../../api/issuer.ts';
import type { Condition } from '../../api/meta.ts';
import { Reason, requestedNames, signedRequestDigest, type SecretFacts } from './checks.ts';
import { decide, decideWith, issuanceGates, MAX_RESYNC_MS, refusalGates, secretGates, type GateChains } from './decide.ts';
import type { CertificateFacts, SecretSide } from './gather.ts';
import { requestHash } from './issue.ts';
import type { ResolvedIssuer } from './issuers.ts';

const ns = 'team-a';
const now = new Date('2026-06-01T00:00:00Z');
const hour = 3_600_000;
const spec: CertificateSpec = { secretName: 'web-tls', issuerRef: { name: 'gts', kind: 'Issuer' }, dnsNames: ['www.example.com'] };
const condition = (type: string, status: 'True' | 'False', reason: string, observedGeneration = 1): Condition =>
  ({ type, status, reason, message: `${reason} message`, observedGeneration, lastTransitionTime: '2026-01-01T00:00:00Z' });

const acme: AcmeIssuerSpec = { server: 'https://ca.example/directory', privateKeySecretRef: { name: 'acct' }, solvers: [{ http01: {} }] };
const issuerOf = (issuerSpec: IssuerSpec, status: Issuer['status'] = { conditions: [condition('Ready', 'True', 'AccountReady')], acme: { accountSecretRef: { name: 'acct', namespace: ns } } }): Issuer =>
  ({ apiVersion: 'certkeeper.io/v1alpha1', kind: 'Issuer', metadata: { name: 'gts', namespace: ns }, spec: issuerSpec, status });
const acmeIssuer = issuerOf({ acme });
const selfSigned = issuerOf({ selfSigned: {} }, { conditions: [condition('Ready', 'True', 'SelfSigned')] });
const resolved = (issuer: Issuer | undefined): ResolvedIssuer =>
  ({ kind: 'Issuer', ref: `Issuer ${ns}/gts`, ...(issuer ? { issuer, signer: issuerType(issuer.spec) } : {}), secretNamespace: ns });

// Issued 2026-05-01 for 90 days: renewal at two thirds (late June), well after `now`.
const certificate = { chainLength: 2, notBefore: Date.parse('2026-05-01T00:00:00Z'), notAfter: Date.parse('2026-07-30T00:00:00Z'), dnsNames: ['www.example.com'], ipAddresses: [], commonName: undefined, serialNumber: '01' };
const valid: SecretFacts = {
  exists: true, type: 'kubernetes.io/tls', owner: { name: 'web', uid: 'uid-web' }, certificate,
  key: { algorithm: 'ECDSA', size: 256, matchesCertificate: true }, issuer: { kind: 'Issuer', name: 'gts' },
};
// Issued 2026-03-01, valid until 2026-06-10: renewal was due in May, the certificate still serves.
const due: SecretFacts = { ...valid, certificate: { ...certificate, notBefore: Date.parse('2026-03-01T00:00:00Z'), notAfter: Date.parse('2026-06-10T00:00:00Z') } };
const missing: SecretFacts = { exists: false };

interface Given {
  spec?: Partial<CertificateSpec>;
  issuer?: Issuer | null;
  secret?: SecretFacts;
  side?: Partial<SecretSide>;
  previous?: CertificateStatus;
  annotations?: Record<string, string>;
  facts?: Partial<CertificateFacts>;
}

/** A sync from the caches, the Secret read. */
function fromCache(given: Given = {}): CertificateFacts {
  const certSpec = { ...spec, ...given.spec };
  return {
    key: `${ns}/web`, namespace: ns, name: 'web', live: false,
    object: {
      apiVersion: 'certkeeper.io/v1alpha1', kind: 'Certificate',
      metadata: { name: 'web', namespace: ns, uid: 'uid-web', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z', ...(given.annotations ? { annotations: given.annotations } : {}) },
      spec: certSpec,
    },
    self: { name: 'web', uid: 'uid-web', createdAt: '2026-01-01T00:00:00Z' },
    generation: 1,
    previous: given.previous ?? {},
    parsed: { ok: true, spec: certSpec, issuer: resolved(given.issuer === null ? undefined : given.issuer ?? acmeIssuer) },
    startedAt: now.getTime() - 2 * hour,
    renewalInfo: false,
    installation: 'certkeeper',
    secret: { facts: given.secret ?? valid, rivals: [], ...given.side },
    ...given.facts,
  };
}

/** A sync confirmed live, with everything an issuance reads read and in order. */
function confirmed(given: Given = {}): CertificateFacts {
  return fromCache({
    ...given,
    facts: { live: true, account: { usable: true, keyPem: 'ACCOUNT KEY', accountUrl: 'https://ca.example/acct/1' }, ingresses: {}, passwords: {}, ...given.facts },
  });
}

const failedAt = (minutesAgo: number, attempts: number): CertificateStatus => ({
  failedIssuanceAttempts: attempts, lastFailureTime: new Date(now.getTime() - minutesAgo * 60_000).toISOString(),
  conditions: [condition('Issuing', 'False', 'Failed')],
});
const hash = requestHash({ names: requestedNames(spec), issuer: 'Issuer/gts' });
const nextKey = (installation: string, storedMinutesAgo = 1) => ({
  foreign: false, owner: { name: 'web', uid: 'uid-web' }, revision: 1, requestHash: hash, keyPem: 'STORED KEY', installation,
  storedAt: new Date(now.getTime() - storedMinutesAgo * 60_000).toISOString(), resourceVersion: '7',
});
const rival = { name: 'older', uid: 'uid-older', createdAt: '2025-01-01T00:00:00Z' };
const edited: AcmeIssuerSpec = { ...acme, solvers: [{ http01: { ingress: { name: 'web' } } }] };
const wildcardOnly: Partial<CertificateSpec> = { dnsNames: ['*.example.com'] };

/** A sentence, the facts, what the plan has, and what it must not have. */
type Row = [string, CertificateFacts, Record<string, unknown>, string[]?];

describe('decide', () => {
  const rows: Row[] = [
    // invalid
    ['reports a spec that does not parse, and reads nothing', { ...fromCache(), parsed: { ok: false, problem: 'spec is invalid at spec.secretName: Required' } },
      { kind: 'invalid', reason: 'InvalidSpec', message: 'spec is invalid at spec.secretName: Required' }],

    // refusalGates
    ['refuses a DNS name the CA cannot issue for, before reading the Secret', fromCache({ spec: { dnsNames: ['Bad_Name.example.com'] }, facts: { secret: undefined } }),
      { kind: 'refused', reason: 'InvalidName' }],
    ['refuses an issuerRef.group of another controller', fromCache({ spec: { issuerRef: { name: 'gts', kind: 'Issuer', group: 'cert-manager.io' } } }),
      { kind: 'refused', reason: 'IssuerGroupNotServed' }],
    ['refuses isCA asked of an ACME issuer', fromCache({ spec: { isCA: true } }), { kind: 'refused', reason: 'NotSupportedByAcme' }],
    ['refuses to sign with a ca issuer into the Secret that holds that CA (its key would be lost), before reading the Secret',
      fromCache({ spec: { secretName: 'root-ca' }, issuer: issuerOf({ ca: { secretName: 'root-ca' } }, { conditions: [condition('Ready', 'True', 'KeyPairVerified')] }), facts: { secret: undefined } }),
      { kind: 'refused', reason: 'SecretNotOurs' }],
    ['lets a ca issuer sign into another Secret', fromCache({ issuer: issuerOf({ ca: { secretName: 'root-ca' } }, { conditions: [condition('Ready', 'True', 'KeyPairVerified')] }) }),
      { kind: 'ready' }],
    ['lets a selfSigned issuer sign isCA, uris and a common name that is not a DNS name', fromCache({ issuer: selfSigned, spec: { isCA: true, uris: ['spiffe://x/y'], commonName: 'Example Root CA' } }),
      { kind: 'ready' }],

    // the Secret is read
    ['reads the Secret once the spec and the issuer pass', fromCache({ facts: { secret: undefined } }), { kind: 'read', read: 'secret' }],

    // secretGates
    ['refuses when a next-key Secret of that name is not certkeeper\'s', confirmed({ side: { nextKey: { foreign: true } } }), { kind: 'refused', reason: 'SecretNotOurs' }],
    ['refuses a Secret another Certificate wrote', fromCache({ secret: { ...valid, owner: { name: 'older', uid: 'uid-older' } }, side: { rivals: [rival] } }),
      { kind: 'refused', reason: 'SecretInUse' }],
    ['refuses a Secret that is an Issuer\'s account key', fromCache({ secret: missing, side: { accountKeyOf: `Issuer ${ns}/gts` } }), { kind: 'refused', reason: 'SecretIsAccountKey' }],

    // renewal time and the CA's window (ARI)
    ['asks the CA for its renewal window when it offers one', fromCache({ secret: { ...valid, certificate: { ...certificate, ariCertId: 'aki.serial' } }, facts: { renewalInfo: true } }),
      { kind: 'read', read: 'renewal-info', certId: 'aki.serial' }],
    ['does not ask a selfSigned issuer for a window', fromCache({ issuer: selfSigned, secret: { ...valid, certificate: { ...certificate, ariCertId: 'aki.serial' } }, facts: { renewalInfo: true } }),
      { kind: 'ready' }],
    ['renews when the CA\'s window has opened, though its own schedule is later',
      confirmed({ secret: { ...valid, certificate: { ...certificate, ariCertId: 'aki.serial' } }, facts: { renewalInfo: true, renewalWindow: { window: { start: new Date(now.getTime() - 2 * hour), end: new Date(now.getTime() - hour) } } } }),
      { kind: 'issue', reason: Reason.RenewalDue, keepsReady: true }],
    ['keeps the status\'s renewal time until its turn to ask the CA after a start, and comes back then',
      fromCache({
        secret: { ...valid, certificate: { ...certificate, ariCertId: 'aki.serial' } },
        previous: { conditions: [condition('Ready', 'True', 'Ready')], notAfter: '2026-07-30T00:00:00Z', renewalTime: '2026-06-20T00:00:00Z' },
        facts: { renewalInfo: true, startedAt: now.getTime() },
      }),
      { kind: 'ready', validity: { renewal: new Date('2026-06-20T00:00:00Z') } }],

    // ready
    ['is Ready when the Secret serves the spec, and comes back at the renewal time (at most 8 h)', fromCache(),
      { kind: 'ready', requeueAfterMs: MAX_RESYNC_MS, message: expect.stringMatching(/^Certificate is valid until 2026-07-30T00:00:00Z; renewal at 2026-06-29T2\d:\d\d:\d\dZ$/) }, ['rewriteOutputs', 'clearLeftoverKey']],
    ['confirms live before rewriting files the spec asks for and the Secret lacks', fromCache({ spec: { additionalOutputFormats: [{ type: 'CombinedPEM' }] } }),
      { kind: 'confirm-live' }],
    ['rewrites the files, live, without an order', confirmed({ spec: { additionalOutputFormats: [{ type: 'CombinedPEM' }] } }),
      { kind: 'ready', rewriteOutputs: 'tls-combined.pem missing' }],
    ['clears a key this Certificate left in its next-key Secret', fromCache({ side: { leftoverKey: { ownerUid: 'uid-web', resourceVersion: '12' } } }),
      { kind: 'ready', clearLeftoverKey: { resourceVersion: '12' } }],
    ['leaves a key another Certificate stored alone', fromCache({ side: { leftoverKey: { ownerUid: 'uid-other', resourceVersion: '12' } } }),
      { kind: 'ready' }, ['clearLeftoverKey']],

    // issuanceGates
    ['confirms live before anything is ordered', fromCache({ secret: missing }), { kind: 'confirm-live' }],
    ['waits for a missing issuer, not Ready without a certificate', confirmed({ secret: missing, issuer: null }),
      { kind: 'wait', reason: 'IssuerNotFound', keepsReady: false, message: `Issuer ${ns}/gts not found; certkeeper issues as soon as it exists` }],
    ['waits for an issuer that is not ready, keeping Ready while the certificate still serves',
      confirmed({ secret: due, issuer: issuerOf({ acme }, { conditions: [condition('Ready', 'False', 'EABKeyRejected')] }) }),
      { kind: 'wait', reason: 'IssuerNotReady', keepsReady: true, message: `Issuer ${ns}/gts is not ready: EABKeyRejected message`, validity: { notAfter: due.certificate!.notAfter } }],
    ['waits for an ACME issuer whose status has no account Secret yet', confirmed({ secret: missing, issuer: issuerOf({ acme }, { conditions: [condition('Ready', 'True', 'AccountReady')] }) }),
      { kind: 'wait', reason: 'IssuerNotReady' }],
    // Eight failures: 30 s doubled seven times, 64 minutes.
    ['holds, writing nothing, until the backoff after failures is over', confirmed({ secret: missing, previous: failedAt(10, 8) }),
      { kind: 'hold', why: 'backoff', requeueAfterMs: 54 * 60_000 }],
    ['tries again once the backoff is over', confirmed({ secret: missing, previous: failedAt(65, 8) }), { kind: 'issue' }],
    ['tries again at once after a spec change (a new generation)', confirmed({ secret: missing, previous: failedAt(1, 8), facts: { generation: 2 } }), { kind: 'issue' }],
    ['reads the ACME account key Secret the issuer\'s status names', confirmed({ secret: missing, facts: { account: undefined } }),
      { kind: 'read', read: 'account', secret: { namespace: ns, name: 'acct', key: 'tls.key' } }],
    ['waits for an account key Secret that is not usable', confirmed({ secret: missing, facts: { account: { usable: false, secretRef: `${ns}/acct` } } }),
      { kind: 'wait', reason: 'IssuerNotReady', message: `Issuer ${ns}/gts's account key Secret ${ns}/acct is not usable` }],
    ['waits for an Ingress name annotation that is not a name', confirmed({ secret: missing, annotations: { 'certkeeper.io/http01-ingress-name': 'other/web' } }),
      { kind: 'wait', reason: 'InvalidIngressName' }],
    ['waits for a name no solver matches (a wildcard with HTTP-01 only)', confirmed({ secret: missing, spec: wildcardOnly }), { kind: 'wait', reason: 'NoSolver' }],
    ['reads the Ingresses to edit in place', confirmed({ secret: missing, issuer: issuerOf({ acme: edited }), facts: { ingresses: undefined } }),
      { kind: 'read', read: 'ingresses', names: ['web'] }],
    ['waits for a missing Ingress to edit in place', confirmed({ secret: missing, issuer: issuerOf({ acme: edited }), facts: { ingresses: { missing: 'web' } } }),
      { kind: 'wait', reason: 'IngressNotFound' }],
    ['reads the keystore passwords', confirmed({ secret: missing, facts: { passwords: undefined } }), { kind: 'read', read: 'passwords' }],
    ['waits for a missing keystore password', confirmed({ secret: missing, facts: { passwords: { problem: 'Secret team-a/pw not found' } } }),
      { kind: 'wait', reason: 'KeystorePasswordMissing', message: 'Secret team-a/pw not found' }],
    ['holds while another installation issues the key it stored a minute ago', confirmed({ secret: missing, side: { nextKey: nextKey('release-b') } }),
      { kind: 'hold', why: 'issuing-elsewhere', requeueAfterMs: 30_000 }],

    // issue
    ['issues revision 1 with a new key into a missing Secret', confirmed({ secret: missing }),
      { kind: 'issue', reason: Reason.SecretMissing, revision: 1, keepsReady: false, key: { from: 'new' }, request: { names: { dnsNames: ['www.example.com'] }, requestHash: hash }, acme: { account: { accountUrl: 'https://ca.example/acct/1' } } }],
    ['issues the next revision, keeping Ready during a renewal', confirmed({ secret: due, previous: { revision: 4 } }), { kind: 'issue', reason: Reason.RenewalDue, revision: 5, keepsReady: true }],
    ['issues with the key this installation stored for the revision', confirmed({ secret: missing, side: { nextKey: nextKey('certkeeper') } }), { kind: 'issue', key: { from: 'stored', pem: 'STORED KEY' } }],
    ['takes over a key another installation stored long ago (it stopped)', confirmed({ secret: missing, side: { nextKey: nextKey('release-b', 11) } }), { kind: 'issue', key: { from: 'stored' } }],
    ['reuses the Secret\'s key with rotationPolicy Never', confirmed({ secret: due, spec: { privateKey: { algorithm: 'ECDSA', rotationPolicy: 'Never' } } }), { kind: 'issue', key: { from: 'secret' } }],
    ['generates a new key with rotationPolicy Never when the spec asks for another key', confirmed({ secret: due, spec: { privateKey: { algorithm: 'RSA', rotationPolicy: 'Never' } } }),
      { kind: 'issue', reason: Reason.KeyChanged, key: { from: 'new' } }],
    ['records the renew request a certificate answers', confirmed({ annotations: { 'certkeeper.io/renew-requested-at': '2026-06-01T00:00:00Z' } }),
      { kind: 'issue', reason: Reason.RenewRequested, keepsReady: true, marks: { renewRequest: '2026-06-01T00:00:00Z' } }],
    ['signs here for a selfSigned issuer: no account, no order, the signed request marked', confirmed({ secret: missing, issuer: selfSigned, facts: { account: undefined } }),
      { kind: 'issue', marks: { signedRequest: signedRequestDigest(spec) } }, ['acme']],
  ];

  it.each(rows)('%s', (_sentence, facts, plan, absent = []) => {
    const decided = decide(facts, now);
    expect(decided).toMatchObject(plan);
    for (const field of absent) expect(decided).not.toHaveProperty(field);
  });

  it('covers every plan, and every gate stops some row (without it, that row is decided otherwise)', () => {
    const plans = new Set(rows.map(([, facts]) => decide(facts, now).kind));
    expect([...plans].sort()).toEqual(['confirm-live', 'hold', 'invalid', 'issue', 'read', 'ready', 'refused', 'wait']);
    const chains: GateChains = { refusal: refusalGates, secret: secretGates, issuance: issuanceGates };
    for (const chain of ['refusal', 'secret', 'issuance'] as const) {
      for (const gate of chains[chain]) {
        const without = { ...chains, [chain]: (chains[chain] as readonly { name: string }[]).filter((g) => g !== gate) } as GateChains;
        const needed = rows.some(([, facts]) => {
          // A gate the later ones rely on (the issuer exists, say) makes them throw when it is missing: needed too.
          try {
            return JSON.stringify(decideWith(without, facts, now)) !== JSON.stringify(decide(facts, now));
          } catch {
            return true;
          }
        });
        expect(needed, gate.name).toBe(true);
      }
    }
  });
});

describe('the order of the gates', () => {
  it('is the one the header describes', () => {
    expect(refusalGates.map((g) => g.name)).toEqual(['names are valid', 'issuerRef.group is certkeeper\'s', 'an ACME issuer can issue what the spec asks', 'a ca issuer never signs into its own CA Secret']);
    expect(secretGates.map((g) => g.name)).toEqual(['the next-key Secret is certkeeper\'s', 'the Secret is this Certificate\'s to write']);
    expect(issuanceGates.map((g) => g.name)).toEqual([
      'the facts are live', 'the issuer exists', 'the issuer is ready', 'the backoff after failures is over', 'the ACME account is usable',
      'the Ingress name annotation is a name', 'a solver matches every name', 'the Ingresses to edit exist', 'the keystore passwords are there',
      'no other installation is issuing it',
    ]);
  });

  // Where two gates apply, the first wins: each row fails if the two are swapped.
  const rows: Row[] = [
    ['refuses an invalid name before an issuer group of another controller', fromCache({ spec: { dnsNames: ['Bad_Name.example.com'], issuerRef: { name: 'gts', kind: 'Issuer', group: 'cert-manager.io' } } }),
      { kind: 'refused', reason: 'InvalidName' }],
    ['refuses an issuer group of another controller before what ACME cannot issue', fromCache({ spec: { isCA: true, issuerRef: { name: 'gts', kind: 'Issuer', group: 'cert-manager.io' } } }),
      { kind: 'refused', reason: 'IssuerGroupNotServed' }],
    ['refuses what ACME cannot issue before reading the Secret', fromCache({ spec: { isCA: true }, facts: { secret: undefined } }), { kind: 'refused', reason: 'NotSupportedByAcme' }],
    ['refuses a foreign next-key Secret before a rival\'s Secret', confirmed({ secret: { ...valid, owner: { name: 'older', uid: 'uid-older' } }, side: { rivals: [rival], nextKey: { foreign: true } } }),
      { kind: 'refused', reason: 'SecretNotOurs' }],
    ['refuses a rival\'s Secret before issuing into it', confirmed({ secret: { ...missing, exists: true, type: 'kubernetes.io/tls', owner: { name: 'older', uid: 'uid-older' } }, side: { rivals: [rival] } }),
      { kind: 'refused', reason: 'SecretInUse' }],
    ['confirms live before reporting a missing issuer', fromCache({ secret: missing, issuer: null }), { kind: 'confirm-live' }],
    ['reports a missing issuer before holding for a backoff', confirmed({ secret: missing, issuer: null, previous: failedAt(1, 8) }), { kind: 'wait', reason: 'IssuerNotFound' }],
    ['reports an unready issuer before holding for a backoff', confirmed({ secret: missing, issuer: issuerOf({ acme }, { conditions: [condition('Ready', 'False', 'Retrying')] }), previous: failedAt(1, 8) }),
      { kind: 'wait', reason: 'IssuerNotReady' }],
    ['holds for a backoff before reading the account', confirmed({ secret: missing, previous: failedAt(1, 8), facts: { account: undefined } }), { kind: 'hold', why: 'backoff' }],
    ['reports an unusable account before an invalid Ingress name annotation',
      confirmed({ secret: missing, annotations: { 'certkeeper.io/http01-ingress-name': 'other/web' }, facts: { account: { usable: false, secretRef: `${ns}/acct` } } }),
      { kind: 'wait', reason: 'IssuerNotReady' }],
    ['reports an invalid Ingress name annotation before a name no solver matches', confirmed({ secret: missing, spec: wildcardOnly, annotations: { 'certkeeper.io/http01-ingress-name': 'other/web' } }),
      { kind: 'wait', reason: 'InvalidIngressName' }],
    ['reports a name no solver matches before reading the Ingresses', confirmed({ secret: missing, spec: { dnsNames: ['www.example.com', '*.example.com'] }, issuer: issuerOf({ acme: edited }), facts: { ingresses: undefined } }),
      { kind: 'wait', reason: 'NoSolver' }],
    ['reports a missing Ingress before a missing keystore password',
      confirmed({ secret: missing, issuer: issuerOf({ acme: edited }), facts: { ingresses: { missing: 'web' }, passwords: { problem: 'no password' } } }),
      { kind: 'wait', reason: 'IngressNotFound' }],
    ['reports a missing keystore password before another installation\'s key', confirmed({ secret: missing, side: { nextKey: nextKey('release-b') }, facts: { passwords: { problem: 'no password' } } }),
      { kind: 'wait', reason: 'KeystorePasswordMissing' }],
  ];

  it.each(rows)('%s', (_sentence, facts, plan, absent = []) => {
    const decided = decide(facts, now);
    expect(decided).toMatchObject(plan);
    for (const field of absent) expect(decided).not.toHaveProperty(field);
  });
});
