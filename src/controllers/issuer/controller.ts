// The Issuer and ClusterIssuer controller: keeps each issuer able to sign
// (its ACME account, src/acme/account-protocol.ts; a selfSigned or ca
// issuer, local.ts). This file is the wiring (informers, the index of the
// Secrets issuers read) and the sync, read → decide → act → flush:
//
//   gather      the issuer, read live, its spec parsed, its type
//   decide.ts   the decision, pure: invalid spec, local issuer, or ACME account
//               (a new one passes the Pending checkpoint first)
//   act         local.ts's check of the key pair, or ensureAccount
//   status.ts   the status and the events for what it came to, pure; written
//               once (../status-writer.ts: only if it changed, only onto this
//               issuer, by its uid)
//   reasons.ts  each Ready reason's effect (Ready, event, Stalled)
//
// Keys on the queue are "Issuer/<namespace>/<name>" or "ClusterIssuer/<name>";
// Secret changes requeue the issuers that reference them, so a fixed EAB or
// account Secret is picked up at once.
import type { Logger } from 'pino';
import { Issuer, issuerType, REGISTER_EAB_KEY_ID_ANNOTATION, type IssuerKind, type IssuerStatus } from '../../api/issuer.ts';
import { API_VERSION, findCondition, LABEL_ACCOUNT_KEY } from '../../api/meta.ts';
import {
  ANNOTATION, ensureAccount, TransientAccountError, type AccountDeps, type AccountOutcome,
} from '../../acme/account-protocol.ts';
import { type KubeClient, type KubeObject, type ResourceType } from '../../kube/client.ts';
import { Controller, type ControllerHooks, type ReconcileResult } from '../../kube/controller.ts';
import type { EventRecorder } from '../../kube/events.ts';
import { Informer, keyOf } from '../../kube/informer.ts';
import type { KeyedMutex } from '../../util/keyed-mutex.ts';
import type { SecretCache } from '../secrets.ts';
import { StatusWriter } from '../status-writer.ts';
import { RefIndex } from '../../util/ref-index.ts';
import { ignoredSolverFields } from '../../solvers/http01/routes.ts';
import { decide, type IssuerFacts, type IssuerPlan } from './decide.ts';
import { localIssuerVerdict } from './local.ts';
import { eventsFor, pendingStatus, statusFor, type IssuerOutcome } from './status.ts';

export const issuerTypes: Record<IssuerKind, ResourceType> = {
  Issuer: { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true },
  ClusterIssuer: { group: 'certkeeper.io', version: 'v1alpha1', plural: 'clusterissuers', namespaced: false },
};

export interface IssuerControllerDeps {
  kube: KubeClient;
  log: Logger;
  clock: () => Date;
  locks: KeyedMutex;
  events: EventRecorder;
  /** Where ClusterIssuers' Secrets and the EAB ledger live. */
  clusterResourceNamespace: string;
  /** How long a registration with an unknown outcome is only looked up (--registration-settle-window). */
  settleWindowMs?: number;
  /** The Secret cache (shared with the certificate controller). */
  secrets: SecretCache;
  hooks?: ControllerHooks;
  accountHooks?: Pick<AccountDeps, 'onRegistration' | 'transportHooks'>;
  /** Issuer readiness, for metrics. */
  onIssuerStatus?: (kind: IssuerKind, namespace: string, name: string, ready: boolean | undefined) => void;
}

export interface IssuerKey {
  kind: IssuerKind;
  namespace?: string;
  name: string;
}

export function issuerKey(kind: IssuerKind, namespace: string | undefined, name: string): string {
  return kind === 'Issuer' ? `Issuer/${namespace}/${name}` : `ClusterIssuer/${name}`;
}

export function parseIssuerKey(key: string): IssuerKey {
  const [kind, a, b] = key.split('/');
  return kind === 'Issuer' ? { kind: 'Issuer', namespace: a, name: b! } : { kind: 'ClusterIssuer', name: a! };
}

