// THE DECISION of one Certificate sync: pure, from the facts (gather.ts) and
// the time, so every branch is a row in decide.test.ts. Three chains of
// gates, each `(view) → plan | nothing`, in order; the first plan wins. A
// gate that needs a fact not read yet asks for it (a `read` plan); the sync
// (controller.ts) reads it and decides again.
//
//   spec does not parse ─────────────────────────────→ invalid (InvalidSpec)
//   refusalGates (spec and issuer)
//     names invalid, issuerRef.group not served,
//     isCA / uris / emails asked of an ACME issuer ───→ refused
//     a ca issuer signing into its own CA Secret ─────→ refused (SecretNotOurs)
//     (read secret)
//   secretGates
//     next-key Secret not certkeeper's, TLS Secret
//     another's or an account key ──────────────────→ refused
//   renewal time (read renewal-info: the CA's ARI window, unless the status's time stands)
//   the Secret serves the spec (checks.ts needsIssuance finds nothing)
//     ├ files not as asked, decided from the caches ─→ confirm live
//     └ otherwise ───────────────────────────────────→ ready (rewrite the files; clear a leftover key)
//   issuanceGates (issuance needed)
//     decided from the caches ───────────────────────→ confirm live
//     issuer missing / not ready ────────────────────→ wait IssuerNotFound / IssuerNotReady
//     failed lately, backoff not over ───────────────→ hold (nothing written: the conditions say it)
//     ACME (read account) account not usable ────────→ wait IssuerNotReady
//          ingress name annotation invalid ──────────→ wait InvalidIngressName
//          a name no solver matches ─────────────────→ wait NoSolver (the order in status dropped)
//          (read ingresses) an Ingress to edit missing → wait IngressNotFound
//     (read passwords) a keystore password missing ──→ wait KeystorePasswordMissing
//     another installation stored the key just now ──→ hold (it issues; it writes the status)
//   issue (revision, request, key: the stored one, the Secret's (rotationPolicy Never), or a new one)
//
// A wait keeps Ready True when the certificate in the Secret still serves (a
// renewal due or requested); reasons.ts says what each reason does.
import { parseDuration, type CertificateSpec } from '../../api/certificate.ts';
import { DEFAULT_ACCOUNT_KEY_NAME } from '../../api/issuer.ts';
import { findCondition } from '../../api/meta.ts';
import type { Solver } from '../../api/solvers.ts';
import { editedIngresses, INGRESS_NAME, INGRESS_NAME_ANNOTATION, ingressMissingMessage } from '../../solvers/http01/edit-in-place.ts';
import {
  acmeUnsupported, writesOwnCaSecret, ARI_START_SPREAD_MS, certificateNotes, deferredRenewal, foreignIssuerGroup, invalidNames, needsIssuance, outputsStale,
  Reason, Refusal, RENEW_REQUEST_ANNOTATION, renewalTime, requestedNames, secretOwnership, signedRequestDigest, spreadFraction, stillValidDuring,
  unsolvableNames, type ReissueReason,
} from './checks.ts';
import type { CertificateFacts, ReadPlan, SecretSide } from './gather.ts';
import { requestHash } from './issue.ts';
import { solversFor, type ResolvedIssuer } from './issuers.ts';
import { issuingElsewhere, nextKeySecretName, storedKeyFor } from './next-key.ts';
import type { CertificateReason } from './reasons.ts';
import { readyMessage, type Validity } from './status.ts';
import type { KeystorePasswords } from './outputs.ts';
import type { TlsSecretMarks } from './tls-secret.ts';

/** Requeue at least this often, so clock drift or a missed event cannot delay a renewal much. */
export const MAX_RESYNC_MS = 8 * 3_600_000;

/** Backoff after failed issuances: 30 s doubling to 6 h, like cert-manager's but shorter at first. */
export function issuanceBackoffMs(failures: number): number {
  return Math.min(30_000 * 2 ** Math.max(0, failures - 1), 6 * 3_600_000);
}

/** How long a Certificate whose key another installation stored looks again, at the most. */
const ELSEWHERE_RECHECK_MS = 30_000;

export type RequestedNames = ReturnType<typeof requestedNames>;

/** Where the key for the CSR comes from. */
export type KeySource =
  /** Stored for this revision and request by an earlier attempt (an order may have been finalized with it). */
  | { from: 'stored'; pem: string }
  /** rotationPolicy Never: the Secret's own key (read live; a new one when it has none). */
  | { from: 'secret' }
  | { from: 'new' };

