// CA injection, like cert-manager's cainjector but inside the operator: keeps
// the caBundle of annotated ValidatingWebhookConfigurations,
// MutatingWebhookConfigurations, CustomResourceDefinitions (conversion
// webhook) and APIServices equal to the ca.crt of a Certificate's Secret, of a
// Secret, or to the API server's own CA (injection.ts says which and how).
//
// Memory is the design constraint (cert-manager's cainjector caches every
// Secret in full and grows to GiBs): the four kinds are watched metadata-only
// and only annotated objects are kept, reduced to their injection
// annotations; Certificates come from the Certificate controller's informer
// (nothing more is cached per Certificate), and Secret events from the shared
// SecretCache. One small index maps a Certificate or Secret to the targets
// that use it. Secrets are read live, one GET per sync; their data is never kept.
//
// Queue keys are "<Kind>/<name>" (all four kinds are cluster-scoped). A sync
// reads the target live, resolves its source, and writes the whole object back
// (PUT with its resourceVersion: a concurrent edit conflicts and is retried)
// only if a caBundle differs. Any problem is a Warning event on the target and
// leaves it as it is: a caBundle is never cleared or replaced by something
// that is not a certificate.
import type { Logger } from 'pino';
import { ApiError, isConflict, type KubeClient, type KubeObject } from '../../kube/client.ts';
import { Controller, type ControllerHooks, type ReconcileResult } from '../../kube/controller.ts';
import type { EventRecorder, InvolvedObject } from '../../kube/events.ts';
import { Informer, type ChangeHandler, type Key } from '../../kube/informer.ts';
import { RefIndex } from '../../util/ref-index.ts';
import type { SecretChangeHandler } from '../secrets.ts';
import type { SecretObject } from '../certificate/secret-facts.ts';
import {
  allowsDirectInjection, caBundleFromPem, caBundleFromSecretData, injectionAnnotations, injectionSource, isAnnotated,
  TARGET_KIND_NAMES, TARGET_KINDS, withCaBundle, writtenForCertificate, type CaBundle, type InjectionSource, type InjectorOptions, type TargetKind, type TargetObject,
} from './injection.ts';

/** Event reasons, on the target object. */
export const InjectionReason = {
  Injected: 'CAInjected',
  BadAnnotation: 'BadInjectAnnotation',
  CertificateNotFound: 'CertificateNotFound',
  SecretNotFound: 'SecretNotFound',
  SecretNotForCertificate: 'SecretNotForCertificate',
  DirectInjectionNotAllowed: 'DirectInjectionNotAllowed',
  InvalidCA: 'InvalidCA',
  NoAPIServerCA: 'NoAPIServerCA',
  CannotInject: 'CannotInject',
  Forbidden: 'InjectionForbidden',
  Rejected: 'InjectionRejected',
} as const;

/** After a 403 on the write, look again this much later (RBAC may be fixed without any object changing). */
const FORBIDDEN_RETRY_MS = 10 * 60_000;

/** Reads and writes of one sync when the target keeps changing under it; then the controller's backoff. */
const CONFLICT_ATTEMPTS = 3;

const PARTIAL_METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';

/** The Certificate controller's cache, as CA injection reads it. */
export interface CertificateLookup {
  get(key: Key): KubeObject | undefined;
  onChange(handler: ChangeHandler<KubeObject>): void;
  readonly hasSynced: boolean;
  waitForSync(): Promise<void>;
}

/** The shared Secret cache, as CA injection uses it. */
export interface SecretEvents {
  onChange(handler: SecretChangeHandler): void;
  addReferences(references: (key: Key) => boolean): void;
  /** A Secret read live (data included; kept by the cache as metadata only, while referenced). */
  readLive(namespace: string, name: string): Promise<SecretObject | undefined>;
}

export interface CaInjectorDeps {
  kube: KubeClient;
  log: Logger;
  events: EventRecorder;
  options: InjectorOptions;
  /** The kinds to watch (servedTargetKinds: those the API server serves and lets certkeeper list). */
  kinds: TargetKind[];
  certificates: CertificateLookup;
  /** spec.secretName of a cached Certificate. */
  secretNameOf: (cached: KubeObject) => string | undefined;
  secrets: SecretEvents;
  /** The CA (PEM) the operator trusts the API server with, for inject-apiserver-ca. */
  apiserverCa: string | undefined;
  hooks?: ControllerHooks;
}