/** The Secrets (namespace/name) an issuer reads. */
function referencedSecrets(issuer: Issuer, secretNamespace: string): string[] {
  const acme = issuer.spec.acme;
  if (issuer.spec.ca) return [`${secretNamespace}/${issuer.spec.ca.secretName}`];
  if (!acme) return [];
  const refs = [`${secretNamespace}/${acme.privateKeySecretRef.name}`];
  if (acme.externalAccountBinding) refs.push(`${secretNamespace}/${acme.externalAccountBinding.keySecretRef.name}`);
  return refs;
}

/** How an issuer is named in messages and the EAB ledger. */
function issuerName(kind: IssuerKind, namespace: string | undefined, name: string): string {
  return kind === 'Issuer' ? `Issuer ${namespace}/${name}` : `ClusterIssuer ${name}`;
}

export class IssuerController {
  readonly issuers: Informer<KubeObject>;
  readonly clusterIssuers: Informer<KubeObject>;
  readonly controller: Controller;
  private readonly deps: IssuerControllerDeps;
  /** Secret key → issuer keys that reference it. */
  private readonly bySecret = new RefIndex();
  private readonly secretsOf = new Map<string, string[]>();

  constructor(deps: IssuerControllerDeps) {
    this.deps = deps;
    const log = deps.log.child({ controller: 'issuer' });
    this.issuers = new Informer({ kube: deps.kube, type: issuerTypes.Issuer, log });
    this.clusterIssuers = new Informer({ kube: deps.kube, type: issuerTypes.ClusterIssuer, log });
    // Account syncs wait on CAs: one that never answers holds a slot until --acme-request-timeout.
    // Issuers are few and their syncs cheap, so many run side by side, and a tenant's Issuers
    // pointing at such a CA do not hold up everyone else's.
    this.controller = new Controller({ name: 'issuer', reconcile: (key) => this.sync(key), log, hooks: deps.hooks, workers: 16 });

    this.issuers.onChange((key, current, previous) => this.observe(`Issuer/${key}`, current, previous, current?.metadata.namespace ?? ''));
    this.clusterIssuers.onChange((key, current, previous) => this.observe(`ClusterIssuer/${key}`, current, previous, deps.clusterResourceNamespace));
    deps.secrets.onChange((key) => {
      for (const issuer of this.bySecret.get(key)) this.controller.enqueue(issuer);
    });
    deps.secrets.addReferences((key) => this.bySecret.has(key));
  }

  /** Indexes the Secrets an issuer references and queues it. */
  private observe(key: string, object: KubeObject | undefined, previous: KubeObject | undefined, secretNamespace: string): void {
    for (const secret of this.secretsOf.get(key) ?? []) this.bySecret.delete(secret, key);
    this.secretsOf.delete(key);
    if (object) {
      const parsed = Issuer.safeParse(object);
      if (parsed.success) {
        const refs = referencedSecrets(parsed.data, secretNamespace);
        this.secretsOf.set(key, refs);
        for (const ref of refs) {
          this.bySecret.add(ref, key);
        }
      }
    }
    // A new spec is the user's answer to a failure: try it now, not after the backoff.
    const specChanged = object?.metadata.generation !== previous?.metadata.generation;
    this.controller.enqueue(key, { force: specChanged });
    // Issuers sharing an account agree on its contact: another one's new spec can end a conflict.
    if (specChanged) {
      for (const secret of this.secretsOf.get(key)?.slice(0, 1) ?? []) {
        for (const other of this.bySecret.get(secret)) if (other !== key) this.controller.enqueue(other);
      }
    }
  }

  /** Watches (every replica). */
  startWatching(): void {
    this.issuers.start();
    this.clusterIssuers.start();
  }

  /** Reconciles (the leader only). */
  startWorking(): void {
    this.controller.start();
  }

  async stop(): Promise<void> {
    await this.controller.stop();
    await Promise.all([this.issuers.stop(), this.clusterIssuers.stop()]);
  }

  get hasSynced(): boolean {
    return this.issuers.hasSynced && this.clusterIssuers.hasSynced;
  }

