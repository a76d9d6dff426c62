// The Issuer and ClusterIssuer controller: keeps each issuer's ACME account
// usable (src/acme/account-protocol.ts does the account work) and writes its
// status once per sync. Keys on the queue are "Issuer/<namespace>/<name>" or
// "ClusterIssuer/<name>"; Secret changes requeue the issuers that reference
// them, so a fixed EAB or account Secret is picked up at once.
import type { Logger } from 'pino';
import { Issuer, REGISTER_EAB_KEY_ID_ANNOTATION, type IssuerKind, type IssuerStatus } from '../../api/issuer.ts';
import { API_VERSION, findCondition, LABEL_ACCOUNT_KEY, setCondition } from '../../api/meta.ts';
import { withHealth } from '../../api/health.ts';
import {
  ANNOTATION, ensureAccount, TransientAccountError, type AccountDeps, type AccountOutcome,
} from '../../acme/account-protocol.ts';
import { type KubeClient, type KubeObject, type ResourceType } from '../../kube/client.ts';
import { Controller, type ControllerHooks } from '../../kube/controller.ts';
import type { EventRecorder } from '../../kube/events.ts';
import { Informer, keyOf } from '../../kube/informer.ts';
import type { KeyedMutex } from '../../util/keyed-mutex.ts';
import type { SecretCache } from '../secrets.ts';
import { RefIndex } from '../../util/ref-index.ts';
import { ignoredSolverFields } from '../../solvers/http01/routes.ts';
import { canonicalJson } from '../../util/canonical.ts';
import { localIssuerVerdict } from './local.ts';

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

