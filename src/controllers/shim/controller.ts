// The Ingress and Gateway shim: for an Ingress or Gateway annotated with
// certkeeper.io/issuer or certkeeper.io/cluster-issuer, keeps one Certificate
// per Secret it names (desired.ts), owned by it (a controller ownerReference,
// so the garbage collector removes them with it), in sync with its hosts and
// annotations (annotations.ts). A Certificate the shim did not create (no
// controller ownerReference to this very object) is never changed or deleted.
//
// Queue keys are "Ingress/<namespace>/<name>" or "Gateway/<namespace>/<name>".
// A sync compares the desired Certificates with the ones this object owns:
// creates the missing (create, never apply: a Certificate someone made by hand
// in the meantime makes it fail instead of being taken over), rewrites the spec
// of changed ones (a JSON patch guarded by the Certificate's uid), and deletes
// owned ones no longer asked for (removing the annotation removes them all).
import type { Logger } from 'pino';
import { certificates, CertificateSpec } from '../../api/certificate.ts';
import { API_VERSION } from '../../api/meta.ts';
import { isAlreadyExists, isNotFound, type KubeClient, type KubeObject, type ResourceType } from '../../kube/client.ts';
import { Controller, type ControllerHooks } from '../../kube/controller.ts';
import type { EventRecorder } from '../../kube/events.ts';
import { Informer, InformerView, keyOf, type ChangeSource } from '../../kube/informer.ts';
import { ingresses } from '../../solvers/http01/routes.ts';
import { INGRESS_NAME_ANNOTATION } from '../../solvers/http01/edit-in-place.ts';
import { INGRESS_CLASS_ANNOTATION, INGRESS_CLASS_NAME_ANNOTATION } from '../../solvers/http01/routes.ts';
import { canonicalJson } from '../../util/canonical.ts';
import { isAnnotated, readAnnotations, type ShimOptions } from './annotations.ts';
import { desiredForGateway, desiredForIngress, type DesiredCertificate, type GatewayObject, type IngressObject } from './desired.ts';