export type Plan =
  | ReadPlan
  /** Read the Certificate and its Secrets again from the API server, and decide again. */
  | { kind: 'confirm-live'; why: string }
  | { kind: 'invalid'; reason: 'InvalidSpec'; message: string }
  | { kind: 'refused'; reason: CertificateReason; message: string }
  | {
    kind: 'ready'; validity: Validity; message: string; requeueAfterMs: number;
    /** Why the Secret's files are rewritten from the certificate and key it holds (no order). */
    rewriteOutputs?: string;
    /** A key left in the next-key Secret after the TLS Secret was written: removed (at this version). */
    clearLeftoverKey?: { resourceVersion?: string };
  }
  | { kind: 'wait'; reason: CertificateReason; message: string; keepsReady: boolean; validity?: Validity }
  /** Nothing to write; look again later. */
  | { kind: 'hold'; why: 'backoff' | 'issuing-elsewhere'; message: string; requeueAfterMs: number }
  | IssuePlan;

export interface IssuePlan {
  kind: 'issue';
  reason: ReissueReason;
  message: string;
  revision: number;
  /** The certificate in the Secret still serves meanwhile (Ready stays True). */
  keepsReady: boolean;
  validity?: Validity;
  key: KeySource;
  request: { names: RequestedNames; requestHash: string; profile?: string; notAfter?: Date; preferredChain?: string };
  /** ACME issuers: the account and the solvers (with the Certificate's overrides). Absent: the issuer signs here. */
  acme?: { account: { keyPem: string; accountUrl: string }; solvers: Solver[] };
  passwords: KeystorePasswords;
  marks: TlsSecretMarks;
}

/** A gate: a named check, returning the plan that stops the chain, or nothing. */
export interface Gate<V> {
  name: string;
  check: (view: V) => Plan | undefined;
}

export interface SpecView {
  facts: CertificateFacts;
  now: Date;
  spec: CertificateSpec;
  issuer: ResolvedIssuer;
}

export interface SecretView extends SpecView {
  secret: SecretSide;
}

export interface IssueView extends SecretView {
  verdict: { reason: ReissueReason; message: string };
  keepsReady: boolean;
  validity?: Validity;
  localIssuer: boolean;
  names: RequestedNames;
  revision: number;
  requestHash: string;
  solvers: Solver[];
}

const refuse = (refusal: { reason: string; message: string } | undefined): Plan | undefined =>
  refusal && { kind: 'refused', reason: refusal.reason as CertificateReason, message: refusal.message };

/** What the spec and the issuer alone rule out; nothing is read or ordered for them. */
export const refusalGates: readonly Gate<SpecView>[] = [
  // A common name is a DNS name only for ACME CAs (an unknown issuer is told apart by its own gate later).
  { name: 'names are valid', check: ({ spec, issuer }) => refuse(invalidNames(spec, issuer.signer === 'acme')) },
  { name: 'issuerRef.group is certkeeper\'s', check: ({ spec }) => refuse(foreignIssuerGroup(spec)) },
  { name: 'an ACME issuer can issue what the spec asks', check: ({ spec, issuer }) => refuse(issuer.signer === 'acme' ? acmeUnsupported(spec, issuer.ref) : undefined) },
  {
    name: 'a ca issuer never signs into its own CA Secret',
    check: ({ facts, spec, issuer }) => refuse(writesOwnCaSecret(spec, facts.namespace, { ref: issuer.ref, secretNamespace: issuer.secretNamespace, caSecretName: issuer.issuer?.spec.ca?.secretName })),
  },
];

/** Whether this Certificate may write its Secret at all. */
export const secretGates: readonly Gate<SecretView>[] = [
  {
    name: 'the next-key Secret is certkeeper\'s',
    check: ({ spec, secret }) => refuse(secret.nextKey?.foreign ? {
      reason: Refusal.SecretNotOurs,
      message: `Secret ${nextKeySecretName(spec.secretName)} exists and certkeeper did not write it; certkeeper keeps the next private key for Secret ${spec.secretName} there: rename it, or choose another secretName`,
    } : undefined),
  },
  {
    name: 'the Secret is this Certificate\'s to write',
    check: ({ facts, spec, secret }) => refuse(secretOwnership({
      certificate: facts.self, secretName: spec.secretName, secret: secret.facts, rivals: secret.rivals, accountKeyOf: secret.accountKeyOf, claim: secret.nextKey?.owner,
    })),
  },
];

const wait = (view: IssueView, reason: CertificateReason, message: string): Plan =>
  ({ kind: 'wait', reason, message, keepsReady: view.keepsReady, ...(view.validity ? { validity: view.validity } : {}) });