/** What a sync concludes: the account protocol's outcome, or a controller-level reason. */
type Verdict = AccountOutcome
  | { ready: false; reason: string; message: string; acme: IssuerStatus['acme']; requeueAfterMs?: undefined }
  // selfSigned and ca issuers (local.ts): no account.
  | { ready: true; reason: string; message: string; acme: undefined; requeueAfterMs?: number; warning?: undefined };

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

  private async sync(key: string): Promise<{ requeueAfterMs: number } | undefined> {
    const { kind, namespace, name } = parseIssuerKey(key);
    const type = issuerTypes[kind];
    const log = this.deps.log.child({ controller: 'issuer', kind, namespace, name });
    // A live read: the status holds the record of used EAB keys, and a stale
    // copy could send a rejected key again.
    const object = await this.deps.kube.get<KubeObject>(type, namespace, name);
    if (!object || object.metadata.deletionTimestamp) {
      this.deps.onIssuerStatus?.(kind, namespace ?? '', name, undefined);
      return undefined;
    }
    const generation = object.metadata.generation ?? 0;
    const parsed = Issuer.safeParse(object);
    const previous = (object as { status?: IssuerStatus }).status ?? {};
    let outcome: Verdict;
    let transient: TransientAccountError | undefined;
    if (!parsed.success) {
      const problem = parsed.error.issues[0];
      outcome = {
        ready: false,
        reason: 'InvalidSpec',
        message: `spec is invalid at ${problem?.path.join('.') || 'spec'}: ${problem?.message}`,
        acme: previous.acme,
      };
    } else if (!parsed.data.spec.acme) {
      // selfSigned or ca: no account, nothing at a CA; ready when it can sign.
      const secretNamespace = kind === 'Issuer' ? namespace! : this.deps.clusterResourceNamespace;
      const local = await localIssuerVerdict(this.deps.kube, parsed.data.spec, secretNamespace, this.deps.clock());
      outcome = local.ready
        ? { ready: true, message: local.message, reason: local.reason, acme: undefined, requeueAfterMs: local.requeueAfterMs }
        : { ready: false, reason: local.reason, message: local.message, acme: undefined };
    } else {
      const acmeSpec = parsed.data.spec.acme;
      const secretNamespace = kind === 'Issuer' ? namespace! : this.deps.clusterResourceNamespace;
      const ready = findCondition(previous.conditions, 'Ready');
      // The first sync says Ready=False (Pending, Reconciling) before any CA request,
      // so GitOps tools never read a new Issuer as done while its account is set up.
      if (!ready) await this.writeStatus(type, object, { ...previous, ...withHealth('Issuer', { generation, conditions: previous.conditions }, this.deps.clock()) });
      try {
        const accountSecretRef = `${secretNamespace}/${acmeSpec.privateKeySecretRef.name}`;
        outcome = await ensureAccount({
          kube: this.deps.kube,
          locks: this.deps.locks,
          clock: this.deps.clock,
          log,
          ledgerNamespace: this.deps.clusterResourceNamespace,
          settleWindowMs: this.deps.settleWindowMs,
          ...this.deps.accountHooks,
        }, {
          spec: acmeSpec,
          status: previous.acme,
          issuer: issuerName(kind, namespace, name),
          secretNamespace,
          verify: ready?.status !== 'True' || ready.observedGeneration !== generation || previous.acme?.uri === undefined,
          eabKeyUsedBy: (kid) => this.eabKeyUsedBy(kid, accountSecretRef, secretNamespace),
          sharers: this.sharersOf(accountSecretRef, key),
          // Read from the live object: a register annotation removed a moment ago allows nothing.
          registerEabKeyId: object.metadata.annotations?.[REGISTER_EAB_KEY_ID_ANNOTATION],
          issuerRef: { kind, ...(namespace ? { namespace } : {}), name },
        });
      } catch (error) {
        if (!(error instanceof TransientAccountError)) throw error;
        transient = error;
        outcome = { ready: false, reason: 'Retrying', message: `${error.message}. certkeeper retries with backoff.`, acme: previous.acme };
      }
    }

    // Accepted cert-manager fields that do nothing here are named, never silently ignored.
    const ignored = parsed.success ? ignoredSolverFields(parsed.data.spec.acme?.solvers ?? []) : [];
    const condition = {
      type: 'Ready',
      status: outcome.ready ? 'True' : 'False',
      reason: outcome.ready ? outcome.warning ?? ('reason' in outcome ? outcome.reason : undefined) ?? 'AccountReady' : outcome.reason,
      message: ignored.length > 0 ? `${outcome.message} Note: ${ignored.join('; ')}.` : outcome.message,
      observedGeneration: generation,
    } as const;
    const now = this.deps.clock();
    const status: IssuerStatus = {
      ...withHealth('Issuer', { generation, conditions: setCondition(previous.conditions, condition, now) }, now),
      ...(outcome.acme ? { acme: outcome.acme } : {}),
    };
    const before = findCondition(previous.conditions, 'Ready');
    if (!sameStatus(previous, status)) {
      await this.writeStatus(type, object, status);
      log.info({ ready: condition.status, reason: condition.reason }, condition.message);
    }
    if (before?.reason !== condition.reason || before?.status !== condition.status) {
      const involved = { apiVersion: API_VERSION, kind, name, namespace, uid: object.metadata.uid };
      if (outcome.ready && 'registeredNow' in outcome && outcome.registeredNow) this.deps.events.record(involved, 'Normal', 'Registered', `Registered ACME account ${outcome.acme.uri}`);
      this.deps.events.record(involved, outcome.ready && !outcome.warning ? 'Normal' : 'Warning', condition.reason, condition.message);
    }
    this.deps.onIssuerStatus?.(kind, namespace ?? '', name, outcome.ready);
    log.debug({ key, reason: condition.reason }, 'synced');
    if (transient) throw transient;
    return outcome.requeueAfterMs !== undefined ? { requeueAfterMs: outcome.requeueAfterMs } : undefined;
  }

  /**
   * The whole status, on the condition that this is still the object it was
   * computed for: an Issuer deleted and re-created under the same name never
   * gets the old one's status (server-side apply would ignore a uid).
   */
  private async writeStatus(type: ResourceType, object: KubeObject, status: IssuerStatus): Promise<void> {
    await this.deps.kube.jsonPatch(type, object.metadata.namespace, object.metadata.name, [
      { op: 'test', path: '/metadata/uid', value: object.metadata.uid },
      { op: 'add', path: '/status', value: status },
    ], 'status');
  }
}

/** Compares statuses ignoring key order. */
function sameStatus(a: IssuerStatus, b: IssuerStatus): boolean {
  return canonicalJson(a) === canonicalJson(b);
}


