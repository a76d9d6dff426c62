// Every read of a Certificate's sync, into one facts object that decide.ts
// judges. A sync starts from the caches (`certificate(key, false)`); before
// anything is ordered or rewritten it reads again from the API server
// (`certificate(key, true)`), so a stale copy never causes a second issuance.
// The reads a sync does not always need come when decide asks for them (a
// `read` plan), in the order its gates need them, so a Certificate refused
// early reads nothing more, and a Ready one never reads beyond the caches:
//
//   certificate   the Certificate (cache, or live), its spec parsed, its issuer (cache)
//   secret        the TLS Secret's facts, the next-key Secret (live syncs only), rivals
//                 naming the same Secret, the issuer keeping its account key there
//   renewal-info  the CA's renewal window (ARI) for the certificate in the Secret
//   account       the ACME account key Secret of the issuer (live)
//   ingresses     the Ingresses to edit in place (live; Ingresses are not watched)
//   passwords     the keystore passwords (live)
import type { Logger } from 'pino';
import { certificates, CertificateSpec, type CertificateStatus } from '../../api/certificate.ts';
import { MANAGED_BY } from '../../api/meta.ts';
import { parseAccountSecret } from '../../acme/account-protocol.ts';
import type { RenewalInfoClient, RenewalWindow } from '../../acme/ari.ts';
import { core, type KubeClient } from '../../kube/client.ts';
import { splitKey, type Informer } from '../../kube/informer.ts';
import { ingresses } from '../../solvers/http01/routes.ts';
import type { SecretCache } from '../secrets.ts';
import type { CachedCertificate, CertificateObject, ForeignSecretFacts } from './cache.ts';
import { expand } from './cache.ts';
import type { Claimant, SecretFacts } from './checks.ts';
import type { IssuerResolver, ResolvedIssuer } from './issuers.ts';
import { NEXT_KEY_ANNOTATION, nextKeySecretName, readNextKey, type NextKey } from './next-key.ts';
import { keystorePasswords, keystorePasswordSource, type KeystorePasswords } from './outputs.ts';
import type { CertificateReferences } from './references.ts';
import { ownerMark, secretFacts, type SecretObject } from './secret-facts.ts';
import type { OwnWrites } from './writes.ts';

/** The spec parsed, with the issuer it names; or where it does not parse. */
export type ParsedSpec = { ok: true; spec: CertificateSpec; issuer: ResolvedIssuer } | { ok: false; problem: string };

/** The TLS Secret and what decides who may write it. */
export interface SecretSide {
  facts: SecretFacts;
  /** The next-key Secret, read live (undefined in a sync from the caches, or when absent). */
  nextKey?: NextKey;
  /** The other live Certificates in the namespace naming the same Secret. */
  rivals: Claimant[];
  /** The Issuer or ClusterIssuer keeping its ACME account key under the Secret's name. */
  accountKeyOf?: string;
  /**
   * The next-key Secret as the cache shows it, when it still holds a key
   * (none while the cache may be behind this process's own write to it).
   */
  leftoverKey?: { ownerUid?: string; resourceVersion?: string };
  /** Where the keystore passwords come from now, from the versions the caches know (outputs.ts). */
  passwordSource?: string;
}

export type AccountKey = { usable: true; keyPem: string; accountUrl: string } | { usable: false; secretRef: string };

export interface CertificateFacts {
  key: string;
  namespace: string;
  name: string;
  /** Read from the API server, not the caches. */
  live: boolean;
  /** The Certificate as read (its metadata may be the cache's: never modify it). */
  object: CertificateObject;
  self: Claimant;
  generation: number;
  previous: CertificateStatus;
  parsed: ParsedSpec;
  /** When this controller started (ARI polls of existing certificates are spread over the hour after). */
  startedAt: number;
  /** The operator asks CAs for renewal windows (ARI). */
  renewalInfo: boolean;
  /** This installation of certkeeper (recorded with each next key it stores). */
  installation: string;
  // Read when decide asks:
  secret?: SecretSide;
  renewalWindow?: { window?: RenewalWindow };
  account?: AccountKey;
  /** The first Ingress to edit in place that does not exist, if any. */
  ingresses?: { missing?: string };
  passwords?: KeystorePasswords | { problem: string };
}