/** Issuance is needed: what it waits for, in order. The gates after 'the issuer exists' rely on it. */
export const issuanceGates: readonly Gate<IssueView>[] = [
  // Decided from the caches, which can be a moment behind a write (another replica's just before it
  // handed over, say): confirmed with live reads before anything is ordered.
  { name: 'the facts are live', check: ({ facts }) => (facts.live ? undefined : { kind: 'confirm-live', why: 'issuance is needed' }) },
  {
    name: 'the issuer exists',
    check: (view) => (view.issuer.issuer ? undefined : wait(view, 'IssuerNotFound', `${view.issuer.ref} not found; certkeeper issues as soon as it exists`)),
  },
  {
    name: 'the issuer is ready',
    check: (view) => {
      const issuer = view.issuer.issuer!;
      const ready = findCondition(issuer.status?.conditions, 'Ready');
      if (ready?.status === 'True' && (!issuer.spec.acme || issuer.status?.acme?.accountSecretRef)) return undefined;
      return wait(view, 'IssuerNotReady', `${view.issuer.ref} is not ready${ready ? `: ${ready.message}` : ''}`);
    },
  },
  {
    // The CA may rate-limit; a broken DNS setup stays broken. A spec change (a new generation) retries at once.
    name: 'the backoff after failures is over',
    check: ({ facts, now }) => {
      const { previous, generation } = facts;
      const failures = previous.failedIssuanceAttempts ?? 0;
      if (failures === 0 || !previous.lastFailureTime || generation !== findCondition(previous.conditions, 'Issuing')?.observedGeneration) return undefined;
      const retryAt = Date.parse(previous.lastFailureTime) + issuanceBackoffMs(failures);
      return retryAt > now.getTime()
        ? { kind: 'hold', why: 'backoff', message: `attempt ${failures} failed; the next is at ${new Date(retryAt).toISOString()}`, requeueAfterMs: retryAt - now.getTime() }
        : undefined;
    },
  },
  {
    name: 'the ACME account is usable',
    check: (view) => {
      const issuer = view.issuer.issuer!;
      const acme = issuer.spec.acme;
      if (!acme) return undefined;
      const ref = issuer.status!.acme!.accountSecretRef!;
      const account = view.facts.account;
      if (!account) return { kind: 'read', read: 'account', secret: { namespace: ref.namespace, name: ref.name, key: acme.privateKeySecretRef.key ?? DEFAULT_ACCOUNT_KEY_NAME } };
      return account.usable ? undefined : wait(view, 'IssuerNotReady', `${view.issuer.ref}'s account key Secret ${account.secretRef} is not usable`);
    },
  },
  {
    name: 'the Ingress name annotation is a name',
    check: (view) => {
      const name = view.facts.object.metadata.annotations?.[INGRESS_NAME_ANNOTATION];
      if (!view.issuer.issuer!.spec.acme || name === undefined || INGRESS_NAME.test(name)) return undefined;
      return wait(view, 'InvalidIngressName', `annotation ${INGRESS_NAME_ANNOTATION} is "${name}": the name of an Ingress in namespace ${view.facts.namespace} (DNS subdomain, no namespace)`);
    },
  },
  {
    name: 'a solver matches every name',
    check: (view) => {
      if (!view.issuer.issuer!.spec.acme) return undefined;
      const unsolvable = unsolvableNames(view.names, view.solvers, view.facts.object.metadata.labels ?? {}, view.issuer.ref);
      return unsolvable && wait(view, unsolvable.reason, unsolvable.message);
    },
  },
  {
    // An Ingress to edit in place must exist (in this namespace: the only one ever edited) before an order is opened.
    name: 'the Ingresses to edit exist',
    check: (view) => {
      if (!view.issuer.issuer!.spec.acme) return undefined;
      const names = editedIngresses(view.names.dnsNames, view.solvers, view.facts.object.metadata.labels ?? {});
      if (names.length === 0) return undefined;
      const read = view.facts.ingresses;
      if (!read) return { kind: 'read', read: 'ingresses', names };
      return read.missing ? wait(view, 'IngressNotFound', ingressMissingMessage({ namespace: view.facts.namespace, ingressName: read.missing })) : undefined;
    },
  },
  {
    // Read now: a missing one must not cost an order.
    name: 'the keystore passwords are there',
    check: (view) => {
      const passwords = view.facts.passwords;
      if (!passwords) return { kind: 'read', read: 'passwords' };
      return 'problem' in passwords ? wait(view, 'KeystorePasswordMissing', passwords.problem) : undefined;
    },
  },
  {
    // Another installation (another release watching this cluster) stored the key a moment ago: it is issuing.
    // Nothing is written: the status is its to write meanwhile (a write from here, made from an older copy,
    // could take back what it wrote).
    name: 'no other installation is issuing it',
    check: ({ facts, secret, revision, requestHash: hash, now }) => {
      const elsewhere = issuingElsewhere(secret.nextKey, { uid: facts.self.uid, revision, requestHash: hash, installation: facts.installation, now });
      if (!elsewhere) return undefined;
      return {
        kind: 'hold',
        why: 'issuing-elsewhere',
        message: `Revision ${revision} is being issued by another certkeeper installation (${elsewhere.installation}); this one opens no order and takes over only if it has not finished by ${elsewhere.until.toISOString()}`,
        requeueAfterMs: Math.min(elsewhere.until.getTime() - now.getTime(), ELSEWHERE_RECHECK_MS),
      };
    },
  },
];

