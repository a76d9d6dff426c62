// The Certificate controller: keeps each Certificate's TLS Secret valid for
// its spec. This file is the wiring (caches, indexes, event handlers) and the
// sync, a bounded loop of read → decide → act:
//
//   gather.ts      every read of a sync into one facts object (caches first, live to confirm)
//   decide.ts      the decision, pure: a chain of gates → a plan
//   issuance.ts    acting on an `issue` plan: key, order or signature, TLS Secret, key cleared
//   status.ts      the status for a plan or an outcome, pure, and its one write per sync
//   reasons.ts     each condition reason's effect (Ready, event, retry), read by the status code
//
// and by job: cache.ts (shrunk Certificates, facts of Secrets certkeeper did
// not write), references.ts (what wakes a Certificate; its rivals),
// writes.ts (this process's writes the caches have yet to show),
// http01-tokens.ts, tls-secret.ts, next-key-store.ts, issuers.ts (issuer
// resolution). The pure checks behind the gates are in checks.ts; the ACME
// order driver in issue.ts. Renewal is a requeue at the renewal time,
// recomputed from the Secret on every sync.
import type { Logger } from 'pino';
import { certificates } from '../../api/certificate.ts';
import { findCondition } from '../../api/meta.ts';
import type { RenewalInfoClient } from '../../acme/ari.ts';
import type { Solver } from '../../api/solvers.ts';
import type { KubeClient } from '../../kube/client.ts';
import { Controller, type ControllerHooks, type ReconcileResult } from '../../kube/controller.ts';
import type { EventRecorder } from '../../kube/events.ts';
import { Informer, splitKey } from '../../kube/informer.ts';
import type { Http01Responder } from '../../solvers/http01/responder.ts';
import type { SolverService } from '../../solvers/http01/routes.ts';
import type { SelfCheckConfig } from '../../solvers/http01/self-check.ts';
import type { IssuerController } from '../issuer/controller.ts';
import type { SecretCache } from '../secrets.ts';
import { certificateShrinker, expand, ForeignSecretFacts, type CachedCertificate } from './cache.ts';
import { decide, issuanceBackoffMs, MAX_RESYNC_MS, type IssuePlan, type Plan } from './decide.ts';
import { Gatherer, parsedSpec, type CertificateFacts } from './gather.ts';
import { Http01Tokens } from './http01-tokens.ts';
import { Issuance } from './issuance.ts';
import type { Dns01Handle } from './issue.ts';
import { IssuerResolver, type TransportHooks } from './issuers.ts';
import { NextKeyStore } from './next-key-store.ts';
import { effectOf, retryAfterMs } from './reasons.ts';
import { CertificateReferences } from './references.ts';
import { CertificateStatusWriter, involved, statusFor, type StatusChange } from './status.ts';
import { TlsSecrets } from './tls-secret.ts';
import { OwnWrites } from './writes.ts';

export { expand, type CachedCertificate };

export interface CertificateControllerDeps {
  /**
   * This installation of certkeeper (its leader Lease, namespace/name): written
   * with each stored next key, so another installation watching the same
   * Certificates waits instead of ordering too. Default "certkeeper".
   */
  installation?: string;
  kube: KubeClient;
  log: Logger;
  clock: () => Date;
  events: EventRecorder;
  issuers: IssuerController;
  secrets: SecretCache;
  http01: Http01Responder;
  solverService: SolverService;
  /** Wait after creating a challenge Ingress/HTTPRoute before asking the CA to validate (0: none). */
  http01RouteSettleMs?: number;
  /** The HTTP-01 self-check before the CA validates; off when absent. */
  http01SelfCheck?: SelfCheckConfig;
  dns01: (solver: Solver, secretNamespace: string) => Promise<Dns01Handle>;
  clusterResourceNamespace: string;
  /** cert-manager's --enable-certificate-owner-ref: the Secret goes with its Certificate. */
  ownSecrets: boolean;
  /** Also write cert-manager.io/ informational annotations on TLS Secrets (--secret-annotations-cert-manager). */
  certManagerSecretAnnotations?: boolean;
  transportHooks?: TransportHooks;
  hooks?: ControllerHooks;
  workers?: number;
  onCertificate?: (namespace: string, name: string, facts: { ready: boolean; notAfter?: number; renewalTime?: Date } | undefined) => void;
  /** ACME Renewal Information (RFC 9773), when the issuer's CA offers it. */
  renewalInfo?: RenewalInfoClient;
}