/** The spec and issuer of facts whose spec parsed (every plan but `invalid` is made only for those). */
export function parsedSpec(facts: CertificateFacts): { spec: CertificateSpec; issuer: ResolvedIssuer } {
  if (!facts.parsed.ok) throw new Error(`Certificate ${facts.key}: the spec did not parse`);
  return facts.parsed;
}

export type ReadPlan =
  | { kind: 'read'; read: 'secret' }
  | { kind: 'read'; read: 'renewal-info'; certId: string }
  | { kind: 'read'; read: 'account'; secret: { namespace: string; name: string; key: string } }
  | { kind: 'read'; read: 'ingresses'; names: string[] }
  | { kind: 'read'; read: 'passwords' };

export interface GatherDeps {
  kube: KubeClient;
  informer: Informer<CachedCertificate>;
  secrets: SecretCache;
  writes: OwnWrites;
  foreign: ForeignSecretFacts;
  references: CertificateReferences;
  issuers: IssuerResolver;
  renewalInfo?: RenewalInfoClient;
  startedAt: number;
  installation: string;
}

export class Gatherer {
  private readonly deps: GatherDeps;

  constructor(deps: GatherDeps) {
    this.deps = deps;
  }

  /** The Certificate and its issuer; undefined when it is gone or being deleted. */
  async certificate(key: string, live: boolean): Promise<CertificateFacts | undefined> {
    const { namespace, name } = splitKey(key);
    const ns = namespace!;
    const object = live ? await this.deps.kube.get<CertificateObject>(certificates, ns, name) : await this.currentCertificate(key, ns, name);
    if (!object || object.metadata.deletionTimestamp) return undefined;
    // The spec only: a sync reads nothing else parsed, and validating the status (conditions, order) on
    // every sync was half of zod's garbage at a start with 10,000 Certificates.
    const spec = CertificateSpec.safeParse(object.spec);
    const problem = spec.success ? undefined : spec.error.issues[0];
    return {
      key, namespace: ns, name, live, object,
      self: { name, uid: object.metadata.uid ?? key, createdAt: object.metadata.creationTimestamp ?? '' },
      generation: object.metadata.generation ?? 0,
      previous: object.status ?? {},
      parsed: spec.success
        ? { ok: true, spec: spec.data, issuer: this.deps.issuers.resolve(ns, spec.data.issuerRef) }
        : { ok: false, problem: `spec is invalid at ${['spec', ...(problem?.path ?? [])].join('.')}: ${problem?.message}` },
      startedAt: this.deps.startedAt,
      renewalInfo: this.deps.renewalInfo !== undefined,
      installation: this.deps.installation,
    };
  }

  /** The facts with what a read plan asks for added. */
  async read(facts: CertificateFacts, plan: ReadPlan, log: Logger): Promise<CertificateFacts> {
    const { spec, issuer } = parsedSpec(facts);
    const ns = facts.namespace;
    switch (plan.read) {
      case 'secret':
        return { ...facts, secret: await this.secretSide(facts, spec) };
      case 'renewal-info':
        return { ...facts, renewalWindow: { window: await this.renewalWindow(issuer, plan.certId, log) } };
      case 'account': {
        const { namespace, name, key } = plan.secret;
        const account = parseAccountSecret(await this.deps.kube.get<SecretObject>(core.secrets, namespace, name), key);
        return {
          ...facts,
          account: account.kind === 'present' && account.accountUrl
            ? { usable: true, keyPem: account.keyPem, accountUrl: account.accountUrl }
            : { usable: false, secretRef: `${namespace}/${name}` },
        };
      }
      case 'ingresses': {
        // Only ever Ingresses in the Certificate's own namespace; the first missing one is enough to wait.
        for (const ingressName of plan.names) {
          if (!await this.deps.kube.get(ingresses, ns, ingressName)) return { ...facts, ingresses: { missing: ingressName } };
        }
        return { ...facts, ingresses: {} };
      }
      case 'passwords':
        return { ...facts, passwords: await keystorePasswords(this.deps.kube, ns, spec) };
    }
  }