  /**
   * Another account Secret in the Issuer's own Secret namespace that claims this
   * EAB key ID (registered, or pending: a pending Secret is a claim too). Secrets
   * elsewhere never count: a tenant must not block another tenant's Issuer by
   * labelling a Secret of their own. Across namespaces the EAB ledger decides.
   */
  private eabKeyUsedBy(keyId: string, accountSecretRef: string, secretNamespace: string): string | undefined {
    for (const secret of this.deps.secrets.list()) {
      const meta = secret.metadata;
      if (meta.namespace !== secretNamespace || meta.labels?.[LABEL_ACCOUNT_KEY] !== 'true') continue;
      if (meta.annotations?.[ANNOTATION.eabKeyId] !== keyId) continue;
      const state = meta.annotations?.[ANNOTATION.state];
      if (state !== 'registered' && state !== 'pending') continue;
      const ref = keyOf(meta);
      if (ref !== accountSecretRef) return `the ${state} account in Secret ${ref}`;
    }
    return undefined;
  }

  /** The other issuers whose account key Secret is this one, with the email each asks for. */
  private sharersOf(accountSecretRef: string, self: string): { issuer: string; email?: string }[] {
    const sharers: { issuer: string; email?: string }[] = [];
    for (const key of this.bySecret.get(accountSecretRef)) {
      if (key === self || this.secretsOf.get(key)?.[0] !== accountSecretRef) continue;
      const { kind, namespace, name } = parseIssuerKey(key);
      const object = kind === 'Issuer' ? this.issuers.get(`${namespace}/${name}`) : this.clusterIssuers.get(name);
      const parsed = object ? Issuer.safeParse(object) : undefined;
      if (!parsed?.success) continue;
      const email = parsed.data.spec.acme?.email;
      sharers.push({ issuer: issuerName(kind, namespace, name), ...(email ? { email } : {}) });
    }
    return sharers;
  }

  /** One sync: gather, decide, act (the account work may pass the Pending checkpoint), flush once. */
  private async sync(key: string): Promise<ReconcileResult | undefined> {
    const { kind, namespace, name } = parseIssuerKey(key);
    const facts = await this.gather(kind, namespace, name);
    if (!facts) {
      this.deps.onIssuerStatus?.(kind, namespace ?? '', name, undefined);
      return undefined;
    }
    const log = this.deps.log.child({ controller: 'issuer', kind, namespace, name });
    const writer = new StatusWriter<IssuerStatus>({
      kube: this.deps.kube, type: issuerTypes[kind], target: { namespace, name, uid: facts.object.metadata.uid! }, read: facts.previous,
    });
    const plan = decide(facts);
    const { outcome, transient } = await this.act(facts, plan, writer, log);
    await this.flush(facts, outcome, writer, log);
    log.debug({ key, reason: outcome.reason }, 'synced');
    if (transient) throw transient;
    return outcome.requeueAfterMs !== undefined ? { requeueAfterMs: outcome.requeueAfterMs } : undefined;
  }

  /** Every read a decision needs: the issuer, live (its status records the EAB keys used), parsed. */
  private async gather(kind: IssuerKind, namespace: string | undefined, name: string): Promise<IssuerFacts | undefined> {
    const object = await this.deps.kube.get<KubeObject>(issuerTypes[kind], namespace, name);
    if (!object || object.metadata.deletionTimestamp) return undefined;
    const parsed = Issuer.safeParse(object);
    const problem = parsed.success ? undefined : parsed.error.issues[0];
    return {
      kind, namespace, name, object,
      generation: object.metadata.generation ?? 0,
      previous: (object as { status?: IssuerStatus }).status ?? {},
      parsed: parsed.success
        ? { ok: true, issuer: parsed.data, type: issuerType(parsed.data.spec) }
        : { ok: false, problem: `spec is invalid at ${problem?.path.join('.') || 'spec'}: ${problem?.message}` },
      secretNamespace: kind === 'Issuer' ? namespace! : this.deps.clusterResourceNamespace,
    };
  }