/** (Re-exported: the shim's tests import it from here.) */
export { certificates };
export const gateways: ResourceType = { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gateways', namespaced: true };

export type SourceKind = 'Ingress' | 'Gateway';

const SOURCES = {
  Ingress: { type: ingresses, apiVersion: 'networking.k8s.io/v1', desired: desiredForIngress },
  Gateway: { type: gateways, apiVersion: 'gateway.networking.k8s.io/v1', desired: desiredForGateway },
} as const;

type SourceObject = IngressObject & GatewayObject;

interface OwnerReference {
  apiVersion?: string;
  kind?: string;
  name?: string;
  uid?: string;
  controller?: boolean;
}

interface CertificateObject extends KubeObject {
  spec?: unknown;
}

export interface ShimControllerDeps {
  kube: KubeClient;
  log: Logger;
  events: EventRecorder;
  options: ShimOptions;
  /** Which kinds to watch (Gateway only where the Gateway API is served). */
  kinds: SourceKind[];
  /**
   * The Certificate controller's informer: the shim keeps a view of the
   * Certificates it owns rather than a second list and watch of them all.
   * readSpec gives a cached Certificate's spec.
   */
  certificates: ChangeSource<KubeObject>;
  readSpec: (cached: KubeObject) => unknown;
  hooks?: ControllerHooks;
}

/** The Ingress or Gateway that controls a Certificate, if the shim made it. */
export function shimOwner(certificate: KubeObject): (OwnerReference & { kind: SourceKind }) | undefined {
  const refs = (certificate.metadata.ownerReferences ?? []) as OwnerReference[];
  const ref = refs.find((r) => r.controller === true);
  if (!ref || (ref.kind !== 'Ingress' && ref.kind !== 'Gateway')) return undefined;
  if (ref.apiVersion?.split('/')[0] !== SOURCES[ref.kind].apiVersion.split('/')[0]) return undefined;
  return ref as OwnerReference & { kind: SourceKind };
}

/** Keeps what a sync reads: names, uid, annotations and the spec (the TLS part of it). */
function shrinkSource(object: SourceObject): SourceObject {
  const { name, namespace, uid, resourceVersion, generation, deletionTimestamp, annotations } = object.metadata;
  return {
    metadata: { name, namespace, uid, resourceVersion, generation, deletionTimestamp, annotations },
    spec: object.spec?.tls ? { tls: object.spec.tls } : object.spec?.listeners ? { listeners: object.spec.listeners } : {},
  };
}

/** The Certificate's spec as the API server would store it (defaults applied), for comparison. */
function normalSpec(spec: unknown): string {
  const parsed = CertificateSpec.safeParse(spec);
  return canonicalJson(parsed.success ? parsed.data : spec);
}

export class ShimController {
  readonly controller: Controller;
  readonly sources = new Map<SourceKind, Informer<SourceObject>>();
  /** Certificates the shim owns (others are seen and forgotten). */
  readonly certificates: InformerView<KubeObject, CertificateObject>;
  private readonly deps: ShimControllerDeps;
  /** Last Warning message per object, so a resync does not repeat the same event. */
  private readonly warned = new Map<string, string>();

  constructor(deps: ShimControllerDeps) {
    this.deps = deps;
    const log = deps.log.child({ controller: 'shim' });
    this.controller = new Controller({ name: 'shim', reconcile: (key) => this.sync(key), log, hooks: deps.hooks, workers: 2 });
    for (const kind of deps.kinds) {
      const informer = new Informer<SourceObject>({
        kube: deps.kube, type: SOURCES[kind].type, log,
        transform: shrinkSource,
        keep: (_key, object) => isAnnotated(object.metadata.annotations, deps.options),
      });
      informer.onChange((key, current, previous) => {
        if (previous || (current && isAnnotated(current.metadata.annotations, deps.options))) this.controller.enqueue(`${kind}/${key}`);
      });
      this.sources.set(kind, informer);
    }
    // Ownership is read from metadata alone: the spec is decoded only for the Certificates the shim owns.
    this.certificates = new InformerView<KubeObject, CertificateObject>(deps.certificates, {
      keyOf: (c) => keyOf(c.metadata),
      keep: (c) => shimOwner(c) !== undefined,
      view: (c) => ({ metadata: c.metadata, spec: deps.readSpec(c) }),
    });
    // A user who edits or deletes a Certificate the shim owns gets it back as the Ingress says.
    this.certificates.onChange((_key, current, previous) => {
      for (const object of [current, previous]) {
        const owner = object && shimOwner(object);
        if (owner && this.sources.has(owner.kind)) this.controller.enqueue(`${owner.kind}/${object.metadata.namespace}/${owner.name}`);
      }
    });
  }

  startWatching(): void {
    // The Certificates' informer is the Certificate controller's: it starts and stops it.
    for (const informer of this.sources.values()) informer.start();
  }

  startWorking(): void {
    this.controller.start();
  }

  get hasSynced(): boolean {
    return this.certificates.hasSynced && [...this.sources.values()].every((i) => i.hasSynced);
  }

  waitForSync(): Promise<unknown> {
    return Promise.all([this.certificates.waitForSync(), ...[...this.sources.values()].map((i) => i.waitForSync())]);
  }

  async stop(): Promise<void> {
    await this.controller.stop();
    await Promise.all([...this.sources.values()].map((i) => i.stop()));
  }

  private async sync(key: string): Promise<void> {
    const [kind, namespace, name] = key.split('/') as [SourceKind, string, string];
    const source = SOURCES[kind];
    const log = this.deps.log.child({ controller: 'shim', kind, namespace, name });
    // Only annotated objects are cached: absent means deleted or no longer annotated.
    const object = this.sources.get(kind)!.get(`${namespace}/${name}`);
    const live = object && !object.metadata.deletionTimestamp ? object : undefined;
    const involved = live && { apiVersion: source.apiVersion, kind, name, namespace, uid: live.metadata.uid };

    let desired: DesiredCertificate[] = [];
    if (live) {
      const request = readAnnotations(live.metadata.annotations, this.deps.options);
      if (request.kind === 'invalid') {
        // Nothing is created or deleted on a typo: the Certificates stay as they were.
        this.warnOnce(key, involved!, 'BadAnnotation', `${request.message}; no Certificate changed`);
        return;
      }
      if (request.kind === 'certificates') {
        const result = source.desired(live, request);
        desired = result.certificates;
        const notes = [
          ...request.noEffect.map((n) => `${n.annotation} has no effect (${n.reason})`),
          ...result.skipped,
        ];
        if (notes.length > 0) this.warnOnce(key, involved!, 'AnnotationsIgnored', notes.join('; '));
        else this.warned.delete(key);
      }
    } else {
      for (const warned of [...this.warned.keys()]) if (warned === key || warned.startsWith(`${key}/`)) this.warned.delete(warned);
    }

    const owned = this.certificates.list().filter((c) => {
      const owner = shimOwner(c);
      return c.metadata.namespace === namespace && owner?.kind === kind && owner.name === name;
    });
    // Owned by an earlier object of the same name, or no longer asked for: removed.
    for (const certificate of owned) {
      const stillWanted = live && shimOwner(certificate)!.uid === live.metadata.uid && desired.some((d) => d.name === certificate.metadata.name);
      if (stillWanted) continue;
      const deleted = await this.deps.kube.delete(certificates, namespace, certificate.metadata.name, { uid: certificate.metadata.uid });
      if (deleted) {
        log.info({ certificate: certificate.metadata.name }, 'deleted a Certificate no longer asked for');
        if (involved) this.deps.events.record(involved, 'Normal', 'DeletedCertificate', `Deleted Certificate ${certificate.metadata.name}: no longer asked for by this ${kind}`);
      }
    }
    if (!live) return;

    for (const want of desired) {
      const body = {
        apiVersion: API_VERSION,
        kind: 'Certificate',
        metadata: {
          name: want.name,
          namespace,
          ownerReferences: [{ apiVersion: source.apiVersion, kind, name, uid: live.metadata.uid, controller: true }],
          ...(Object.keys(solverAnnotations(want)).length > 0 ? { annotations: solverAnnotations(want) } : {}),
        },
        spec: want.spec,
      };
      const cached = owned.find((c) => c.metadata.name === want.name && shimOwner(c)!.uid === live.metadata.uid);
      if (cached) {
        if (normalSpec(cached.spec) !== normalSpec(want.spec)) await this.rewriteSpec(namespace, cached, want, log);
        await this.syncEditedIngress(namespace, cached, want, log);
        continue;
      }
      try {
        await this.deps.kube.create(certificates, body as KubeObject);
        log.info({ certificate: want.name }, 'created a Certificate');
        this.deps.events.record(involved!, 'Normal', 'CreatedCertificate', `Created Certificate ${want.name} for ${want.spec.dnsNames!.join(', ')}`);
      } catch (error) {
        if (!isAlreadyExists(error)) throw error;
        const existing = await this.deps.kube.get<CertificateObject>(certificates, namespace, want.name);
        const owner = existing && shimOwner(existing);
        if (existing && owner?.kind === kind && owner.name === name && owner.uid === live.metadata.uid) {
          // Ours, and the cache had not shown it yet.
          if (normalSpec(existing.spec) !== normalSpec(want.spec)) await this.rewriteSpec(namespace, existing, want, log);
          await this.syncEditedIngress(namespace, existing, want, log);
          continue;
        }
        this.warnOnce(`${key}/${want.name}`, involved!, 'CertificateConflict',
          `Certificate ${want.name} already exists and is not managed by this ${kind}; certkeeper leaves it alone. Rename spec.tls secretName, or delete that Certificate to let the ${kind} manage it`);
      }
    }
  }

  /** Replaces the spec of a Certificate the shim owns, only if it is still the same object. */
  private async rewriteSpec(namespace: string, certificate: CertificateObject, want: DesiredCertificate, log: Logger): Promise<void> {
    try {
      await this.deps.kube.jsonPatch(certificates, namespace, certificate.metadata.name, [
        { op: 'test', path: '/metadata/uid', value: certificate.metadata.uid },
        { op: 'replace', path: '/spec', value: want.spec },
      ]);
      log.info({ certificate: want.name }, 'updated a Certificate to match');
    } catch (error) {
      // Deleted meanwhile: its DELETED event queues this object again.
      if (!isNotFound(error)) throw error;
    }
  }

  /** Sets or removes the HTTP-01 annotations (edit-in-place, ingress class: the only annotations the shim manages), where they differ. */
  private async syncEditedIngress(namespace: string, certificate: CertificateObject, want: DesiredCertificate, log: Logger): Promise<void> {
    const wanted = solverAnnotations(want);
    const changes = Object.fromEntries(SHIM_ANNOTATIONS
      .filter((key) => certificate.metadata.annotations?.[key] !== wanted[key])
      .map((key) => [key, wanted[key] ?? null]));
    if (Object.keys(changes).length === 0) return;
    try {
      // The uid in the patch is a precondition (it is immutable): a Certificate re-created meanwhile is not changed.
      await this.deps.kube.mergePatch(certificates, namespace, certificate.metadata.name, {
        metadata: { uid: certificate.metadata.uid, annotations: changes },
      });
      log.info({ certificate: want.name, annotations: changes }, 'updated the Certificate\'s HTTP-01 annotations');
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  private warnOnce(key: string, involved: { apiVersion: string; kind: string; name: string; namespace?: string; uid?: string }, reason: string, message: string): void {
    if (this.warned.get(key) === `${reason}:${message}`) return;
    this.warned.set(key, `${reason}:${message}`);
    this.deps.events.record(involved, 'Warning', reason, message);
  }
}

/** Whether the API server serves the Gateway API (its CRDs are optional in a cluster). */
export async function gatewayApiServed(kube: KubeClient): Promise<boolean> {
  try {
    await kube.request('GET', `/apis/${gateways.group}/${gateways.version}`, {}, 'read');
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/** The Certificate annotations the shim manages: how its HTTP-01 challenges are routed. */
const SHIM_ANNOTATIONS = [INGRESS_NAME_ANNOTATION, INGRESS_CLASS_ANNOTATION, INGRESS_CLASS_NAME_ANNOTATION];

function solverAnnotations(want: DesiredCertificate): Record<string, string> {
  return {
    ...(want.editedIngress ? { [INGRESS_NAME_ANNOTATION]: want.editedIngress } : {}),
    ...(want.ingressClass ? { [INGRESS_CLASS_ANNOTATION]: want.ingressClass } : {}),
    ...(want.ingressClassName ? { [INGRESS_CLASS_NAME_ANNOTATION]: want.ingressClassName } : {}),
  };
}
