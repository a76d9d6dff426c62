// The Certificate controller: keeps each Certificate's TLS Secret valid for
// its spec. A sync reads the Certificate and its Secret's facts (from the
// caches when they are current, see `current*`), asks the pure checks
// (checks.ts) whether it may write its Secret at all and whether to issue,
// stores the next private key (next-key.ts), drives an ACME order when needed
// (issue.ts), writes the Secret in one request, and the status once. Renewal
// is a requeue at the renewal time, recomputed from the Secret on every sync.
import type { Logger } from 'pino';
import { Certificate, CertificateSpec, parseDuration, type CertificateStatus, type OrderStatus } from '../../api/certificate.ts';
import { withHealth } from '../../api/health.ts';
import { Issuer, issuerType, type AcmeIssuerSpec, type IssuerSpec } from '../../api/issuer.ts';
import { readCaKeyPair } from '../issuer/local.ts';
import { signCertificate, type Signer } from '../../pki/sign.ts';
import { API_VERSION, findCondition, MANAGED_BY, setCondition, type ConditionInput } from '../../api/meta.ts';
import { DEFAULT_ACCOUNT_KEY_NAME } from '../../api/issuer.ts';
import { parseAccountSecret } from '../../acme/account-protocol.ts';
import type { AcmeTransportOptions } from '../../acme/transport.ts';
import { core, type KubeClient, type KubeObject, type ResourceType } from '../../kube/client.ts';
import { Controller, errorMessage, type ControllerHooks } from '../../kube/controller.ts';
import type { EventRecorder } from '../../kube/events.ts';
import { Informer, keyOf, resourceVersionAtLeast, splitKey } from '../../kube/informer.ts';
import { parseCertificateChain, type CsrSubject } from '../../pki/certificate.ts';
import { keystorePasswords, keystorePasswordSource, tlsSecretData, type KeystorePasswords } from './outputs.ts';
import type { Http01Responder } from '../../solvers/http01/responder.ts';
import { INGRESS_CLASS_ANNOTATION, INGRESS_CLASS_NAME_ANNOTATION, ingresses, withIngressClassOverride, withIngressOverride, type SolverService } from '../../solvers/http01/routes.ts';
import { editedIngresses, INGRESS_NAME, INGRESS_NAME_ANNOTATION, INGRESS_RECHECK_MS, ingressMissingMessage } from '../../solvers/http01/edit-in-place.ts';
import type { IssuerController } from '../issuer/controller.ts';
import {
  ARI_START_SPREAD_MS, deferredRenewal, invalidNames, needsIssuance, Reason, Refusal, renewalTime, requestedNames, secretOwnership,
  spreadFraction, unsolvableNames, acmeUnsupported, signedRequestDigest, type Claimant, type SecretFacts, certificateNotes, foreignIssuerGroup, outputsStale, RENEW_REQUEST_ANNOTATION, stillValidDuring,
} from './checks.ts';
import { CERT_MANAGER_SECRET_ANNOTATION, ownerMark, SECRET_ANNOTATION, secretFacts, type SecretObject } from './secret-facts.ts';
import { clearedNextKeyPatch, issuingElsewhere, NEXT_KEY_ANNOTATION, nextKeySecret, nextKeySecretName, readNextKey, storedKeyFor, type NextKey } from './next-key.ts';
import { generatePrivateKeyPem } from '../../pki/keys.ts';
import { isAlreadyExists, isConflict } from '../../kube/client.ts';
import type { SecretCache } from '../secrets.ts';
import { issue, requestHash, type Dns01Handle } from './issue.ts';
import type { Solver } from '../../api/solvers.ts';
import type { RenewalInfoClient } from '../../acme/ari.ts';
import { jsonEqual } from '../../util/canonical.ts';
import { RefIndex } from '../../util/ref-index.ts';
import type { SelfCheckConfig } from '../../solvers/http01/self-check.ts';

export const certificates: ResourceType = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'certificates', namespaced: true };

/** Requeue at least this often, so clock drift or a missed event cannot delay a renewal much. */
const MAX_RESYNC_MS = 8 * 3_600_000;

/** Backoff after failed issuances: 30 s doubling to 6 h, like cert-manager's but shorter at first. */
export function issuanceBackoffMs(failures: number): number {
  return Math.min(30_000 * 2 ** Math.max(0, failures - 1), 6 * 3_600_000);
}

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
  transportHooks?: Pick<AcmeTransportOptions, 'onResponse' | 'endpointOf' | 'connections'>;
  hooks?: ControllerHooks;
  workers?: number;
  onCertificate?: (namespace: string, name: string, facts: { ready: boolean; notAfter?: number; renewalTime?: Date } | undefined) => void;
  /** ACME Renewal Information (RFC 9773), when the issuer's CA offers it. */
  renewalInfo?: RenewalInfoClient;
}

export class CertificateController {
  readonly informer: Informer<CachedCertificate>;
  readonly controller: Controller;
  private readonly deps: CertificateControllerDeps;
  /** "Issuer/ns/name", "ClusterIssuer/name", "Secret/ns/name" → keys of the Certificates that reference it. */
  private readonly index = new RefIndex();
  /** One copy of the namespace strings thousands of cached Certificates share. */
  private readonly interned = new Map<string, string>();
  /** Facts of referenced TLS Secrets certkeeper does not manage, with the version read (see currentSecretFacts). */
  private readonly foreignFacts = new Map<string, { version: string | undefined; facts: SecretFacts }>();
  /** When this controller started (ARI polls of existing certificates are spread over the hour after). */
  private readonly startedAt: number;
  /** HTTP-01 token → Certificate key, from the orders recorded in status (any replica can answer). */
  private readonly tokens = new Map<string, string>();
  private readonly tokensOf = new Map<string, string[]>();
  /**
   * resourceVersions of this process's own writes ("Certificate/ns/name",
   * "Secret/ns/name") that the caches have not shown yet: until they have, a
   * sync reads live, so it never decides on a copy older than its own write
   * (which could issue the same certificate twice).
   */
  private readonly unseenWrites = new Map<string, string>();