/**
 * Decide rounds in one sync, at most: from the caches (the secret and
 * renewal-info reads), then live (those, account, ingresses, passwords).
 */
const MAX_ROUNDS = 12;

export class CertificateController {
  readonly informer: Informer<CachedCertificate>;
  readonly controller: Controller;
  private readonly deps: CertificateControllerDeps;
  private readonly references = new CertificateReferences();
  private readonly foreign = new ForeignSecretFacts();
  private readonly writes: OwnWrites;
  private readonly tokens: Http01Tokens;
  private readonly gather: Gatherer;
  private readonly tlsSecrets: TlsSecrets;
  private readonly nextKeys: NextKeyStore;
  private readonly issuance: Issuance;

  constructor(deps: CertificateControllerDeps) {
    this.deps = deps;
    const log = deps.log.child({ controller: 'certificate' });
    this.informer = new Informer<CachedCertificate>({ kube: deps.kube, type: certificates, log, transform: certificateShrinker() });
    this.controller = new Controller({ name: 'certificate', reconcile: (key) => this.sync(key), log, hooks: deps.hooks, workers: deps.workers ?? 8 });
    this.writes = new OwnWrites((ref) => ref.startsWith('Secret/')
      ? deps.secrets.managed.get(ref.slice('Secret/'.length))
      : this.informer.get(ref.slice('Certificate/'.length)));
    const issuers = new IssuerResolver(deps.issuers, deps.clusterResourceNamespace, deps.transportHooks);
    const cached = (key: string) => this.informer.get(key);
    const installation = deps.installation ?? 'certkeeper';
    this.tokens = new Http01Tokens(cached, issuers);
    this.gather = new Gatherer({
      kube: deps.kube, informer: this.informer, secrets: deps.secrets, writes: this.writes, foreign: this.foreign, references: this.references,
      issuers, renewalInfo: deps.renewalInfo, startedAt: deps.clock().getTime(), installation,
    });
    this.tlsSecrets = new TlsSecrets(deps.kube, { ownSecrets: deps.ownSecrets, certManagerSecretAnnotations: deps.certManagerSecretAnnotations });
    this.nextKeys = new NextKeyStore(deps.kube, this.writes, installation, deps.clock);
    this.issuance = new Issuance({
      kube: deps.kube, issuers, gather: this.gather, nextKeys: this.nextKeys, tlsSecrets: this.tlsSecrets, writes: this.writes,
      http01: deps.http01, solverService: deps.solverService, http01RouteSettleMs: deps.http01RouteSettleMs ?? 0, http01SelfCheck: deps.http01SelfCheck, dns01: deps.dns01,
    });

    const requeueDependents = (ref: string, except?: string) => {
      for (const cert of this.references.dependents(ref)) if (cert !== except) this.controller.enqueue(cert);
    };
    this.informer.onChange((key, current, previous) => {
      this.writes.observed(`Certificate/${key}`, current);
      const object = current && expand(current);
      const change = this.references.update(key, previous && expand(previous), object);
      for (const ref of change.released) this.foreign.forget(ref.slice('Secret/'.length));
      this.tokens.index(key, object);
      this.controller.enqueue(key, { force: current?.metadata.generation !== previous?.metadata.generation });
      for (const ref of change.contested) requeueDependents(ref, key);
    });
    deps.issuers.issuers.onChange((key) => requeueDependents(`Issuer/${key}`));
    deps.issuers.clusterIssuers.onChange((key) => requeueDependents(`ClusterIssuer/${key}`));
    deps.secrets.onChange((key, current, managed) => {
      // certkeeper's writes label the Secret, so only the managed watch shows them.
      if (managed) this.writes.observed(`Secret/${key}`, current);
      if (managed || !current) this.foreign.forget(key);
      requeueDependents(`Secret/${key}`);
    });
    deps.secrets.addReferences((key) => this.references.has(`Secret/${key}`));
  }