  /** The CA's suggested renewal window for a certificate, if its issuer's CA offers ARI. Never throws. */
  async renewalWindow(issuer: ResolvedIssuer, certId: string | undefined, log: Logger): Promise<RenewalWindow | undefined> {
    const acme = issuer.issuer?.spec.acme;
    if (!this.deps.renewalInfo || !certId || !acme) return undefined;
    return this.deps.renewalInfo.window(acme.server, certId, this.deps.issuers.transport(acme, log));
  }

  /**
   * The Certificate from the cache, or read live when the cache may be behind
   * this process's last write, or an order is in flight (its status must be
   * the latest to resume it).
   */
  private async currentCertificate(key: string, ns: string, name: string): Promise<CertificateObject | undefined> {
    const cached = this.deps.informer.get(key);
    const object = cached && !this.deps.writes.pending(`Certificate/${key}`) ? expand(cached) : undefined;
    if (object && !object.status?.order) return object;
    return this.deps.kube.get<CertificateObject>(certificates, ns, name);
  }

  private async secretSide(facts: CertificateFacts, spec: CertificateSpec): Promise<SecretSide> {
    const { namespace: ns, key, live } = facts;
    const secret = live
      ? secretFacts(await this.deps.kube.get<SecretObject>(core.secrets, ns, spec.secretName))
      : await this.currentSecretFacts(ns, spec.secretName);
    const nextKeyName = nextKeySecretName(spec.secretName);
    const nextKey = live ? readNextKey(await this.deps.kube.get<SecretObject>(core.secrets, ns, nextKeyName)) : undefined;
    const leftover = this.deps.writes.pending(`Secret/${ns}/${nextKeyName}`) ? undefined : this.deps.secrets.managed.get(`${ns}/${nextKeyName}`);
    const annotations = leftover?.metadata.annotations;
    return {
      facts: secret,
      ...(nextKey ? { nextKey } : {}),
      rivals: this.deps.references.rivals(key, ns, spec.secretName, (other) => this.deps.informer.get(other)),
      accountKeyOf: this.deps.issuers.accountKeyOf(ns, spec.secretName),
      ...(annotations?.[NEXT_KEY_ANNOTATION.revision] ? { leftoverKey: { ownerUid: ownerMark(annotations)?.uid, resourceVersion: leftover!.metadata.resourceVersion } } : {}),
      // The password Secrets' versions as the caches know them (referenced Secrets are watched).
      passwordSource: keystorePasswordSource(spec, (secretName) => this.secretVersion(`${ns}/${secretName}`)),
    };
  }

  /** A Secret's resourceVersion as the caches know it (labelled or referenced), undefined when unknown. */
  private secretVersion(key: string): string | undefined {
    return (this.deps.secrets.managed.get(key) ?? this.deps.secrets.others.get(key))?.metadata.resourceVersion;
  }

  /**
   * The TLS Secret's facts from the cache of Secrets certkeeper manages; for a
   * Secret someone else made (unlabelled: the cache keeps only its metadata),
   * the facts of the last live read while the cache shows the same version.
   * Read live when unknown or the cache may be behind this process's write.
   */
  private async currentSecretFacts(ns: string, name: string): Promise<SecretFacts> {
    const key = `${ns}/${name}`;
    const fresh = !this.deps.writes.pending(`Secret/${key}`);
    const cached = this.deps.secrets.managed.get(key);
    if (cached?.tls && fresh) return cached.tls;
    const foreign = fresh ? this.deps.foreign.get(key, this.deps.secrets.others.get(key)?.metadata.resourceVersion) : undefined;
    if (foreign) return foreign;
    const secret = await this.deps.secrets.readLive(ns, name);
    const facts = secretFacts(secret);
    if (secret && secret.metadata.labels?.[MANAGED_BY.label] !== MANAGED_BY.value) this.deps.foreign.set(key, secret.metadata.resourceVersion, facts);
    else this.deps.foreign.forget(key);
    return facts;
  }
}