function firstOf<V>(gates: readonly Gate<V>[], view: V): Plan | undefined {
  for (const gate of gates) {
    const plan = gate.check(view);
    if (plan) return plan;
  }
  return undefined;
}

export interface GateChains {
  refusal: readonly Gate<SpecView>[];
  secret: readonly Gate<SecretView>[];
  issuance: readonly Gate<IssueView>[];
}

const chains: GateChains = { refusal: refusalGates, secret: secretGates, issuance: issuanceGates };

/** Decides what this sync does. Pure. */
export function decide(facts: CertificateFacts, now: Date): Plan {
  return decideWith(chains, facts, now);
}

/** decide with the gate chains given (the tests take one gate out to see that a row needs it). */
export function decideWith(gates: GateChains, facts: CertificateFacts, now: Date): Plan {
  if (!facts.parsed.ok) return { kind: 'invalid', reason: 'InvalidSpec', message: facts.parsed.problem };
  const { spec, issuer } = facts.parsed;
  const specView: SpecView = { facts, now, spec, issuer };
  const refused = firstOf(gates.refusal, specView);
  if (refused) return refused;

  if (!facts.secret) return { kind: 'read', read: 'secret' };
  const view: SecretView = { ...specView, secret: facts.secret };
  const notOurs = firstOf(gates.secret, view);
  if (notOurs) return notOurs;

  const renewal = renewalOf(view);
  if ('kind' in renewal) return renewal;
  const localIssuer = issuer.signer === 'selfSigned' || issuer.signer === 'ca';
  const secret = view.secret.facts;
  const requestedAt = facts.object.metadata.annotations?.[RENEW_REQUEST_ANNOTATION];
  // Honoured once: the Secret written for it records the request (level-based, like every other check).
  const renewRequest = requestedAt && requestedAt !== secret.renewRequest ? requestedAt : undefined;
  const verdict = needsIssuance({ spec, secretName: spec.secretName, secret, now, renewalTime: renewal.at, renewRequest, localIssuer });
  const validity = secret.certificate ? { notBefore: secret.certificate.notBefore, notAfter: secret.certificate.notAfter, renewal: renewal.at } : undefined;
  if (!verdict) return readyPlan(view, validity!, renewal, localIssuer);

  const names = requestedNames(spec, !localIssuer);
  const acme = issuer.issuer?.spec.acme;
  const issueView: IssueView = {
    ...view,
    verdict,
    // Ready means: the Secret holds a valid certificate for this spec (renewal due or requested is still Ready).
    keepsReady: stillValidDuring(verdict.reason),
    ...(validity ? { validity } : {}),
    localIssuer,
    names,
    revision: (facts.previous.revision ?? 0) + 1,
    requestHash: requestHash({ names, issuer: `${issuer.kind}/${spec.issuerRef.name}`, profile: spec.profile ?? acme?.profile, notAfter: spec.duration && acme?.enableDurationFeature ? spec.duration : undefined }),
    solvers: acme ? solversFor(acme, facts.object.metadata.annotations ?? {}) : [],
  };
  return firstOf(gates.issuance, issueView) ?? issuePlan(issueView);
}

interface Renewal {
  /** When to renew the certificate in the Secret (none without one). */
  at?: Date;
  /** The status's renewal time stands until this Certificate's first ARI poll after start (then: look again at pollAt). */
  deferredUntil?: Date;
}

