// One issuance, as decide.ts planned it: store the key (next-key Secret)
// before any CSR carries it, sign here (selfSigned, ca) or drive the ACME
// order (issue.ts), write the TLS Secret in one request, and clear the stored
// key. The order's checkpoints (`checkpoint`) are the only status writes on
// the way; what it came to is returned, for the sync's one status write.
//
// A failure before the Secret is written counts as a failed attempt (backoff).
// A failed Secret write keeps the issued certificate's order and its key, so
// the next attempt writes the same certificate without a new order. A race
// for the next-key Secret is thrown (NextKeyRace): the next sync decides again.
import type { Logger } from 'pino';
import { parseDuration, type CertificateSpec, type OrderStatus } from '../../api/certificate.ts';
import type { IssuerSpec } from '../../api/issuer.ts';
import type { Solver } from '../../api/solvers.ts';
import { core, type KubeClient } from '../../kube/client.ts';
import { errorMessage } from '../../kube/controller.ts';
import { parseCertificateChain, type CsrSubject } from '../../pki/certificate.ts';
import { generatePrivateKeyPem } from '../../pki/keys.ts';
import { signCertificate, type Signer } from '../../pki/sign.ts';
import type { Http01Responder } from '../../solvers/http01/responder.ts';
import type { SolverService } from '../../solvers/http01/routes.ts';
import type { SelfCheckConfig } from '../../solvers/http01/self-check.ts';
import { readCaKeyPair } from '../issuer/local.ts';
import { certificateNotes, Reason, renewalTime, requestedNames } from './checks.ts';
import { issuanceBackoffMs, type IssuePlan } from './decide.ts';
import { parsedSpec, type CertificateFacts, type Gatherer } from './gather.ts';
import { issue, type Dns01Handle } from './issue.ts';
import type { IssuerResolver, ResolvedIssuer } from './issuers.ts';
import { nextKeySecretName } from './next-key.ts';
import { NextKeyRace, type NextKeyStore } from './next-key-store.ts';
import { secretFacts, type SecretObject } from './secret-facts.ts';
import { readyMessage, type Validity } from './status.ts';
import type { TlsSecrets } from './tls-secret.ts';
import type { OwnWrites } from './writes.ts';

export interface IssuanceDeps {
  kube: KubeClient;
  issuers: IssuerResolver;
  gather: Gatherer;
  nextKeys: NextKeyStore;
  tlsSecrets: TlsSecrets;
  writes: OwnWrites;
  http01: Http01Responder;
  solverService: SolverService;
  /** Wait after creating a challenge Ingress/HTTPRoute before asking the CA to validate (0: none). */
  http01RouteSettleMs: number;
  /** The HTTP-01 self-check before the CA validates; off when absent. */
  http01SelfCheck?: SelfCheckConfig;
  dns01: (solver: Solver, secretNamespace: string) => Promise<Dns01Handle>;
}

export type IssuanceOutcome =
  | { kind: 'issued'; validity: Validity; message: string; event: { reason: 'Issued' | 'Renewed'; message: string } }
  | { kind: 'failed'; reason: string; message: string; attempts: number; order: OrderStatus | 'clear' | 'keep' };

type Signed =
  | { kind: 'issued'; certificatePem: string; keyPem: string; caPem?: string; order?: OrderStatus }
  | { kind: 'failed'; message: string; reason?: string; order?: OrderStatus };

export class Issuance {
  private readonly deps: IssuanceDeps;

  constructor(deps: IssuanceDeps) {
    this.deps = deps;
  }

