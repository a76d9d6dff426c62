// The EAB ledger: a durable record of every External Account Binding key ID
// certkeeper has claimed or sent, that outlives Issuers and account Secrets.
//
// One ConfigMap per EAB key ID in the cluster resource namespace
// (tenants have no write access there; the admission guard freezes what
// matters). Creating it is the claim: the API server lets exactly one create
// succeed, so two Issuers (or two replicas) racing for one key ID cannot both
// get it, whatever Secrets they name. The operator writes an entry before
// every EAB send and never deletes one; a person releases a key ID by deleting
// its entry (README, "The EAB ledger").
//
// The data holds no secret: key ID, directory URL, the account key's RFC 7638
// thumbprint, the account Secret's name, times and outcomes.
import { createHash } from 'node:crypto';
import { MANAGED_BY } from '../api/meta.ts';
import { isAlreadyExists, type KubeClient, type KubeObject, type ResourceType } from '../kube/client.ts';

export const configMaps: ResourceType = { group: '', version: 'v1', plural: 'configmaps', namespaced: true };

/** Marks ledger entries (watches, the guard, `certkeeper account export`). */
export const LABEL_EAB_LEDGER = 'certkeeper.io/eab-ledger';

/**
 * claimed: an account key was generated for this key ID, nothing sent yet.
 * sent: a newAccount with EAB went out and its outcome is not known (yet).
 * registered: the CA created the account. rejected: the CA refused the key.
 */
export type LedgerOutcome = 'claimed' | 'sent' | 'registered' | 'rejected';

export interface LedgerEntry {
  keyID: string;
  server: string;
  /** namespace/name of the account key Secret the key ID belongs to. */
  accountSecret: string;
  /** The Issuer that claimed it, for messages ("Issuer ns/name" or "ClusterIssuer name"). */
  claimedBy: string;
  thumbprint: string;
  outcome: LedgerOutcome;
  accountURL?: string;
  /** How many newAccount requests carried this key. */
  sends: number;
  lastSentAt?: string;
  /** The EAB Secret's version when the CA rejected the key (a changed Secret allows one more try). */
  rejectedEabSecretVersion?: string;
  /** One line per event, oldest first; never pruned. */
  history: string;
  resourceVersion: string;
}

/**
 * The ConfigMap name for a key ID: stable, DNS-safe, any key ID string. Keyed
 * by the key ID alone, not the directory URL: the same CA written two ways
 * (a trailing slash, another host name) must not make a used key look new.
 * Key IDs are random strings a CA hands out, so two CAs never share one.
 */
export function ledgerEntryName(keyID: string): string {
  return `certkeeper-eab-${createHash('sha256').update(keyID).digest('hex').slice(0, 24)}`;
}

interface ConfigMapObject extends KubeObject {
  data?: Record<string, string>;
}

const OUTCOMES: readonly LedgerOutcome[] = ['claimed', 'sent', 'registered', 'rejected'];

/** Reads an entry; undefined when the ConfigMap is not a well-formed ledger entry. Pure. */
export function parseLedgerEntry(object: ConfigMapObject | undefined): LedgerEntry | undefined {
  const data = object?.data;
  if (!data?.keyID || !data.server || !data.accountSecret || !OUTCOMES.includes(data.outcome as LedgerOutcome)) return undefined;
  return {
    keyID: data.keyID,
    server: data.server,
    accountSecret: data.accountSecret,
    claimedBy: data.claimedBy ?? '',
    thumbprint: data.thumbprint ?? '',
    outcome: data.outcome as LedgerOutcome,
    ...(data.accountURL ? { accountURL: data.accountURL } : {}),
    sends: Number(data.sends ?? 0) || 0,
    ...(data.lastSentAt ? { lastSentAt: data.lastSentAt } : {}),
    ...(data.rejectedEabSecretVersion ? { rejectedEabSecretVersion: data.rejectedEabSecretVersion } : {}),
    history: data.history ?? '',
    resourceVersion: object!.metadata.resourceVersion ?? '',
  };
}