  constructor(deps: CertificateControllerDeps) {
    this.deps = deps;
    this.startedAt = deps.clock().getTime();
    const log = deps.log.child({ controller: 'certificate' });
    this.informer = new Informer<CachedCertificate>({ kube: deps.kube, type: certificates, log, transform: (object) => this.shrink(object) });
    this.controller = new Controller({ name: 'certificate', reconcile: (key) => this.sync(key), log, hooks: deps.hooks, workers: deps.workers ?? 8 });
    const requeueDependents = (ref: string, except?: string) => {
      for (const cert of this.index.get(ref)) if (cert !== except) this.controller.enqueue(cert);
    };
    this.informer.onChange((key, cached, previousCached) => {
      this.observed(`Certificate/${key}`, cached);
      const current = cached && expand(cached);
      const previousRefs = referencesOf(previousCached && expand(previousCached));
      const currentRefs = referencesOf(current);
      for (const ref of previousRefs) this.index.delete(ref, key);
      for (const ref of currentRefs) this.index.add(ref, key);
      for (const ref of previousRefs) if (ref.startsWith('Secret/') && !this.index.has(ref)) this.foreignFacts.delete(ref.slice('Secret/'.length));
      this.indexTokens(key, current);
      this.controller.enqueue(key, { force: current?.metadata.generation !== previousCached?.metadata.generation });
      // Certificates naming the same Secret decide between them who owns it:
      // one that appears, goes or moves to another Secret wakes the others.
      const secretRefs = (refs: string[]) => refs.filter((ref) => ref.startsWith('Secret/'));
      const moved = !current || !previousCached || current.metadata.deletionTimestamp !== undefined
        || secretRefs(previousRefs).join() !== secretRefs(currentRefs).join();
      if (moved) for (const ref of new Set([...secretRefs(previousRefs), ...secretRefs(currentRefs)])) requeueDependents(ref, key);
    });
    deps.issuers.issuers.onChange((key) => requeueDependents(`Issuer/${key}`));
    deps.issuers.clusterIssuers.onChange((key) => requeueDependents(`ClusterIssuer/${key}`));
    deps.secrets.onChange((key, current, managed) => {
      // certkeeper's writes label the Secret, so only the managed watch shows them.
      if (managed) this.observed(`Secret/${key}`, current);
      if (managed || !current) this.foreignFacts.delete(key);
      requeueDependents(`Secret/${key}`);
    });
    deps.secrets.addReferences((key) => this.index.has(`Secret/${key}`));
  }

  /** A Secret's resourceVersion as the caches know it (labelled or referenced), undefined when unknown. */
  private secretVersion(key: string): string | undefined {
    return (this.deps.secrets.managed.get(key) ?? this.deps.secrets.others.get(key))?.metadata.resourceVersion;
  }

  private observed(ref: string, current: KubeObject | undefined): void {
    const written = this.unseenWrites.get(ref);
    if (written !== undefined && (!current || resourceVersionAtLeast(current.metadata.resourceVersion, written))) this.unseenWrites.delete(ref);
  }

  private wrote(ref: string, written: KubeObject): void {
    const version = written.metadata.resourceVersion;
    if (!version) return;
    // The watch can deliver the write before its response arrives: then the cache shows it already,
    // and an entry recorded now would never be cleared (the sync would read live, or skip work, for good).
    const cached = ref.startsWith('Secret/') ? this.deps.secrets.managed.get(ref.slice('Secret/'.length)) : this.informer.get(ref.slice('Certificate/'.length));
    if (cached && resourceVersionAtLeast(cached.metadata.resourceVersion, version)) return;
    this.unseenWrites.set(ref, version);
  }

  /**
   * The Certificate from the cache, or read live when the cache may be behind
   * this process's last write, or an order is in flight (its status must be
   * the latest to resume it).
   */
  private async currentCertificate(key: string, ns: string, name: string): Promise<KubeObject | undefined> {
    const cached = this.informer.get(key);
    const object = cached && !this.unseenWrites.has(`Certificate/${key}`) ? expand(cached) : undefined;
    if (object && !object.status?.order) return object;
    return this.deps.kube.get<KubeObject>(certificates, ns, name);
  }

  /**
   * The TLS Secret's facts from the cache of Secrets certkeeper manages; for a
   * Secret someone else made (unlabelled: the cache keeps only its metadata),
   * the facts of the last live read while the cache shows the same version.
   * Read live when unknown or the cache may be behind this process's write.
   */
  private async currentSecretFacts(ns: string, name: string): Promise<SecretFacts> {
    const key = `${ns}/${name}`;
    const fresh = !this.unseenWrites.has(`Secret/${key}`);
    const cached = this.deps.secrets.managed.get(key);
    if (cached?.tls && fresh) return cached.tls;
    const foreign = this.foreignFacts.get(key);
    const version = this.deps.secrets.others.get(key)?.metadata.resourceVersion;
    if (foreign && fresh && version !== undefined && foreign.version === version) return foreign.facts;
    const secret = await this.deps.secrets.readLive(ns, name);
    const facts = secretFacts(secret);
    if (secret && secret.metadata.labels?.[MANAGED_BY.label] !== MANAGED_BY.value) this.foreignFacts.set(key, { version: secret.metadata.resourceVersion, facts });
    else this.foreignFacts.delete(key);
    return facts;
  }

  private intern(value: string | undefined): string | undefined {
    if (value === undefined) return undefined;
    const known = this.interned.get(value);
    if (known !== undefined) return known;
    this.interned.set(value, value);
    return value;
  }

  /**
   * What the cache keeps of a Certificate: metadata (without the last-applied
   * annotation, which nothing reads; creationTimestamp decides which of two
   * Certificates naming one Secret came first) and the rest as its
   * JSON text, parsed when a sync or an event needs it (see `expand`): a few
   * hundred bytes per Certificate instead of a tree of objects and strings
   * several times that size. A sync diffs status against it, so all of spec
   * and status are kept.
   */
  private shrink(object: KubeObject): CachedCertificate {
    const { metadata: m, apiVersion: _apiVersion, kind: _kind, ...rest } = object as KubeObject & { apiVersion?: string; kind?: string };
    let annotations = m.annotations;
    // Copies without the field, not `delete` (which makes a V8 object a hash table, several hundred bytes more).
    if (annotations && LAST_APPLIED in annotations) {
      const { [LAST_APPLIED]: _lastApplied, ...kept } = annotations;
      annotations = Object.keys(kept).length > 0 ? kept : undefined;
    }
    // The fields a sync reads, written out: one shape for every cached Certificate, fields in the object
    // (a rest copy of metadata gets a separate properties array, ~80 bytes more each).
    const metadata: KubeObject['metadata'] = {
      name: m.name, namespace: this.intern(m.namespace), uid: m.uid, resourceVersion: m.resourceVersion, generation: m.generation,
      creationTimestamp: m.creationTimestamp, deletionTimestamp: m.deletionTimestamp, labels: m.labels, annotations, ownerReferences: m.ownerReferences,
    };
    return { metadata, body: JSON.stringify(rest) };
  }

  private indexTokens(key: string, object: KubeObject | undefined): void {
    for (const token of this.tokensOf.get(key) ?? []) this.tokens.delete(token);
    const order = (object as { status?: CertificateStatus } | undefined)?.status?.order;
    const tokens = (order?.authorizations ?? []).filter((a) => a.challengeType === 'http-01' && a.token).map((a) => a.token!);
    for (const token of tokens) this.tokens.set(token, key);
    if (tokens.length > 0) this.tokensOf.set(key, tokens);
    else this.tokensOf.delete(key);
  }