  async run(facts: CertificateFacts, plan: IssuePlan, now: Date, log: Logger, checkpoint: (order: OrderStatus) => Promise<void>): Promise<IssuanceOutcome> {
    const { spec, issuer } = parsedSpec(facts);
    const attempts = (facts.previous.failedIssuanceAttempts ?? 0) + 1;
    const retryIn = `attempt ${attempts}, next in ${Math.round(issuanceBackoffMs(attempts) / 1000)} s`;
    let result: Signed;
    try {
      const keyPem = await this.keyFor(facts, spec, plan);
      // Who signs is the issuer's type, never inferred from what the plan lacks.
      result = issuer.signer === 'acme' ? await this.order(facts, issuer, spec, plan, keyPem, log, checkpoint) : await this.signHere(issuer, spec, keyPem, now);
    } catch (error) {
      if (error instanceof NextKeyRace) throw error;
      result = { kind: 'failed', message: errorMessage(error) };
    }
    if (result.kind === 'failed') {
      const message = `${result.message}; ${retryIn}`;
      log.warn({ attempts }, `issuance failed: ${message}`);
      // A ca issuer's key pair that cannot sign says why (CAExpired, NotACA, ...); everything else is Failed.
      return { kind: 'failed', reason: result.reason ?? 'Failed', message, attempts, order: result.order ?? 'clear' };
    }

    const ns = facts.namespace;
    let written: SecretObject;
    try {
      written = await this.deps.tlsSecrets.write(facts.object, spec, result, plan.passwords, plan.marks);
    } catch (error) {
      // The certificate is issued and its key stored: keep both, and write them at the next attempt (no new order).
      const nextKeyName = nextKeySecretName(spec.secretName);
      const message = result.order
        ? `the CA issued the certificate (order ${result.order.url}), but writing Secret ${spec.secretName} failed: ${errorMessage(error)}; `
          + `the certificate and its key (in Secret ${nextKeyName}) are kept and written at the next attempt, without a new order; ${retryIn}`
        : `writing Secret ${spec.secretName} failed: ${errorMessage(error)}; the key (in Secret ${nextKeyName}) is kept and signed again at the next attempt; ${retryIn}`;
      log.warn({ attempts }, message);
      return { kind: 'failed', reason: 'SecretWriteFailed', message, attempts, order: result.order ?? 'keep' };
    }
    this.deps.writes.wrote(`Secret/${ns}/${spec.secretName}`, written);
    // This Certificate owns the Secret now, so no rival stores a key meanwhile: no precondition needed.
    await this.deps.nextKeys.clear(ns, spec.secretName, undefined, log);

    const issued = parseCertificateChain(result.certificatePem)!;
    // Asked now, so the first Ready status already has the final renewal time (no second write).
    const window = await this.deps.gather.renewalWindow(issuer, issued.ariCertId, log);
    const renewal = renewalTime({ notBefore: issued.notBefore, notAfter: issued.notAfter, renewBefore: spec.renewBefore, renewBeforePercentage: spec.renewBeforePercentage, seed: facts.self.uid, ariWindow: window });
    const localIssuer = issuer.signer !== 'acme';
    const renewed = plan.reason === Reason.RenewalDue || plan.reason === Reason.Expired || plan.reason === Reason.RenewRequested;
    return {
      kind: 'issued',
      validity: { notBefore: issued.notBefore, notAfter: issued.notAfter, renewal },
      message: readyMessage(issued.notAfter, renewal, certificateNotes(spec, issued, localIssuer)),
      event: {
        reason: renewed ? 'Renewed' : 'Issued',
        message: `${renewed ? 'Renewed' : 'Issued'} revision ${plan.revision} into Secret ${spec.secretName}, valid until ${new Date(issued.notAfter).toISOString()}`,
      },
    };
  }

  /** The key for the CSR: the one stored for this revision and request, else one stored now (new, or the Secret's). */
  private async keyFor(facts: CertificateFacts, spec: CertificateSpec, plan: IssuePlan): Promise<string> {
    if (plan.key.from === 'stored') return plan.key.pem;
    // The key itself is read only when it is to be reused (the caches never hold key material).
    const reused = plan.key.from === 'secret' ? await this.secretKeyPem(facts.namespace, spec.secretName) : undefined;
    const pem = reused ?? generatePrivateKeyPem(spec.privateKey?.algorithm ?? 'ECDSA', spec.privateKey?.size);
    await this.deps.nextKeys.store(facts.namespace, spec.secretName, { name: facts.name, uid: facts.self.uid },
      { pem, revision: plan.revision, requestHash: plan.request.requestHash }, facts.secret?.nextKey);
    return pem;
  }

  /** The Secret's private key, read live, to reuse it (rotationPolicy: Never); never an account key. */
  private async secretKeyPem(ns: string, name: string): Promise<string | undefined> {
    const secret = await this.deps.kube.get<SecretObject>(core.secrets, ns, name);
    if (!secret || secretFacts(secret).accountKey || secret.type !== 'kubernetes.io/tls') return undefined;
    const encoded = secret.data?.['tls.key'];
    return encoded ? Buffer.from(encoded, 'base64').toString('utf8') : undefined;
  }