/** What a cached target keeps: its name, uid, version and injection annotations. */
function shrinkTarget(object: KubeObject, options: InjectorOptions): KubeObject {
  const { name, uid, resourceVersion } = object.metadata;
  const annotations = injectionAnnotations(object.metadata.annotations, options);
  return { metadata: annotations ? { name, uid, resourceVersion, annotations } : { name, uid, resourceVersion } };
}

/** Why a target's source gives no usable CA: a Warning event, nothing written. */
interface Problem {
  ok: false;
  reason: string;
  message: string;
}

const problem = (reason: string, message: string): Problem => ({ ok: false, reason, message });

/** A usable CA, or why there is none. */
type Resolved = Extract<CaBundle, { ok: true }> | Problem;

export class CaInjector {
  readonly controller: Controller;
  readonly targets = new Map<TargetKind, Informer<KubeObject>>();
  private readonly deps: CaInjectorDeps;
  /** "Certificate/<ns>/<name>" and "Secret/<ns>/<name>" → keys of the targets that use it. */
  private readonly index = new RefIndex();
  /** Target key → its refs in the index, as its last sync resolved them. */
  private readonly refsOf = new Map<string, string[]>();
  /** Last Warning per target, so resyncs and retries do not repeat the same event. */
  private readonly warned = new Map<string, string>();

  constructor(deps: CaInjectorDeps) {
    this.deps = deps;
    const log = deps.log.child({ controller: 'cainjector' });
    this.controller = new Controller({ name: 'cainjector', reconcile: (key) => this.sync(key), log, hooks: deps.hooks, workers: 2 });
    for (const kind of deps.kinds) {
      const informer = new Informer<KubeObject>({
        kube: deps.kube, type: TARGET_KINDS[kind].type, log, metadataOnly: true,
        transform: (object) => shrinkTarget(object, deps.options),
        keep: (_key, object) => isAnnotated(object.metadata.annotations, deps.options),
      });
      informer.onChange((key, current, previous) => {
        if (previous || (current && isAnnotated(current.metadata.annotations, deps.options))) this.controller.enqueue(`${kind}/${key}`);
      });
      this.targets.set(kind, informer);
    }
    const wake = (ref: string) => {
      for (const target of this.index.get(ref)) this.controller.enqueue(target);
    };
    deps.certificates.onChange((key) => wake(`Certificate/${key}`));
    deps.secrets.onChange((key) => wake(`Secret/${key}`));
    // Secrets certkeeper did not label stay cached (metadata) while a target uses them, so a deletion a relist finds is told too.
    deps.secrets.addReferences((key) => this.index.has(`Secret/${key}`));
  }

  startWatching(): void {
    for (const informer of this.targets.values()) informer.start();
  }

  startWorking(): void {
    this.controller.start();
  }

  get hasSynced(): boolean {
    return this.deps.certificates.hasSynced && [...this.targets.values()].every((i) => i.hasSynced);
  }

  waitForSync(): Promise<unknown> {
    return Promise.all([this.deps.certificates.waitForSync(), ...[...this.targets.values()].map((i) => i.waitForSync())]);
  }

  async stop(): Promise<void> {
    await this.controller.stop();
    await Promise.all([...this.targets.values()].map((i) => i.stop()));
  }