/** The renewal time of the certificate in the Secret, or the read of the CA's window it needs. */
function renewalOf({ facts, now, spec, issuer, secret }: SecretView): Renewal | ReadPlan {
  const certificate = secret.facts.certificate;
  if (!certificate) return {};
  const seed = facts.self.uid;
  const usable = secret.facts.key?.matchesCertificate === true;
  // Soon after a start, the renewal time in status stands until this Certificate's turn to ask the CA (ARI).
  const pollAt = new Date(facts.startedAt + Math.floor(spreadFraction(`${seed}/ari`) * ARI_START_SPREAD_MS));
  const deferred = usable && facts.renewalInfo
    ? deferredRenewal({ status: facts.previous, generation: facts.generation, notAfter: certificate.notAfter, now, pollAt })
    : undefined;
  if (deferred) return { at: deferred, deferredUntil: pollAt };
  const asksCa = usable && facts.renewalInfo && certificate.ariCertId !== undefined && issuer.issuer?.spec.acme !== undefined;
  if (asksCa && !facts.renewalWindow) return { kind: 'read', read: 'renewal-info', certId: certificate.ariCertId! };
  const ariWindow = usable ? facts.renewalWindow?.window : undefined;
  return {
    at: renewalTime({ notBefore: certificate.notBefore, notAfter: certificate.notAfter, renewBefore: spec.renewBefore, renewBeforePercentage: spec.renewBeforePercentage, seed, ariWindow }),
  };
}

function readyPlan(view: SecretView, validity: Validity, renewal: Renewal, localIssuer: boolean): Plan {
  const { facts, now, spec, secret } = view;
  // Valid, but not in the files or encoding the spec asks for (a keystore added, say): the files are rewritten
  // from the certificate and key already there, without a new order. Confirmed live first, like an issuance.
  const stale = outputsStale(spec, secret.facts, secret.passwordSource);
  if (stale && !facts.live) return { kind: 'confirm-live', why: 'the Secret\'s files are to be rewritten' };
  // A key left in the next-key Secret (the status write after the Secret failed, say) is removed.
  const leftover = secret.leftoverKey?.ownerUid === facts.self.uid ? secret.leftoverKey : undefined;
  const next = Math.min(renewal.at!.getTime(), renewal.deferredUntil?.getTime() ?? Infinity) - now.getTime();
  return {
    kind: 'ready',
    validity,
    message: readyMessage(validity.notAfter, renewal.at!, certificateNotes(spec, secret.facts.certificate, localIssuer)),
    requeueAfterMs: Math.min(next, MAX_RESYNC_MS),
    ...(stale ? { rewriteOutputs: stale } : {}),
    ...(leftover ? { clearLeftoverKey: { resourceVersion: leftover.resourceVersion } } : {}),
  };
}

function issuePlan(view: IssueView): Plan {
  const { facts, now, spec, issuer, secret, verdict, revision, requestHash: hash, names } = view;
  const acme = issuer.issuer!.spec.acme;
  const account = facts.account;
  // The key is durable before any CSR carries it: the one stored for this revision, else a new one
  // (or, rotationPolicy Never, the Secret's) stored now.
  const stored = storedKeyFor(secret.nextKey, { uid: facts.self.uid, revision, requestHash: hash });
  const reuse = (spec.privateKey?.rotationPolicy ?? 'Always') === 'Never' && secret.facts.key !== undefined && verdict.reason !== Reason.KeyChanged;
  // cert-manager puts profile and preferredChain on the issuer; a Certificate's own wins.
  const profile = spec.profile ?? acme?.profile;
  const preferredChain = spec.preferredChain ?? acme?.preferredChain;
  return {
    kind: 'issue',
    reason: verdict.reason,
    message: verdict.message,
    revision,
    keepsReady: view.keepsReady,
    ...(view.validity ? { validity: view.validity } : {}),
    key: stored !== undefined ? { from: 'stored', pem: stored } : reuse ? { from: 'secret' } : { from: 'new' },
    request: {
      names,
      requestHash: hash,
      ...(profile !== undefined ? { profile } : {}),
      ...(acme?.enableDurationFeature && spec.duration ? { notAfter: new Date(now.getTime() + parseDuration(spec.duration)) } : {}),
      ...(preferredChain !== undefined ? { preferredChain } : {}),
    },
    ...(acme && account?.usable ? { acme: { account: { keyPem: account.keyPem, accountUrl: account.accountUrl }, solvers: view.solvers } } : {}),
    // Read and present: the gate before made sure.
    passwords: facts.passwords as KeystorePasswords,
    marks: {
      renewRequest: facts.object.metadata.annotations?.[RENEW_REQUEST_ANNOTATION],
      ...(view.localIssuer ? { signedRequest: signedRequestDigest(spec) } : {}),
    },
  };
}