  private async order(facts: CertificateFacts, issuer: ResolvedIssuer, spec: CertificateSpec, plan: IssuePlan, keyPem: string, log: Logger, checkpoint: (order: OrderStatus) => Promise<void>): Promise<Signed> {
    const acme = plan.acme;
    if (!acme) throw new Error(`${issuer.ref} is an ACME issuer, but nothing was prepared for an order (account, solvers); nothing was ordered`);
    const acmeSpec = issuer.issuer!.spec.acme!;
    return issue({
      kube: this.deps.kube,
      log,
      http01: this.deps.http01,
      solverService: this.deps.solverService,
      http01RouteSettleMs: this.deps.http01RouteSettleMs,
      http01SelfCheck: this.deps.http01SelfCheck,
      dns01: this.deps.dns01,
      transport: this.deps.issuers.transport(acmeSpec, log),
      onOrder: checkpoint,
    }, {
      certificateKey: facts.key,
      labels: facts.object.metadata.labels ?? {},
      directoryUrl: acmeSpec.server,
      accountKeyPem: acme.account.keyPem,
      accountUrl: acme.account.accountUrl,
      solvers: acme.solvers,
      secretNamespace: issuer.secretNamespace,
      names: plan.request.names,
      profile: plan.request.profile,
      preferredChain: plan.request.preferredChain,
      ...(plan.request.notAfter ? { notAfter: plan.request.notAfter } : {}),
      subject: csrSubject(spec),
      revision: plan.revision,
      requestHash: plan.request.requestHash,
      existingOrder: facts.previous.order,
      keyPem,
      keyWasStored: plan.key.from === 'stored',
    });
  }

  /**
   * Signs here, for a selfSigned or ca issuer: with the Certificate's own key, or with
   * the CA key pair read live from its Secret (checked again: one that went bad since
   * the Issuer's last sync signs nothing).
   */
  private async signHere(issuer: ResolvedIssuer, spec: CertificateSpec, keyPem: string, now: Date): Promise<Signed> {
    const issuerSpec: IssuerSpec = issuer.issuer!.spec;
    if (!issuerSpec.selfSigned && !issuerSpec.ca) throw new Error(`${issuer.ref} is not a selfSigned or ca issuer; nothing was signed`);
    let signer: Signer = { kind: 'self' };
    if (issuerSpec.ca) {
      const pair = await readCaKeyPair(this.deps.kube, issuer.secretNamespace, issuerSpec.ca, now);
      if (!pair.ok) return { kind: 'failed', reason: pair.reason, message: pair.message };
      signer = { kind: 'ca', certificatePem: pair.certificatePem, keyPem: pair.keyPem };
    }
    const names = requestedNames(spec, false);
    const signed = await signCertificate({
      commonName: spec.commonName,
      subject: spec.subject,
      dnsNames: names.dnsNames,
      ipAddresses: names.ipAddresses,
      uris: spec.uris ?? [],
      emailAddresses: spec.emailAddresses ?? [],
      isCA: spec.isCA === true,
      usages: spec.usages,
      durationMs: spec.duration ? parseDuration(spec.duration) : undefined,
      crlDistributionPoints: (issuerSpec.ca ?? issuerSpec.selfSigned)?.crlDistributionPoints,
      ocspServers: issuerSpec.ca?.ocspServers,
      issuingCertificateURLs: issuerSpec.ca?.issuingCertificateURLs,
    }, keyPem, signer, now);
    return { kind: 'issued', certificatePem: signed.chainPem, keyPem, caPem: signed.caPem };
  }
}

/** The CSR's subject from cert-manager's subject fields: the first value of each that a CSR can carry here. */
function csrSubject(spec: CertificateSpec): CsrSubject {
  const s = spec.subject;
  if (!s) return {};
  const first = (values: string[] | undefined) => values?.[0];
  const subject: CsrSubject = {
    organization: first(s.organizations), organizationUnit: first(s.organizationalUnits),
    country: first(s.countries), state: first(s.provinces), locality: first(s.localities),
  };
  return Object.fromEntries(Object.entries(subject).filter(([, v]) => v !== undefined)) as CsrSubject;
}