  /** A conflict (someone wrote the target between our read and write) is normal: read again at once, a few times, before backing off. */
  private async sync(key: string): Promise<ReconcileResult | void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.syncOnce(key);
      } catch (error) {
        if (!isConflict(error) || attempt >= CONFLICT_ATTEMPTS) throw error;
      }
    }
  }

  private async syncOnce(key: string): Promise<ReconcileResult | void> {
    const slash = key.indexOf('/');
    const kind = key.slice(0, slash) as TargetKind;
    const name = key.slice(slash + 1);
    const { type, apiVersion } = TARGET_KINDS[kind];
    const log = this.deps.log.child({ controller: 'cainjector', kind, name });

    const target = await this.deps.kube.get<TargetObject>(type, undefined, name);
    const source = target && !target.metadata.deletionTimestamp ? injectionSource(target.metadata.annotations, this.deps.options) : { kind: 'none' as const };
    if (!target || source.kind === 'none') {
      this.setRefs(key, []);
      this.warned.delete(key);
      return;
    }
    const involved: InvolvedObject = { apiVersion, kind, name, uid: target.metadata.uid };
    if (source.kind === 'invalid') {
      this.setRefs(key, []);
      return this.warn(key, involved, log, problem(InjectionReason.BadAnnotation, `${source.message}; caBundle left as it is`));
    }

    const { from, bundle } = await this.resolve(key, source);
    if (!bundle.ok) return this.warn(key, involved, log, bundle);

    const injection = withCaBundle(kind, target, bundle.caBundle);
    if (injection.kind === 'unchanged') {
      this.warned.delete(key);
      return;
    }
    if (injection.kind === 'nothing-to-inject') {
      // cert-manager is silent here too: CRDs are often annotated whether or not conversion is on.
      if (log.isLevelEnabled('debug')) log.debug({ reason: injection.message }, 'nothing to inject');
      this.warned.delete(key);
      return;
    }
    if (injection.kind === 'refused') {
      return this.warn(key, involved, log, problem(InjectionReason.CannotInject, `cannot inject ${from}: ${injection.message}; caBundle left as it is`));
    }
    try {
      await this.deps.kube.replace(type, injection.object);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      // Deleted meanwhile: its event ends the story.
      if (error.status === 404) return;
      if (error.status === 403) {
        this.warn(key, involved, log, problem(InjectionReason.Forbidden, `certkeeper may not update this ${kind} (${error.message}); grant it update on ${type.plural}.${type.group}, or turn CA injection off`));
        return { requeueAfterMs: FORBIDDEN_RETRY_MS };
      }
      if (error.status === 422) {
        return this.warn(key, involved, log, problem(InjectionReason.Rejected, `the API server rejected the caBundle from ${from}: ${error.message}`));
      }
      // A conflict (someone wrote first: read again) or a passing failure (retried with backoff).
      throw error;
    }
    this.warned.delete(key);
    log.info({ from, fields: injection.fields, certificates: bundle.certificates }, 'injected the CA bundle');
    this.deps.events.record(involved, 'Normal', InjectionReason.Injected, `Set ${injection.fields.length === 1 ? injection.fields[0] : `${injection.fields.length} caBundle fields`} to the CA of ${from}`);
  }

  /** The CA a source names, indexing what it reads first (a change after the read wakes the target again). */
  private async resolve(key: string, source: Exclude<InjectionSource, { kind: 'none' | 'invalid' }>): Promise<{ from: string; bundle: Resolved }> {
    switch (source.kind) {
      case 'certificate':
        return { from: `Certificate ${source.namespace}/${source.name}`, bundle: await this.fromCertificate(key, source.namespace, source.name, source.annotation) };
      case 'secret':
        this.setRefs(key, [`Secret/${source.namespace}/${source.name}`]);
        return { from: `Secret ${source.namespace}/${source.name}`, bundle: await this.fromSecret(source.namespace, source.name, source.annotation) };
      case 'apiserver': {
        this.setRefs(key, []);
        const pem = this.deps.apiserverCa;
        if (pem === undefined) {
          const message = `${source.annotation}: certkeeper trusts the API server through the system's roots, not a CA of its own (no certificate-authority in its kubeconfig); caBundle left as it is`;
          return { from: 'the API server\'s CA', bundle: problem(InjectionReason.NoAPIServerCA, message) };
        }
        const bundle = caBundleFromPem(pem);
        return { from: 'the API server\'s CA', bundle: bundle.ok ? bundle : problem(InjectionReason.InvalidCA, `the API server's CA is not usable: ${bundle.message}; caBundle left as it is`) };
      }
    }
  }

  /** The ca.crt of the Secret a Certificate writes, if that Secret was written for it. */
  private async fromCertificate(key: string, namespace: string, name: string, annotation: string): Promise<Resolved> {
    const certificateRef = `Certificate/${namespace}/${name}`;
    const certificate = this.deps.certificates.get(`${namespace}/${name}`);
    const secretName = certificate && this.deps.secretNameOf(certificate);
    if (!certificate || !secretName) {
      this.setRefs(key, [certificateRef]);
      return problem(InjectionReason.CertificateNotFound, `${annotation}: Certificate ${namespace}/${name} not found (nor, maybe, its namespace); caBundle left as it is until it exists`);
    }
    this.setRefs(key, [certificateRef, `Secret/${namespace}/${secretName}`]);
    const secret = await this.deps.secrets.readLive(namespace, secretName);
    if (!secret) {
      return problem(InjectionReason.SecretNotFound, `Secret ${namespace}/${secretName} of Certificate ${namespace}/${name} does not exist yet (not issued?); caBundle left as it is`);
    }
    if (!writtenForCertificate(secret.metadata.annotations, name)) {
      return problem(InjectionReason.SecretNotForCertificate, `Secret ${namespace}/${secretName} was not written for Certificate ${namespace}/${name} (its certkeeper.io/certificate-name annotation says otherwise); caBundle left as it is`);
    }
    const bundle = caBundleFromSecretData(secret.data);
    return bundle.ok ? bundle : problem(InjectionReason.InvalidCA, `Secret ${namespace}/${secretName} of Certificate ${namespace}/${name}: ${bundle.message}; caBundle left as it is`);
  }

  /** The ca.crt of a Secret whose owner allows direct injection. */
  private async fromSecret(namespace: string, name: string, annotation: string): Promise<Resolved> {
    const secret = await this.deps.secrets.readLive(namespace, name);
    if (!secret) return problem(InjectionReason.SecretNotFound, `${annotation}: Secret ${namespace}/${name} not found; caBundle left as it is`);
    if (!allowsDirectInjection(secret.metadata.annotations)) {
      return problem(InjectionReason.DirectInjectionNotAllowed, `Secret ${namespace}/${name} does not allow direct injection: its owner must annotate it cert-manager.io/allow-direct-injection: "true" (or certkeeper.io/allow-direct-injection: "true"); caBundle left as it is`);
    }
    const bundle = caBundleFromSecretData(secret.data);
    return bundle.ok ? bundle : problem(InjectionReason.InvalidCA, `Secret ${namespace}/${name}: ${bundle.message}; caBundle left as it is`);
  }

  private setRefs(key: string, refs: string[]): void {
    const previous = this.refsOf.get(key) ?? [];
    for (const ref of previous) if (!refs.includes(ref)) this.index.delete(ref, key);
    for (const ref of refs) this.index.add(ref, key);
    if (refs.length > 0) this.refsOf.set(key, refs);
    else this.refsOf.delete(key);
  }

  private warn(key: string, involved: InvolvedObject, log: Logger, problem: Problem): void {
    if (this.warned.get(key) === `${problem.reason}:${problem.message}`) return;
    this.warned.set(key, `${problem.reason}:${problem.message}`);
    log.warn({ reason: problem.reason }, problem.message);
    this.deps.events.record(involved, 'Warning', problem.reason, problem.message);
  }
}

/**
 * The target kinds certkeeper can watch here: all four on any cluster it
 * supports, but a cluster may not serve one (404) or RBAC may not let
 * certkeeper list it (403). Those are left out, said once, instead of a watch
 * that fails forever and keeps /readyz from ever answering. Checked at start:
 * a change needs a restart.
 */
export async function servedTargetKinds(kube: KubeClient, log: Logger): Promise<TargetKind[]> {
  const served = await Promise.all(TARGET_KIND_NAMES.map(async (kind) => {
    const { type } = TARGET_KINDS[kind];
    try {
      await kube.request('GET', kube.path(type), { query: { limit: 1 }, accept: PARTIAL_METADATA_LIST }, 'read');
      return kind;
    } catch (error) {
      if (!(error instanceof ApiError) || (error.status !== 404 && error.status !== 403)) throw error;
      const why = error.status === 404 ? 'the API server does not serve them' : 'certkeeper may not list them (RBAC)';
      log[error.status === 404 ? 'info' : 'warn']({ kind, resource: `${type.plural}.${type.group}`, err: error.message }, `CA injection into ${kind}s is off until a restart: ${why}`);
      return undefined;
    }
  }));
  return served.filter((kind): kind is TargetKind => kind !== undefined);
}