  /** What the plan comes to; a transient account failure is rethrown after the flush (backoff, Retry-After). */
  private async act(facts: IssuerFacts, plan: IssuerPlan, writer: StatusWriter<IssuerStatus>, log: Logger): Promise<{ outcome: IssuerOutcome; transient?: TransientAccountError }> {
    switch (plan.kind) {
      case 'invalid':
        return { outcome: { reason: plan.reason, message: plan.message, acme: facts.previous.acme } };
      case 'local': {
        // selfSigned or ca: no account, nothing at a CA; ready when it can sign.
        const local = await localIssuerVerdict(this.deps.kube, plan.spec, facts.secretNamespace, this.deps.clock());
        return { outcome: { reason: local.reason, message: local.message, ...(local.requeueAfterMs !== undefined ? { requeueAfterMs: local.requeueAfterMs } : {}) } };
      }
      case 'account': {
        // THE CHECKPOINT before any CA request (see pendingStatus): the one status write besides the flush.
        if (plan.checkpoint) await writer.write(pendingStatus(facts.previous, { generation: facts.generation, now: this.deps.clock() }));
        try {
          return { outcome: accountOutcome(await this.account(facts, plan, log)) };
        } catch (error) {
          if (!(error instanceof TransientAccountError)) throw error;
          return { outcome: { reason: 'Retrying', message: `${error.message}. certkeeper retries with backoff.`, acme: facts.previous.acme }, transient: error };
        }
      }
    }
  }

  /** The account protocol for this issuer, with what only the controller knows (the Secret cache, the other issuers). */
  private account(facts: IssuerFacts, plan: Extract<IssuerPlan, { kind: 'account' }>, log: Logger): Promise<AccountOutcome> {
    const { kind, namespace, name, secretNamespace } = facts;
    const accountSecretRef = `${secretNamespace}/${plan.spec.privateKeySecretRef.name}`;
    return ensureAccount({
      kube: this.deps.kube,
      locks: this.deps.locks,
      clock: this.deps.clock,
      log,
      ledgerNamespace: this.deps.clusterResourceNamespace,
      settleWindowMs: this.deps.settleWindowMs,
      ...this.deps.accountHooks,
    }, {
      spec: plan.spec,
      status: facts.previous.acme,
      issuer: issuerName(kind, namespace, name),
      secretNamespace,
      verify: plan.verify,
      eabKeyUsedBy: (kid) => this.eabKeyUsedBy(kid, accountSecretRef, secretNamespace),
      sharers: this.sharersOf(accountSecretRef, issuerKey(kind, namespace, name)),
      // Read from the live object: a register annotation removed a moment ago allows nothing.
      registerEabKeyId: facts.object.metadata.annotations?.[REGISTER_EAB_KEY_ID_ANNOTATION],
      issuerRef: { kind, ...(namespace ? { namespace } : {}), name },
    });
  }

  /** The sync's one status write (when it changed), with its log line, events and metric. */
  private async flush(facts: IssuerFacts, outcome: IssuerOutcome, writer: StatusWriter<IssuerStatus>, log: Logger): Promise<void> {
    const { kind, namespace, name } = facts;
    const notes = facts.parsed.ok ? ignoredSolverFields(facts.parsed.issuer.spec.acme?.solvers ?? []) : [];
    // From the status last written: Ready keeps the checkpoint's transition time while it stays False.
    const status = statusFor(outcome, writer.status, { generation: facts.generation, now: this.deps.clock(), notes });
    const ready = findCondition(status.conditions, 'Ready')!;
    if (await writer.write(status)) log.info({ ready: ready.status, reason: ready.reason }, ready.message);
    const involved = { apiVersion: API_VERSION, kind, name, namespace, uid: facts.object.metadata.uid };
    for (const event of eventsFor(outcome, findCondition(facts.previous.conditions, 'Ready'), notes)) {
      this.deps.events.record(involved, event.type, event.reason, event.message);
    }
    this.deps.onIssuerStatus?.(kind, namespace ?? '', name, ready.status === 'True');
  }
}

/** The account protocol's outcome as the issuer's: a usable account is AccountReady unless it carries a warning. */
function accountOutcome(account: AccountOutcome): IssuerOutcome {
  const requeue = account.requeueAfterMs !== undefined ? { requeueAfterMs: account.requeueAfterMs } : {};
  if (!account.ready) return { reason: account.reason, message: account.message, acme: account.acme, ...requeue };
  return {
    reason: account.warning ?? 'AccountReady', message: account.message, acme: account.acme, ...requeue,
    ...(account.registeredNow && account.acme.uri ? { registered: account.acme.uri } : {}),
  };
}