  /** The key authorization for a token recorded in some Certificate's status. */
  keyAuthorizationFor(token: string): string | undefined {
    const key = this.tokens.get(token);
    const cached = key ? this.informer.get(key) : undefined;
    const cert = cached && expand(cached);
    if (!cert?.spec?.issuerRef?.name) return undefined;
    const issuer = cert.spec.issuerRef.kind === 'ClusterIssuer'
      ? this.deps.issuers.clusterIssuers.get(cert.spec.issuerRef.name)
      : this.deps.issuers.issuers.get(`${cert.metadata.namespace}/${cert.spec.issuerRef.name}`);
    const thumbprint = (issuer as { status?: { acme?: { keyThumbprint?: string } } } | undefined)?.status?.acme?.keyThumbprint;
    return thumbprint ? `${token}.${thumbprint}` : undefined;
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

  /** The Certificate's Issuer or ClusterIssuer, from the cache. */
  private issuerObject(spec: { issuerRef: { name: string; kind?: string } }, ns: string): KubeObject | undefined {
    return spec.issuerRef.kind === 'ClusterIssuer'
      ? this.deps.issuers.clusterIssuers.get(spec.issuerRef.name)
      : this.deps.issuers.issuers.get(`${ns}/${spec.issuerRef.name}`);
  }

  /**
   * What an ACME order needs before it is opened: a usable account key, and a solver
   * (and an Ingress to edit, when asked) for every name. A problem stops the sync.
   */
  private async acmePreconditions(object: KubeObject, acme: AcmeIssuerSpec, accountRef: { namespace: string; name: string }, issuerRef: string, names: ReturnType<typeof requestedNames>): Promise<AcmePrepared | { problem: { reason: string; message: string; clearOrder?: boolean; requeueAfterMs?: number } }> {
    const ns = object.metadata.namespace!;
    const accountSecret = await this.deps.kube.get<SecretObject>(core.secrets, accountRef.namespace, accountRef.name);
    const account = parseAccountSecret(accountSecret, acme.privateKeySecretRef.key ?? DEFAULT_ACCOUNT_KEY_NAME);
    if (account.kind !== 'present' || !account.accountUrl) {
      return { problem: { reason: 'IssuerNotReady', message: `${issuerRef}'s account key Secret ${keyOf(accountRef)} is not usable` } };
    }
    const ingressOverride = object.metadata.annotations?.[INGRESS_NAME_ANNOTATION];
    if (ingressOverride !== undefined && !INGRESS_NAME.test(ingressOverride)) {
      return { problem: { reason: 'InvalidIngressName', message: `annotation ${INGRESS_NAME_ANNOTATION} is "${ingressOverride}": the name of an Ingress in namespace ${ns} (DNS subdomain, no namespace)` } };
    }
    const annotations = object.metadata.annotations ?? {};
    const solvers = withIngressOverride(withIngressClassOverride(acme.solvers ?? [], {
      class: annotations[INGRESS_CLASS_ANNOTATION] || undefined,
      ingressClassName: annotations[INGRESS_CLASS_NAME_ANNOTATION] || undefined,
    }), ingressOverride);
    const unsolvable = unsolvableNames(names, solvers, object.metadata.labels ?? {}, issuerRef);
    if (unsolvable) return { problem: { ...unsolvable, clearOrder: true } };
    // An Ingress to edit in place must exist (in this namespace: the only one ever edited) before an order is opened.
    for (const ingressName of editedIngresses(names.dnsNames, solvers, object.metadata.labels ?? {})) {
      if (!await this.deps.kube.get(ingresses, ns, ingressName)) {
        // Ingresses are not watched: look again a little later.
        return { problem: { reason: 'IngressNotFound', message: ingressMissingMessage({ namespace: ns, ingressName }), requeueAfterMs: INGRESS_RECHECK_MS } };
      }
    }
    return { account: { keyPem: account.keyPem, accountUrl: account.accountUrl }, solvers };
  }

  /**
   * Signs here, for a selfSigned or ca issuer: with the Certificate's own key, or with
   * the CA key pair read live from its Secret (checked again: one that went bad since
   * the Issuer's last sync signs nothing).
   */
  private async signHere(issuerSpec: IssuerSpec, spec: CertificateSpec, ns: string, issuerKind: string, keyPem: string, now: Date): Promise<{ kind: 'issued'; certificatePem: string; keyPem: string; caPem: string; order?: undefined } | { kind: 'failed'; message: string; reason: string; order?: undefined }> {
    let signer: Signer = { kind: 'self' };
    if (issuerSpec.ca) {
      const pair = await readCaKeyPair(this.deps.kube, issuerKind === 'Issuer' ? ns : this.deps.clusterResourceNamespace, issuerSpec.ca, now);
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

  /** The Secret's private key, read live, to reuse it (rotationPolicy: Never); never an account key. */
  private async existingKeyPem(ns: string, name: string): Promise<string | undefined> {
    const secret = await this.deps.kube.get<SecretObject>(core.secrets, ns, name);
    if (!secret || secretFacts(secret).accountKey || secret.type !== 'kubernetes.io/tls') return undefined;
    const encoded = secret.data?.['tls.key'];
    return encoded ? Buffer.from(encoded, 'base64').toString('utf8') : undefined;
  }

  /** The other live Certificates in the namespace that name this Secret (from the cache). */
  private rivals(key: string, ns: string, secretName: string): Claimant[] {
    const rivals: Claimant[] = [];
    for (const other of this.index.get(`Secret/${ns}/${secretName}`)) {
      const cached = other === key ? undefined : this.informer.get(other);
      if (!cached || cached.metadata.deletionTimestamp || !cached.metadata.uid) continue;
      if (expand(cached).spec?.secretName !== secretName) continue;
      rivals.push({ name: cached.metadata.name, uid: cached.metadata.uid, createdAt: cached.metadata.creationTimestamp ?? '' });
    }
    return rivals;
  }

  /** The Issuer or ClusterIssuer that keeps its ACME account key under this Secret name, if any. */
  private accountKeyOf(ns: string, secretName: string): string | undefined {
    const names = (object: KubeObject) => (object as { spec?: { acme?: { privateKeySecretRef?: { name?: string } } } }).spec?.acme?.privateKeySecretRef?.name;
    const issuer = this.deps.issuers.issuers.list().find((i) => i.metadata.namespace === ns && names(i) === secretName);
    if (issuer) return `Issuer ${ns}/${issuer.metadata.name}`;
    if (ns !== this.deps.clusterResourceNamespace) return undefined;
    const clusterIssuer = this.deps.issuers.clusterIssuers.list().find((i) => names(i) === secretName);
    return clusterIssuer ? `ClusterIssuer ${clusterIssuer.metadata.name}` : undefined;
  }

  /**
   * Stores the key for this revision before any CSR carries it: creates the
   * next-key Secret (which fails if another Certificate claimed it first) or
   * replaces the version read (which fails if anyone wrote in between).
   */
  private async storeNextKey(ns: string, secretName: string, certificate: { name: string; uid: string }, key: { pem: string; revision: number; requestHash: string }, stored: NextKey | undefined): Promise<void> {
    const body = nextKeySecret({
      namespace: ns, secretName, certificate, key, resourceVersion: stored?.resourceVersion,
      installation: this.deps.installation ?? 'certkeeper', storedAt: this.deps.clock(),
    });
    try {
      const written = stored ? await this.deps.kube.replace(core.secrets, body) : await this.deps.kube.create(core.secrets, body);
      this.wrote(`Secret/${ns}/${body.metadata.name}`, written);
    } catch (error) {
      if (isAlreadyExists(error) || isConflict(error)) {
        throw new NextKeyRace(`Secret ${body.metadata.name} changed while the next key was being stored (another Certificate may be issuing into ${secretName}); deciding again`);
      }
      throw new Error(`storing the next private key in Secret ${body.metadata.name} failed: ${errorMessage(error)}`);
    }
  }

  /** Removes the key from the next-key Secret once the TLS Secret holds it; the claim stays. */
  private async clearNextKey(ns: string, secretName: string, resourceVersion: string | undefined, log: Logger): Promise<void> {
    const name = nextKeySecretName(secretName);
    try {
      const written = await this.deps.kube.mergePatch<KubeObject>(core.secrets, ns, name, clearedNextKeyPatch(resourceVersion));
      this.wrote(`Secret/${ns}/${name}`, written);
    } catch (error) {
      // Left for the next sync, which clears it when the cache still shows a key.
      log.warn({ secret: name, err: errorMessage(error) }, 'could not remove the next key after writing the Secret');
    }
  }

  /** The transport hooks (metrics), plus a debug record of each ACME request with this Certificate's namespace and name. */
  private acmeHooks(log: Logger): Pick<AcmeTransportOptions, 'onResponse' | 'endpointOf' | 'connections'> {
    const hooks = this.deps.transportHooks;
    return {
      ...hooks,
      onResponse: (endpoint, status) => {
        hooks?.onResponse?.(endpoint, status);
        log.debug({ endpoint, status }, 'acme request');
      },
    };
  }

  /** Writes the TLS Secret (server-side apply): the data given, and certkeeper's labels, marks and owner reference. */
  private async applyTlsSecret(object: KubeObject, spec: Certificate['spec'], data: Record<string, string>, passwords: KeystorePasswords, renewRequest?: string, signedRequest?: string): Promise<SecretObject> {
    const name = object.metadata.name;
    const names = requestedNames(spec, signedRequest === undefined);
    return this.deps.kube.apply(core.secrets, {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: {
        name: spec.secretName,
        namespace: object.metadata.namespace,
        labels: { ...(spec.secretTemplate?.labels ?? {}), [MANAGED_BY.label]: MANAGED_BY.value },
        annotations: {
          ...(spec.secretTemplate?.annotations ?? {}),
          [SECRET_ANNOTATION.certificateName]: name,
          [SECRET_ANNOTATION.certificateUid]: object.metadata.uid ?? `${object.metadata.namespace}/${name}`,
          [SECRET_ANNOTATION.issuerName]: spec.issuerRef.name,
          [SECRET_ANNOTATION.issuerKind]: spec.issuerRef.kind ?? 'Issuer',
          [SECRET_ANNOTATION.issuerGroup]: 'certkeeper.io',
          [SECRET_ANNOTATION.commonName]: names.commonName ?? '',
          [SECRET_ANNOTATION.altNames]: names.dnsNames.join(','),
          [SECRET_ANNOTATION.ipSans]: names.ipAddresses.join(','),
          ...(renewRequest ? { [SECRET_ANNOTATION.renewRequest]: renewRequest } : {}),
          ...(passwords.source ? { [SECRET_ANNOTATION.keystorePasswordSource]: passwords.source } : {}),
          ...(signedRequest ? { [SECRET_ANNOTATION.signedRequest]: signedRequest } : {}),
          ...(this.deps.certManagerSecretAnnotations ? {
            [CERT_MANAGER_SECRET_ANNOTATION.certificateName]: name,
            [CERT_MANAGER_SECRET_ANNOTATION.issuerName]: spec.issuerRef.name,
            [CERT_MANAGER_SECRET_ANNOTATION.issuerKind]: spec.issuerRef.kind ?? 'Issuer',
            [CERT_MANAGER_SECRET_ANNOTATION.issuerGroup]: 'certkeeper.io',
            [CERT_MANAGER_SECRET_ANNOTATION.commonName]: names.commonName ?? '',
            [CERT_MANAGER_SECRET_ANNOTATION.altNames]: names.dnsNames.join(','),
            [CERT_MANAGER_SECRET_ANNOTATION.ipSans]: names.ipAddresses.join(','),
            [CERT_MANAGER_SECRET_ANNOTATION.uriSans]: '',
          } : {}),
        },
        ...(this.deps.ownSecrets && object.metadata.uid
          ? { ownerReferences: [{ apiVersion: API_VERSION, kind: 'Certificate', name, uid: object.metadata.uid, controller: true, blockOwnerDeletion: true }] }
          : {}),
      },
      data,
    } as SecretObject);
  }

  /**
   * Rewrites the Secret's files from the certificate and key it holds (no order):
   * a keystore or output format added or removed, or another key encoding.
   * Returns why it could not, or undefined when done.
   */
  private async rewriteOutputs(object: KubeObject, spec: Certificate['spec'], why: string, log: Logger): Promise<{ reason: string; message: string } | undefined> {
    const ns = object.metadata.namespace!;
    const passwords = await keystorePasswords(this.deps.kube, ns, spec);
    if ('problem' in passwords) return { reason: 'KeystorePasswordMissing', message: passwords.problem };
    const secret = await this.deps.kube.get<SecretObject>(core.secrets, ns, spec.secretName);
    const crt = secret?.data?.['tls.crt'];
    const keyData = secret?.data?.['tls.key'];
    if (!crt || !keyData) return undefined; // gone meanwhile: the next sync issues
    // ca.crt and the signed-request mark (selfSigned and ca issuers) are kept as they are.
    const caCrt = secret.data?.['ca.crt'];
    const data = await tlsSecretData(spec, Buffer.from(crt, 'base64').toString('utf8'), Buffer.from(keyData, 'base64').toString('utf8'), passwords, caCrt ? Buffer.from(caCrt, 'base64').toString('utf8') : undefined);
    const marks = secret.metadata.annotations ?? {};
    const written = await this.applyTlsSecret(object, spec, data, passwords, marks[SECRET_ANNOTATION.renewRequest], marks[SECRET_ANNOTATION.signedRequest]);
    this.wrote(`Secret/${ns}/${spec.secretName}`, written);
    log.info({ why }, 'rewrote the Secret\'s outputs without a new order');
    this.deps.events.record(involved(object), 'Normal', 'OutputsUpdated', `Rewrote Secret ${spec.secretName} from its certificate and key, without a new order: ${why}`);
    return undefined;
  }

  /** The CA's suggested renewal window for the Secret's certificate, if its issuer's CA offers ARI. */
  private async renewalWindow(spec: Certificate['spec'], ns: string, certId: string | undefined, log: Logger) {
    if (!this.deps.renewalInfo || !certId) return undefined;
    const issuerObject = this.issuerObject(spec, ns);
    const issuer = issuerObject ? Issuer.safeParse(issuerObject) : undefined;
    const acme = issuer?.success ? issuer.data.spec.acme : undefined;
    if (!acme) return undefined;
    return this.deps.renewalInfo.window(acme.server, certId, {
      ca: acme.caBundle ? Buffer.from(acme.caBundle, 'base64').toString('utf8') : undefined,
      insecureSkipVerify: acme.skipTLSVerify === true,
      ...this.acmeHooks(log),
    });
  }

  /** `live`: read the Certificate and its Secret from the API server, not the caches. */
  private async sync(key: string, live = false): Promise<{ requeueAfterMs?: number } | void> {
    const { namespace, name } = splitKey(key);
    const ns = namespace!;
    const log = this.deps.log.child({ controller: 'certificate', namespace: ns, name });
    const now = this.deps.clock();
    const object = live ? await this.deps.kube.get<KubeObject>(certificates, ns, name) : await this.currentCertificate(key, ns, name);
    if (!object || object.metadata.deletionTimestamp) {
      this.deps.onCertificate?.(ns, name, undefined);
      return;
    }
    const generation = object.metadata.generation ?? 0;
    const previous: CertificateStatus = (object as { status?: CertificateStatus }).status ?? {};
    // The spec only: a sync reads nothing else parsed, and validating the status (conditions, order) on
    // every sync was half of zod's garbage at a start with 10,000 Certificates.
    const parsed = CertificateSpec.safeParse((object as { spec?: unknown }).spec);
    const writer = new StatusWriter(this.deps.kube, ns, name, previous, generation, now, (written) => this.wrote(`Certificate/${key}`, written));
    if (!parsed.success) {
      const issue0 = parsed.error.issues[0];
      writer.ready(false, 'InvalidSpec', `spec is invalid at ${['spec', ...(issue0?.path ?? [])].join('.')}: ${issue0?.message}`);
      await writer.flush();
      return;
    }
    const spec = parsed.data;
    const self = { name, uid: object.metadata.uid ?? key, createdAt: object.metadata.creationTimestamp ?? '' };

    // Refused before anything is ordered; a change of the spec, the Secret or a rival Certificate wakes it.
    const refuse = async (refusal: { reason: string; message: string }) => {
      if (findCondition(previous.conditions, 'Ready')?.reason !== refusal.reason) log.info({ reason: refusal.reason }, `refused: ${refusal.message}`);
      writer.ready(false, refusal.reason, refusal.message);
      writer.issuing(undefined);
      writer.clearOrder();
      writer.clearFailures();
      await writer.flush();
      this.deps.onCertificate?.(ns, name, { ready: false });
    };
    // The issuer, from the cache: whether it signs here (selfSigned, ca) or at an ACME CA decides what the spec may ask.
    const issuerKind = spec.issuerRef.kind ?? 'Issuer';
    const issuerRef = issuerKind === 'Issuer' ? `Issuer ${ns}/${spec.issuerRef.name}` : `ClusterIssuer ${spec.issuerRef.name}`;
    const issuerObject = this.issuerObject(spec, ns);
    const issuer = issuerObject ? Issuer.safeParse(issuerObject) : undefined;
    const signer = issuer?.success ? issuerType(issuer.data.spec) : undefined;
    const localIssuer = signer === 'selfSigned' || signer === 'ca';
    // A common name is a DNS name only for ACME CAs (an unknown issuer is told apart by its own gate below).
    const badNames = invalidNames(spec, signer === 'acme');
    if (badNames) return refuse(badNames);
    const foreign = foreignIssuerGroup(spec);
    if (foreign) return refuse(foreign);
    const unsupported = signer === 'acme' ? acmeUnsupported(spec, issuerRef) : undefined;
    if (unsupported) return refuse(unsupported);

    const facts = live
      ? secretFacts(await this.deps.kube.get<SecretObject>(core.secrets, ns, spec.secretName))
      : await this.currentSecretFacts(ns, spec.secretName);
    const nextKeyName = nextKeySecretName(spec.secretName);
    const nextKey = live ? readNextKey(await this.deps.kube.get<SecretObject>(core.secrets, ns, nextKeyName)) : undefined;
    if (nextKey?.foreign) {
      return refuse({
        reason: Refusal.SecretNotOurs,
        message: `Secret ${nextKeyName} exists and certkeeper did not write it; certkeeper keeps the next private key for Secret ${spec.secretName} there: rename it, or choose another secretName`,
      });
    }
    const ownership = secretOwnership({
      certificate: self,
      secretName: spec.secretName,
      secret: facts,
      rivals: this.rivals(key, ns, spec.secretName),
      accountKeyOf: this.accountKeyOf(ns, spec.secretName),
      claim: nextKey?.owner,
    });
    if (ownership) return refuse(ownership);
    const seed = object.metadata.uid ?? key;
    const usable = facts.certificate && facts.key?.matchesCertificate;
    // Soon after a start, the renewal time in status stands until this Certificate's turn to ask the CA (ARI).
    const ariPollAt = new Date(this.startedAt + Math.floor(spreadFraction(`${seed}/ari`) * ARI_START_SPREAD_MS));
    const deferred = usable && this.deps.renewalInfo
      ? deferredRenewal({ status: previous, generation, notAfter: facts.certificate!.notAfter, now, pollAt: ariPollAt })
      : undefined;
    const ariWindow = usable && !deferred ? await this.renewalWindow(spec, ns, facts.certificate!.ariCertId, log) : undefined;
    const renewal = facts.certificate
      ? deferred ?? renewalTime({ notBefore: facts.certificate.notBefore, notAfter: facts.certificate.notAfter, renewBefore: spec.renewBefore, renewBeforePercentage: spec.renewBeforePercentage, seed, ariWindow })
      : undefined;
    const requestedAt = object.metadata.annotations?.[RENEW_REQUEST_ANNOTATION];
    // Honoured once: the Secret written for it records the request (level-based, like every other check).
    const renewRequest = requestedAt && requestedAt !== facts.renewRequest ? requestedAt : undefined;
    const verdict = needsIssuance({ spec, secretName: spec.secretName, secret: facts, now, renewalTime: renewal, renewRequest, localIssuer });
    // Ready means: the Secret holds a valid certificate for this spec (renewal due or requested is still Ready).
    const currentValid = !verdict || stillValidDuring(verdict.reason);
    if (facts.certificate) writer.validity(facts.certificate.notBefore, facts.certificate.notAfter, renewal);

    if (!verdict) {
      // A key left in the next-key Secret (the status write after the Secret failed, say) is removed.
      // (Not while the cache has yet to show this process's own last write to it.)
      const leftover = this.unseenWrites.has(`Secret/${ns}/${nextKeyName}`) ? undefined : this.deps.secrets.managed.get(`${ns}/${nextKeyName}`);
      if (leftover?.metadata.annotations?.[NEXT_KEY_ANNOTATION.revision] && ownerMark(leftover.metadata.annotations)?.uid === self.uid) {
        await this.clearNextKey(ns, spec.secretName, leftover.metadata.resourceVersion, log);
      }
      // Valid, but not in the files or encoding the spec asks for (a keystore added, say): rewrite them from
      // the certificate and key already there, without a new order. Confirmed live first, like an issuance.
      // The password Secrets' versions as the caches know them (referenced Secrets are watched).
      const passwordSource = keystorePasswordSource(spec, (secretName) => this.secretVersion(`${ns}/${secretName}`));
      const stale = outputsStale(spec, facts, passwordSource);
      if (stale) {
        if (!live) return this.sync(key, true);
        const rewritten = await this.rewriteOutputs(object, spec, stale, log);
        if (rewritten) {
          writer.ready(false, rewritten.reason, rewritten.message);
          await writer.flush();
          return { requeueAfterMs: issuanceBackoffMs(1) };
        }
      }
      writer.ready(true, 'Ready', readyMessage(facts.certificate!.notAfter, renewal!, certificateNotes(spec, facts.certificate, localIssuer)));
      writer.issuing(undefined);
      writer.clearOrder();
      writer.clearFailures();
      await writer.flush();
      this.deps.onCertificate?.(ns, name, { ready: true, notAfter: facts.certificate!.notAfter, renewalTime: renewal });
      const next = Math.min(renewal!.getTime(), deferred ? ariPollAt.getTime() : Infinity) - now.getTime();
      return { requeueAfterMs: Math.min(next, MAX_RESYNC_MS) };
    }

    // Decided from the caches, which can be a moment behind a write (another
    // replica's just before it handed over, say): confirm with live reads
    // before anything is ordered, so a stale copy never causes a second issuance.
    if (!live) return this.sync(key, true);

    // Issuance is needed. Is the issuer usable?
    const notReady = async (reason: string, message: string) => {
      if (!currentValid) writer.ready(false, reason, message);
      writer.issuing({ status: 'False', reason, message });
      await writer.flush();
      this.deps.onCertificate?.(ns, name, { ready: currentValid, notAfter: facts.certificate?.notAfter, renewalTime: renewal });
    };
    if (!issuer?.success) return notReady('IssuerNotFound', `${issuerRef} not found; certkeeper issues as soon as it exists`);
    const issuerReady = findCondition(issuer.data.status?.conditions, 'Ready');
    const accountRef = issuer.data.status?.acme?.accountSecretRef;
    const acme = issuer.data.spec.acme;
    if (issuerReady?.status !== 'True' || (acme && !accountRef)) {
      return notReady('IssuerNotReady', `${issuerRef} is not ready${issuerReady ? `: ${issuerReady.message}` : ''}`);
    }

    // Back off after failures (the CA may rate-limit; a broken DNS setup stays broken).
    const failures = previous.failedIssuanceAttempts ?? 0;
    if (failures > 0 && previous.lastFailureTime && generation === findCondition(previous.conditions, 'Issuing')?.observedGeneration) {
      const retryAt = Date.parse(previous.lastFailureTime) + issuanceBackoffMs(failures);
      if (retryAt > now.getTime()) {
        // The conditions already say what failed and when the next attempt is.
        return { requeueAfterMs: retryAt - now.getTime() };
      }
    }

    const names = requestedNames(spec, !localIssuer);
    let prepared: AcmePrepared | undefined;
    if (acme) {
      const outcome = await this.acmePreconditions(object, acme, accountRef!, issuerRef, names);
      if ('problem' in outcome) {
        if (outcome.problem.clearOrder) {
          writer.clearOrder();
          writer.clearFailures();
        }
        await notReady(outcome.problem.reason, outcome.problem.message);
        return outcome.problem.requeueAfterMs ? { requeueAfterMs: outcome.problem.requeueAfterMs } : undefined;
      }
      prepared = outcome;
    }
    // Keystore passwords are read now: a missing one must not cost an order.
    const passwords = await keystorePasswords(this.deps.kube, ns, spec);
    if ('problem' in passwords) return notReady('KeystorePasswordMissing', passwords.problem);
    const revision = (previous.revision ?? 0) + 1;
    // cert-manager puts profile and preferredChain on the issuer; a Certificate's own wins.
    const profile = spec.profile ?? acme?.profile;
    const notAfter = acme?.enableDurationFeature && spec.duration ? new Date(now.getTime() + parseDuration(spec.duration)) : undefined;
    const hash = requestHash({ names, issuer: `${issuerKind}/${spec.issuerRef.name}`, profile, notAfter: spec.duration && acme?.enableDurationFeature ? spec.duration : undefined });
    log.info({ reason: verdict.reason, revision }, `issuing: ${verdict.message}`);
    writer.issuing({ status: 'True', reason: verdict.reason, message: `Issuing revision ${revision}: ${verdict.message}` });

    let result;
    try {
      // The key is durable before any CSR carries it: the one stored for this
      // revision, else a new one (or, rotationPolicy Never, the Secret's) stored now.
      // Another installation (another release watching this cluster) stored the key a moment ago: it is issuing.
      const elsewhere = issuingElsewhere(nextKey, { uid: self.uid, revision, requestHash: hash, installation: this.deps.installation ?? 'certkeeper', now });
      if (elsewhere) {
        const message = `Revision ${revision} is being issued by another certkeeper installation (${elsewhere.installation}); this one opens no order and takes over only if it has not finished by ${elsewhere.until.toISOString()}`;
        // Nothing written: the status is the other installation's to write while it issues (a write
        // from here, made from an older copy, could take back what it wrote).
        log.warn({ installation: elsewhere.installation }, message);
        return { requeueAfterMs: Math.min(elsewhere.until.getTime() - now.getTime(), 30_000) };
      }
      let keyPem = storedKeyFor(nextKey, { uid: self.uid, revision, requestHash: hash });
      const keyWasStored = keyPem !== undefined;
      if (!keyPem) {
        const rotation = spec.privateKey?.rotationPolicy ?? 'Always';
        // The key itself is read only when it is to be reused (the caches never hold key material).
        const reuseKey = rotation === 'Never' && facts.key && verdict.reason !== Reason.KeyChanged
          ? await this.existingKeyPem(ns, spec.secretName)
          : undefined;
        keyPem = reuseKey ?? generatePrivateKeyPem(spec.privateKey?.algorithm ?? 'ECDSA', spec.privateKey?.size);
        await this.storeNextKey(ns, spec.secretName, self, { pem: keyPem, revision, requestHash: hash }, nextKey);
      }
      result = !acme || !prepared ? await this.signHere(issuer.data.spec, spec, ns, issuerKind, keyPem, now) : await issue({
        kube: this.deps.kube,
        log,
        http01: this.deps.http01,
        solverService: this.deps.solverService,
        http01RouteSettleMs: this.deps.http01RouteSettleMs ?? 0,
        http01SelfCheck: this.deps.http01SelfCheck,
        dns01: this.deps.dns01,
        transport: {
          ca: acme.caBundle ? Buffer.from(acme.caBundle, 'base64').toString('utf8') : undefined,
          insecureSkipVerify: acme.skipTLSVerify === true,
          ...this.acmeHooks(log),
        },
        onOrder: async (order: OrderStatus) => {
          writer.order(order);
          await writer.flush();
        },
      }, {
        certificateKey: key,
        labels: object.metadata.labels ?? {},
        directoryUrl: acme.server,
        accountKeyPem: prepared.account.keyPem,
        accountUrl: prepared.account.accountUrl,
        solvers: prepared.solvers,
        secretNamespace: issuerKind === 'Issuer' ? ns : this.deps.clusterResourceNamespace,
        names,
        profile,
        preferredChain: spec.preferredChain ?? acme.preferredChain,
        ...(notAfter ? { notAfter } : {}),
        subject: csrSubject(spec),
        revision,
        requestHash: hash,
        existingOrder: previous.order,
        keyPem,
        keyWasStored,
      });
    } catch (error) {
      // A race for the next-key Secret is decided by the next sync (it sees the claim), not counted as a failure.
      if (error instanceof NextKeyRace) throw error;
      result = { kind: 'failed' as const, message: errorMessage(error) };
    }

    if (result.kind === 'failed') {
      const attempts = failures + 1;
      const retryIn = issuanceBackoffMs(attempts);
      const message = `${result.message}; attempt ${attempts}, next in ${Math.round(retryIn / 1000)} s`;
      log.warn({ attempts }, `issuance failed: ${message}`);
      writer.failure(now, attempts);
      if (result.order) writer.order(result.order);
      else writer.clearOrder();
      // A ca issuer's key pair that cannot sign says why (CAExpired, NotACA, ...); everything else is Failed.
      const reason: string = 'reason' in result && typeof result.reason === 'string' ? result.reason : 'Failed';
      writer.issuing({ status: 'False', reason, message });
      if (!currentValid) writer.ready(false, reason, message);
      await writer.flush();
      this.deps.events.record(involved(object), 'Warning', reason, message);
      this.deps.onCertificate?.(ns, name, { ready: currentValid, notAfter: facts.certificate?.notAfter, renewalTime: renewal });
      return { requeueAfterMs: retryIn };
    }

    // One request writes certificate, key and the extra outputs together, so they never disagree.
    let writtenSecret: SecretObject;
    try {
      // The renew request outstanding now is answered by this certificate (the Secret records it).
      const data = await tlsSecretData(spec, result.certificatePem, result.keyPem, passwords, 'caPem' in result ? result.caPem : undefined);
      writtenSecret = await this.applyTlsSecret(object, spec, data, passwords, requestedAt, localIssuer ? signedRequestDigest(spec) : undefined);
    } catch (error) {
      // The certificate is issued and its key stored: keep both, and write them at the next attempt (no new order).
      const attempts = failures + 1;
      const retryIn = issuanceBackoffMs(attempts);
      const message = result.order
        ? `the CA issued the certificate (order ${result.order.url}), but writing Secret ${spec.secretName} failed: ${errorMessage(error)}; `
          + `the certificate and its key (in Secret ${nextKeyName}) are kept and written at the next attempt, without a new order; attempt ${attempts}, next in ${Math.round(retryIn / 1000)} s`
        : `writing Secret ${spec.secretName} failed: ${errorMessage(error)}; the key (in Secret ${nextKeyName}) is kept and signed again at the next attempt; attempt ${attempts}, next in ${Math.round(retryIn / 1000)} s`;
      log.warn({ attempts }, message);
      writer.failure(now, attempts);
      if (result.order) writer.order(result.order);
      writer.issuing({ status: 'False', reason: 'SecretWriteFailed', message });
      if (!currentValid) writer.ready(false, 'SecretWriteFailed', message);
      await writer.flush();
      this.deps.events.record(involved(object), 'Warning', 'SecretWriteFailed', message);
      this.deps.onCertificate?.(ns, name, { ready: currentValid, notAfter: facts.certificate?.notAfter, renewalTime: renewal });
      return { requeueAfterMs: retryIn };
    }
    this.wrote(`Secret/${ns}/${spec.secretName}`, writtenSecret);
    // This Certificate owns the Secret now, so no rival stores a key meanwhile: no precondition needed.
    await this.clearNextKey(ns, spec.secretName, undefined, log);

    const issued = parseCertificateChain(result.certificatePem)!;
    // Asked now, so the first Ready status already has the final renewal time (no second write).
    const issuedWindow = await this.renewalWindow(spec, ns, issued.ariCertId, log);
    const nextRenewal = renewalTime({ notBefore: issued.notBefore, notAfter: issued.notAfter, renewBefore: spec.renewBefore, renewBeforePercentage: spec.renewBeforePercentage, seed: object.metadata.uid ?? key, ariWindow: issuedWindow });
    writer.validity(issued.notBefore, issued.notAfter, nextRenewal);
    writer.revision(revision);
    writer.clearOrder();
    writer.clearFailures();
    writer.issuing(undefined);
    writer.ready(true, 'Ready', readyMessage(issued.notAfter, nextRenewal, certificateNotes(spec, issued, localIssuer)));
    await writer.flush();
    const renewed = verdict.reason === Reason.RenewalDue || verdict.reason === Reason.Expired || verdict.reason === Reason.RenewRequested;
    this.deps.events.record(involved(object), 'Normal', renewed ? 'Renewed' : 'Issued',
      `${renewed ? 'Renewed' : 'Issued'} revision ${revision} into Secret ${spec.secretName}, valid until ${new Date(issued.notAfter).toISOString()}`);
    log.info({ revision, notAfter: new Date(issued.notAfter).toISOString() }, 'certificate issued');
    this.deps.onCertificate?.(ns, name, { ready: true, notAfter: issued.notAfter, renewalTime: nextRenewal });
    return { requeueAfterMs: Math.min(nextRenewal.getTime() - this.deps.clock().getTime(), MAX_RESYNC_MS) };
  }
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Someone wrote the next-key Secret between this sync's read and its write. */
class NextKeyRace extends Error {}

/** What an ACME order needs, checked before it is opened (acmePreconditions). */
interface AcmePrepared {
  account: { keyPem: string; accountUrl: string };
  solvers: Solver[];
}

/** A cached Certificate: metadata, and spec and status as JSON text. */
export interface CachedCertificate extends KubeObject {
  body: string;
}

type PasswordRef = { create?: boolean; passwordSecretRef?: { name: string } };
type CertificateObject = KubeObject & {
  apiVersion: string; kind: string;
  spec?: { secretName?: string; issuerRef?: { name?: string; kind?: string }; keystores?: { pkcs12?: PasswordRef; jks?: PasswordRef } };
  status?: CertificateStatus;
};

/** The whole object again (a fresh copy of spec and status; metadata is shared, so never modify it). */
export function expand(cached: CachedCertificate): CertificateObject {
  return { apiVersion: API_VERSION, kind: 'Certificate', metadata: cached.metadata, ...JSON.parse(cached.body) as object };
}

/** To the second, like status.renewalTime, so a renewal time taken from status words it the same. */
function readyMessage(notAfter: Date | number, renewal: Date, notes: string[] = []): string {
  return `Certificate is valid until ${rfc3339(notAfter)}; renewal at ${rfc3339(renewal)}${notes.length ? `. Note: ${notes.join('; ')}` : ''}`;
}

/** The CSR's subject from cert-manager's subject fields: the first value of each that a CSR can carry here. */
function csrSubject(spec: Certificate['spec']): CsrSubject {
  const s = spec.subject;
  if (!s) return {};
  const first = (values: string[] | undefined) => values?.[0];
  const subject: CsrSubject = {
    organization: first(s.organizations), organizationUnit: first(s.organizationalUnits),
    country: first(s.countries), state: first(s.provinces), locality: first(s.localities),
  };
  return Object.fromEntries(Object.entries(subject).filter(([, v]) => v !== undefined)) as CsrSubject;
}

/** The refs a Certificate's sync depends on (its Secret and its issuer), for the index. */
function referencesOf(object: CertificateObject | undefined): string[] {
  if (!object) return [];
  const spec = object.spec;
  const ns = object.metadata.namespace!;
  const issuer = spec?.issuerRef?.kind === 'ClusterIssuer' ? `ClusterIssuer/${spec.issuerRef.name}` : `Issuer/${ns}/${spec?.issuerRef?.name}`;
  // Keystore password Secrets too: an edited password rewrites the keystores.
  const passwords = (['pkcs12', 'jks'] as const).flatMap((kind) => {
    const ref = spec?.keystores?.[kind]?.create ? spec.keystores[kind]!.passwordSecretRef : undefined;
    return ref ? [`Secret/${ns}/${ref.name}`] : [];
  });
  return [...new Set([`Secret/${ns}/${spec?.secretName}`, issuer, ...passwords])];
}

/** RFC 3339 to the second, as Kubernetes prints times. */
function rfc3339(date: Date | number): string {
  return new Date(Math.floor(Number(date) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function involved(object: KubeObject) {
  return { apiVersion: API_VERSION, kind: 'Certificate', name: object.metadata.name, namespace: object.metadata.namespace, uid: object.metadata.uid };
}

/** Collects status changes during a sync and writes them (server-side apply) only when something changed. */
class StatusWriter {
  private status: CertificateStatus;
  /** The status as last read or written (never modified: `status` is a copy). */
  private written: CertificateStatus;
  private readonly kube: KubeClient;
  private readonly namespace: string;
  private readonly name: string;
  private readonly generation: number;
  private readonly now: Date;
  private readonly onWritten: (written: KubeObject) => void;

  constructor(kube: KubeClient, namespace: string, name: string, previous: CertificateStatus, generation: number, now: Date, onWritten: (written: KubeObject) => void) {
    this.onWritten = onWritten;
    this.kube = kube;
    this.namespace = namespace;
    this.name = name;
    this.status = structuredClone(previous);
    this.written = previous;
    this.generation = generation;
    this.now = now;
  }

  private condition(input: Omit<ConditionInput, 'observedGeneration'>) {
    this.status.conditions = setCondition(this.status.conditions, { ...input, observedGeneration: this.generation }, this.now);
  }

  ready(ok: boolean, reason: string, message: string) {
    this.condition({ type: 'Ready', status: ok ? 'True' : 'False', reason, message });
  }

  issuing(state: { status: 'True' | 'False'; reason: string; message: string } | undefined) {
    if (state) this.condition({ type: 'Issuing', ...state });
    else this.status.conditions = this.status.conditions?.filter((c) => c.type !== 'Issuing');
  }

  validity(notBefore: number, notAfter: number, renewal: Date | undefined) {
    this.status.notBefore = rfc3339(notBefore);
    this.status.notAfter = rfc3339(notAfter);
    if (renewal) this.status.renewalTime = rfc3339(renewal);
  }

  order(order: OrderStatus) {
    this.status.order = order;
  }

  clearOrder() {
    delete this.status.order;
  }

  revision(revision: number) {
    this.status.revision = revision;
  }


  failure(at: Date, attempts: number) {
    this.status.lastFailureTime = at.toISOString();
    this.status.failedIssuanceAttempts = attempts;
  }

  clearFailures() {
    delete this.status.lastFailureTime;
    delete this.status.failedIssuanceAttempts;
  }

  async flush(): Promise<void> {
    // What kstatus (Flux) and Argo CD read: Ready always present, Stalled/Reconciling, observedGeneration.
    Object.assign(this.status, withHealth('Certificate', { generation: this.generation, conditions: this.status.conditions, failedIssuanceAttempts: this.status.failedIssuanceAttempts }, this.now));
    if (jsonEqual(this.status, this.written)) return;
    const written = await this.kube.apply(certificates, {
      apiVersion: API_VERSION,
      kind: 'Certificate',
      metadata: { name: this.name, namespace: this.namespace },
      status: this.status,
    } as KubeObject, { subresource: 'status' });
    this.onWritten(written);
    this.written = structuredClone(this.status);
  }
}