function dataOf(entry: Omit<LedgerEntry, 'resourceVersion'>): Record<string, string> {
  return {
    keyID: entry.keyID,
    server: entry.server,
    accountSecret: entry.accountSecret,
    claimedBy: entry.claimedBy,
    thumbprint: entry.thumbprint,
    outcome: entry.outcome,
    ...(entry.accountURL ? { accountURL: entry.accountURL } : {}),
    sends: String(entry.sends),
    ...(entry.lastSentAt ? { lastSentAt: entry.lastSentAt } : {}),
    ...(entry.rejectedEabSecretVersion ? { rejectedEabSecretVersion: entry.rejectedEabSecretVersion } : {}),
    history: entry.history,
  };
}

/** A ledger entry as a ConfigMap object (no owner: nothing garbage-collects it). */
export function ledgerEntryObject(namespace: string, entry: Omit<LedgerEntry, 'resourceVersion'>): ConfigMapObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: ledgerEntryName(entry.keyID),
      namespace,
      labels: { [LABEL_EAB_LEDGER]: 'true', [MANAGED_BY.label]: MANAGED_BY.value },
      annotations: { 'certkeeper.io/eab-key-id': entry.keyID },
    },
    data: dataOf(entry),
  };
}

export function historyLine(at: Date, event: string): string {
  return `${at.toISOString()} ${event}\n`;
}

/** Reads, claims and updates ledger entries in one namespace. Every write is conditional on what was read. */
export class EabLedger {
  readonly namespace: string;
  private readonly kube: KubeClient;

  constructor(kube: KubeClient, namespace: string) {
    this.kube = kube;
    this.namespace = namespace;
  }

  /** The entry for a key ID, read live (never a cache: it decides whether a key may be sent). */
  async get(keyID: string): Promise<LedgerEntry | undefined> {
    const object = await this.kube.get<ConfigMapObject>(configMaps, this.namespace, ledgerEntryName(keyID));
    if (!object) return undefined;
    const entry = parseLedgerEntry(object);
    // Someone put an unreadable object at our name: treat it as a claim we cannot read, never as free.
    if (!entry) throw new LedgerUnreadableError(`${this.namespace}/${object.metadata.name}`);
    return entry;
  }

  /** Creates the entry; undefined when one already exists (someone else claimed it first: read theirs). */
  async create(entry: Omit<LedgerEntry, 'resourceVersion'>): Promise<LedgerEntry | undefined> {
    try {
      return parseLedgerEntry(await this.kube.create(configMaps, ledgerEntryObject(this.namespace, entry)));
    } catch (error) {
      if (isAlreadyExists(error)) return undefined;
      throw error;
    }
  }

  /** Replaces the entry's data if it is still at `previous.resourceVersion` (a conflict throws). */
  async update(previous: LedgerEntry, next: Omit<LedgerEntry, 'resourceVersion'>): Promise<LedgerEntry> {
    const object = ledgerEntryObject(this.namespace, next);
    object.metadata.resourceVersion = previous.resourceVersion;
    const written = await this.kube.replace(configMaps, object);
    return parseLedgerEntry(written)!;
  }

  /** Every entry (for export and the CLI). */
  async list(): Promise<LedgerEntry[]> {
    const list = await this.kube.list<ConfigMapObject>(configMaps, { namespace: this.namespace, labelSelector: `${LABEL_EAB_LEDGER}=true` });
    return list.items.flatMap((item) => parseLedgerEntry(item) ?? []);
  }
}

export class LedgerUnreadableError extends Error {
  constructor(ref: string) {
    super(`the EAB ledger entry ${ref} is not readable (its data was changed by hand); certkeeper does not send an EAB key it cannot account for. Restore the entry or delete it (see the README, "The EAB ledger")`);
    this.name = 'LedgerUnreadableError';
  }
}

