// The Secrets the controllers look at, from two watches split by label, so a
// cluster's many other Secrets cost (almost) nothing:
//
// - managed (app.kubernetes.io/managed-by=certkeeper): the TLS Secrets and
//   account keys certkeeper wrote. Listed in full, each reduced on arrival:
//   a TLS Secret to facts (validity, names, key type, ARI certID, owner),
//   parsed once per change instead of on every sync; an account key Secret
//   and a next-key Secret (certificate/next-key.ts) to their labels and
//   annotations. No key material is kept.
// - everything else, metadata only: an event wakes the Issuers and
//   Certificates that reference the Secret (EAB keys, TSIG keys, a TLS Secret
//   someone else made). Only Secrets that something references, and account
//   keys, stay in the cache; the rest are seen and forgotten.
//
// A Secret that gains or loses the label moves from one watch to the other
// (the API server sends DELETED on one and ADDED on the other).
import type { Logger } from 'pino';
import { LABEL_ACCOUNT_KEY, MANAGED_BY } from '../api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../kube/client.ts';
import { Informer, type Key } from '../kube/informer.ts';
import type { SecretFacts } from './certificate/checks.ts';
import { secretFacts, type SecretObject } from './certificate/secret-facts.ts';
import { LABEL_NEXT_KEY } from './certificate/next-key.ts';

export const MANAGED_SELECTOR = `${MANAGED_BY.label}=${MANAGED_BY.value}`;
/** `!=` also matches Secrets without the label. */
export const UNMANAGED_SELECTOR = `${MANAGED_BY.label}!=${MANAGED_BY.value}`;

export interface CachedSecret extends KubeObject {
  /** For a TLS Secret certkeeper manages: what it holds. */
  tls?: SecretFacts;
}

const isAccountKey = (secret: KubeObject) => secret.metadata.labels?.[LABEL_ACCOUNT_KEY] === 'true';
const isNextKey = (secret: KubeObject) => secret.metadata.labels?.[LABEL_NEXT_KEY] === 'true';

/**
 * Keeps name, version and (for account and next keys) labels and annotations; a TLS Secret becomes its facts.
 * `intern` returns one shared copy of strings many Secrets repeat (namespace, type), each otherwise its own copy.
 */
export function reduceManagedSecret(secret: SecretObject, intern: (value: string) => string = (value) => value): CachedSecret {
  const { name, resourceVersion, labels, annotations } = secret.metadata;
  const namespace = secret.metadata.namespace === undefined ? undefined : intern(secret.metadata.namespace);
  if (isAccountKey(secret) || isNextKey(secret)) return { metadata: { name, namespace, resourceVersion, labels, annotations } };
  const tls = secretFacts(secret);
  if (tls.type !== undefined) tls.type = intern(tls.type);
  return { metadata: { name, namespace, resourceVersion }, tls };
}

/** A function returning one shared copy of each string it has seen (never forgets: for the few distinct values of a field). */
export function interner(): (value: string) => string {
  const known = new Map<string, string>();
  return (value) => {
    const shared = known.get(value);
    if (shared !== undefined) return shared;
    known.set(value, value);
    return value;
  };
}

function reduceOtherSecret(secret: KubeObject): KubeObject {
  const { name, namespace, resourceVersion, labels, annotations } = secret.metadata;
  return { metadata: { name, namespace, resourceVersion, ...(isAccountKey(secret) ? { labels, annotations } : {}) } };
}

/** `managed` tells which watch saw the change (a Secret moving between them is DELETED on one). */
export type SecretChangeHandler = (key: Key, current: CachedSecret | undefined, managed: boolean) => void;

export class SecretCache {
  readonly managed: Informer<CachedSecret>;
  readonly others: Informer<KubeObject>;
  private readonly referenceChecks: ((key: Key) => boolean)[] = [];

  private readonly kube: KubeClient;

  constructor(kube: KubeClient, log: Logger) {
    this.kube = kube;
    const intern = interner();
    this.managed = new Informer<CachedSecret>({
      kube, log, type: core.secrets, labelSelector: MANAGED_SELECTOR, pageSize: 500,
      transform: (secret) => reduceManagedSecret(secret as SecretObject, intern),
    });
    this.others = new Informer<KubeObject>({
      kube, log, type: core.secrets, labelSelector: UNMANAGED_SELECTOR, metadataOnly: true, pageSize: 2000,
      transform: reduceOtherSecret,
      keep: (key, secret) => isAccountKey(secret) || this.referenceChecks.some((references) => references(key)),
    });
  }

  /**
   * A Secret read live. One certkeeper did not label is cached (metadata only)
   * when something references it, so later syncs know its version without
   * reading it again: the cache forgot it when its last event came before the
   * reference (a cert-manager TLS Secret before its Certificate moved over, or
   * any referenced Secret at start-up, listed before the Certificates).
   */
  async readLive(namespace: string, name: string): Promise<SecretObject | undefined> {
    return this.others.readThrough(`${namespace}/${name}`, () => this.kube.get<SecretObject>(core.secrets, namespace, name),
      (secret) => secret.metadata.labels?.[MANAGED_BY.label] !== MANAGED_BY.value) as Promise<SecretObject | undefined>;
  }

  /** A controller tells which Secrets it references, so those stay cached even when certkeeper did not write them. */
  addReferences(references: (key: Key) => boolean): void {
    this.referenceChecks.push(references);
  }

  onChange(handler: SecretChangeHandler): void {
    this.managed.onChange((key, current) => handler(key, current, true));
    this.others.onChange((key, current) => handler(key, current, false));
  }

  list(): CachedSecret[] {
    return [...this.managed.list(), ...this.others.list()];
  }

  get hasSynced(): boolean {
    return this.managed.hasSynced && this.others.hasSynced;
  }

  async waitForSync(): Promise<void> {
    await Promise.all([this.managed.waitForSync(), this.others.waitForSync()]);
  }

  start(): void {
    this.managed.start();
    this.others.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.managed.stop(), this.others.stop()]);
  }
}