  /** The key authorization for a token recorded in some Certificate's status. */
  keyAuthorizationFor(token: string): string | undefined {
    return this.tokens.keyAuthorizationFor(token);
  }

  /** Watches (every replica, so a standby is warm and can answer HTTP-01). */
  startWatching(): void {
    this.informer.start();
  }

  /** Reconciles (the leader only). */
  startWorking(): void {
    this.controller.start();
  }

  async stop(): Promise<void> {
    await this.controller.stop();
    await this.informer.stop();
  }

  get hasSynced(): boolean {
    return this.informer.hasSynced;
  }

  /** One sync: read what decide asks for until it settles on a plan, act on it, write the status once. */
  private async sync(key: string): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    const log = this.deps.log.child({ controller: 'certificate', namespace, name });
    const now = this.deps.clock();
    let facts = await this.gather.certificate(key, false);
    for (let round = 0; facts; round++) {
      if (round === MAX_ROUNDS) throw new Error(`no plan for Certificate ${key} after ${MAX_ROUNDS} rounds`);
      const plan = decide(facts, now);
      switch (plan.kind) {
        case 'read':
          facts = await this.gather.read(facts, plan, log);
          break;
        case 'confirm-live':
          facts = await this.gather.certificate(key, true);
          break;
        case 'hold':
          // Nothing to write: the conditions say it already (backoff), or another installation writes them.
          log[plan.why === 'backoff' ? 'debug' : 'warn'](plan.message);
          return { requeueAfterMs: plan.requeueAfterMs };
        case 'ready':
          return this.ready(facts, plan, now, log);
        case 'issue':
          return this.issue(facts, plan, now, log);
        default:
          return this.settle(facts, plan, now, log);
      }
    }
    // Gone, or being deleted: nothing to do.
    this.deps.onCertificate?.(namespace!, name, undefined);
  }

  /** invalid, refused, wait: the status says why; the reason's effect says when to look again. */
  private async settle(facts: CertificateFacts, plan: Extract<Plan, { kind: 'invalid' | 'refused' | 'wait' }>, now: Date, log: Logger): Promise<ReconcileResult | void> {
    if (plan.kind === 'refused' && findCondition(facts.previous.conditions, 'Ready')?.reason !== plan.reason) log.info({ reason: plan.reason }, `refused: ${plan.message}`);
    await this.writer(facts, now).write(statusFor(plan, facts.previous, { generation: facts.generation, now }));
    if (plan.kind === 'invalid') return;
    this.report(facts, plan.kind === 'wait' ? { ready: plan.keepsReady, notAfter: plan.validity?.notAfter, renewalTime: plan.validity?.renewal } : { ready: false });
    return retry(plan.reason);
  }

  /** The Secret serves the spec: its files rewritten when asked, a leftover next key cleared, Ready. */
  private async ready(facts: CertificateFacts, plan: Extract<Plan, { kind: 'ready' }>, now: Date, log: Logger): Promise<ReconcileResult> {
    const { spec } = parsedSpec(facts);
    const ns = facts.namespace;
    if (plan.clearLeftoverKey) await this.nextKeys.clear(ns, spec.secretName, plan.clearLeftoverKey.resourceVersion, log);
    const writer = this.writer(facts, now);
    const at = { generation: facts.generation, now };
    if (plan.rewriteOutputs) {
      const rewrite = await this.tlsSecrets.rewriteOutputs(facts.object, spec);
      if (rewrite.kind === 'password-missing') {
        await writer.write(statusFor({ kind: 'not-rewritten', validity: plan.validity, reason: 'KeystorePasswordMissing', message: rewrite.message }, facts.previous, at));
        return retry('KeystorePasswordMissing')!;
      }
      if (rewrite.kind === 'rewritten') {
        this.writes.wrote(`Secret/${ns}/${spec.secretName}`, rewrite.written);
        log.info({ why: plan.rewriteOutputs }, 'rewrote the Secret\'s outputs without a new order');
        this.deps.events.record(involved(facts.object), 'Normal', 'OutputsUpdated', `Rewrote Secret ${spec.secretName} from its certificate and key, without a new order: ${plan.rewriteOutputs}`);
      }
    }
    await writer.write(statusFor(plan, facts.previous, at));
    this.report(facts, { ready: true, notAfter: plan.validity.notAfter, renewalTime: plan.validity.renewal });
    return { requeueAfterMs: plan.requeueAfterMs };
  }

  /** Issues (issuance.ts); the order's checkpoints are written on the way, the outcome once at the end. */
  private async issue(facts: CertificateFacts, plan: IssuePlan, now: Date, log: Logger): Promise<ReconcileResult> {
    log.info({ reason: plan.reason, revision: plan.revision }, `issuing: ${plan.message}`);
    const writer = this.writer(facts, now);
    const at = { generation: facts.generation, now };
    let status = statusFor({ kind: 'issuing', reason: plan.reason, message: plan.message, revision: plan.revision, validity: plan.validity }, facts.previous, at);
    const outcome = await this.issuance.run(facts, plan, now, log, async (order) => {
      status = await writer.write(statusFor({ kind: 'order', order }, status, at));
    });
    const change: StatusChange = outcome.kind === 'failed'
      ? { kind: 'failed', reason: outcome.reason, message: outcome.message, keepsReady: plan.keepsReady, attempts: outcome.attempts, at: now, order: outcome.order }
      : { kind: 'issued', validity: outcome.validity, revision: plan.revision, message: outcome.message };
    await writer.write(statusFor(change, status, at));
    if (outcome.kind === 'failed') {
      const effect = effectOf(outcome.reason);
      if (effect.event) this.deps.events.record(involved(facts.object), effect.event, outcome.reason, outcome.message);
      this.report(facts, { ready: plan.keepsReady, notAfter: plan.validity?.notAfter, renewalTime: plan.validity?.renewal });
      return retry(outcome.reason, outcome.attempts) ?? {};
    }
    this.deps.events.record(involved(facts.object), 'Normal', outcome.event.reason, outcome.event.message);
    log.info({ revision: plan.revision, notAfter: new Date(outcome.validity.notAfter).toISOString() }, 'certificate issued');
    this.report(facts, { ready: true, notAfter: outcome.validity.notAfter, renewalTime: outcome.validity.renewal });
    return { requeueAfterMs: Math.min(outcome.validity.renewal!.getTime() - this.deps.clock().getTime(), MAX_RESYNC_MS) };
  }

  private writer(facts: CertificateFacts, now: Date): CertificateStatusWriter {
    const target = { namespace: facts.namespace, name: facts.name, uid: facts.object.metadata.uid! };
    return new CertificateStatusWriter(this.deps.kube, target, facts.previous, { generation: facts.generation, now }, (written) => this.writes.wrote(`Certificate/${facts.key}`, written));
  }

  private report(facts: CertificateFacts, state: { ready: boolean; notAfter?: number; renewalTime?: Date }): void {
    this.deps.onCertificate?.(facts.namespace, facts.name, state);
  }
}

/** When to look again, as the reason's effect says (after `attempts` failures for a backoff). */
function retry(reason: string, attempts = 1): ReconcileResult | undefined {
  const after = retryAfterMs(effectOf(reason), issuanceBackoffMs(attempts));
  return after === undefined ? undefined : { requeueAfterMs: after };
}
