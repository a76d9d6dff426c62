// What `certkeeper account backup` writes, as pure functions: which objects go
// into a backup and in what form, the order they are restored in, the file
// names of a backup directory, the one Secret of a backup kept in the cluster,
// the index, and which old backup directories a run may delete.
//
// A backup is a set of manifests `kubectl apply -f` restores, in this order:
//   1. the EAB ledger entries (ConfigMaps of the cluster resource namespace):
//      first, so the restored operator never records an entry of its own that
//      the applied one would then have to overwrite;
//   2. the TLS Secrets certkeeper wrote (with --include-tls-secrets): before the
//      account keys, so that when an Issuer becomes Ready on its restored key,
//      its Certificates already find their certificates and order nothing;
//   3. the account key Secrets, through the same filter as `account export
//      --format` (portableAccountSecret): the key and the annotations that
//      describe the account, never this cluster's send mark or contact-update
//      time. A registered key stays registered; a pending key stays pending.
// Objects lose what belongs to the cluster they were read from: uid,
// resourceVersion, creation time, managed fields, owner references (a
// Certificate's uid is new in the restored cluster; a stale owner would let the
// garbage collector delete the Secret), kubectl's last-applied annotation and
// a pending allow-deletion mark.
import { createHash, X509Certificate } from 'node:crypto';
import { dump } from 'js-yaml';
import { DEFAULT_ACCOUNT_KEY_NAME } from '../api/issuer.ts';
import { ANNOTATION, parseAccountSecret, type SecretObject } from '../acme/account-protocol.ts';
import type { KubeObject } from '../kube/client.ts';
import { FormatError, portableAccountSecret } from './account-formats.ts';

export type BackupKind = 'eab-ledger' | 'tls-secret' | 'account-key';

/** One object of a backup: its manifest, and a line for the index. */
export interface BackupItem {
  kind: BackupKind;
  namespace: string;
  name: string;
  manifest: KubeObject & { type?: string; data?: Record<string, string> };
  /** What the object is, for the index (never key material). */
  note: string;
}

/** An object that was found but not backed up, and why. */
export interface SkippedItem {
  kind: BackupKind;
  namespace: string;
  name: string;
  reason: string;
}

export interface Backup {
  takenAt: Date;
  /** Where the EAB ledger was read (the operator's cluster resource namespace). */
  ledgerNamespace: string;
  includesTlsSecrets: boolean;
  /** In restore order: ledger entries, TLS Secrets, account keys; each by namespace and name. */
  items: BackupItem[];
  skipped: SkippedItem[];
}

export interface BackupInput {
  takenAt: Date;
  ledgerNamespace: string;
  /** Secrets labelled certkeeper.io/account-key=true, in every namespace. */
  accountSecrets: SecretObject[];
  /** Account Secrets Issuers and ClusterIssuers name that do not carry the label. */
  referencedAccountSecrets?: SecretObject[];
  /**
   * namespace/name of each account Secret an Issuer or ClusterIssuer names → its
   * spec.acme.server: the CA of a Secret that does not record it (one holding only the key).
   */
  issuerServers?: Map<string, string>;
  /** ConfigMaps labelled certkeeper.io/eab-ledger=true in ledgerNamespace. */
  ledgerEntries: (KubeObject & { data?: Record<string, string> })[];
  /** kubernetes.io/tls Secrets labelled app.kubernetes.io/managed-by=certkeeper; undefined: not asked for. */
  tlsSecrets?: SecretObject[];
}

/** Annotations that describe the cluster a object was read from, not the object: never restored. */
export const DROPPED_ANNOTATIONS: readonly string[] = [
  'kubectl.kubernetes.io/last-applied-configuration',
  // A person's step towards deleting the object; the restored one starts guarded again.
  'certkeeper.io/allow-deletion',
  // The uid of the Certificate that wrote a TLS Secret: the restored Certificate has another
  // (without it, the Secret's certificate-name mark alone says which Certificate owns it).
  'certkeeper.io/certificate-uid',
];

const ORDER: readonly BackupKind[] = ['eab-ledger', 'tls-secret', 'account-key'];

function withoutDropped(annotations: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!annotations) return undefined;
  const kept = Object.fromEntries(Object.entries(annotations).filter(([key]) => !DROPPED_ANNOTATIONS.includes(key)));
  return Object.keys(kept).length ? kept : undefined;
}

/** name, namespace, labels and the kept annotations: what `kubectl apply` needs and nothing of this cluster's. */
function portableMetadata(object: KubeObject): KubeObject['metadata'] {
  const { name, namespace, labels } = object.metadata;
  const annotations = withoutDropped(object.metadata.annotations);
  return { name, namespace, ...(labels && Object.keys(labels).length ? { labels } : {}), ...(annotations ? { annotations } : {}) };
}

/**
 * The data entry of an account Secret that holds the key: tls.key, or the
 * Secret's only entry (an Issuer's privateKeySecretRef.key may name another;
 * certkeeper writes just that one).
 */
export function accountKeyEntry(secret: SecretObject): string {
  const keys = Object.keys(secret.data ?? {});
  return keys.length === 1 ? keys[0]! : DEFAULT_ACCOUNT_KEY_NAME;
}

/** An account key Secret as a backup holds it, or why it cannot be backed up. */
export function backupAccountSecret(secret: SecretObject, serverFromIssuer?: string): BackupItem | SkippedItem {
  const { namespace = '', name } = secret.metadata;
  const keyName = accountKeyEntry(secret);
  const account = parseAccountSecret(secret, keyName);
  if (account.kind !== 'present') {
    return { kind: 'account-key', namespace, name, reason: account.kind === 'invalid' ? `the Secret ${account.problem}` : 'not found' };
  }
  let manifest: SecretObject & { type: string };
  try {
    manifest = portableAccountSecret({ namespace, name, keyName, account: { ...account, server: account.server ?? serverFromIssuer }, keepPending: true });
  } catch (error) {
    if (error instanceof FormatError) return { kind: 'account-key', namespace, name, reason: error.message.replace(/; nothing was written$/, '') };
    throw error;
  }
  const kid = account.eabKeyId ? `, EAB key ID ${account.eabKeyId}` : '';
  const note = account.state === 'pending'
    ? `pending (not registered at the CA yet${kid}); restored pending, looked up without EAB before any send`
    : account.accountUrl
      ? `registered: ${account.accountUrl}${kid}`
      : `imported (account URL not recorded${kid}); looked up by its key, never registered`;
  return { kind: 'account-key', namespace, name, manifest, note };
}

/** A ledger entry as a backup holds it: the ConfigMap as it was, without this cluster's metadata. */
export function backupLedgerEntry(object: KubeObject & { data?: Record<string, string> }, ledgerNamespace: string): BackupItem {
  const data = object.data ?? {};
  const metadata = { ...portableMetadata(object), namespace: object.metadata.namespace ?? ledgerNamespace };
  const note = data.keyID
    ? `EAB key ID ${data.keyID}: ${data.outcome ?? 'no outcome'}${data.accountSecret ? `, account Secret ${data.accountSecret}` : ''}`
    : 'not a readable ledger entry (kept as it is: certkeeper treats it as a claim)';
  return { kind: 'eab-ledger', namespace: metadata.namespace!, name: object.metadata.name, manifest: { apiVersion: 'v1', kind: 'ConfigMap', metadata, data }, note };
}

/** When the certificate in a TLS Secret expires, for the index; undefined when it cannot be read. */
function notAfter(secret: SecretObject): string | undefined {
  const crt = secret.data?.['tls.crt'];
  if (!crt) return undefined;
  try {
    return new Date(new X509Certificate(Buffer.from(crt, 'base64')).validTo).toISOString();
  } catch {
    return undefined;
  }
}

/** A TLS Secret certkeeper wrote, as a backup holds it: type, data, labels and annotations, no owner. */
export function backupTlsSecret(secret: SecretObject): BackupItem {
  const { namespace = '', name } = secret.metadata;
  const certificate = secret.metadata.annotations?.['certkeeper.io/certificate-name'];
  const expires = notAfter(secret);
  const note = `${certificate ? `certificate ${certificate}` : 'no certificate-name annotation'}, ${expires ? `valid until ${expires}` : 'certificate not readable'}`;
  return {
    kind: 'tls-secret',
    namespace,
    name,
    manifest: { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: portableMetadata(secret), data: secret.data ?? {} },
    note,
  };
}

const byPlace = (a: { namespace: string; name: string }, b: { namespace: string; name: string }) =>
  a.namespace === b.namespace ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.namespace < b.namespace ? -1 : 1;

/** Everything a backup holds, in restore order, and what was left out. Pure. */
export function planBackup(input: BackupInput): Backup {
  const results: (BackupItem | SkippedItem)[] = [];
  const accounts = new Set<string>();
  for (const secret of [...input.accountSecrets, ...input.referencedAccountSecrets ?? []]) {
    const ref = `${secret.metadata.namespace}/${secret.metadata.name}`;
    if (accounts.has(ref)) continue;
    accounts.add(ref);
    results.push(backupAccountSecret(secret, input.issuerServers?.get(ref)));
  }
  for (const entry of input.ledgerEntries) results.push(backupLedgerEntry(entry, input.ledgerNamespace));
  for (const secret of input.tlsSecrets ?? []) {
    // A TLS Secret labelled as an account key is no account key (the operator refuses it); it is backed up as what it is.
    results.push(backupTlsSecret(secret));
  }
  const items = results.filter((r): r is BackupItem => 'manifest' in r);
  const skipped = results.filter((r): r is SkippedItem => !('manifest' in r));
  items.sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind) || byPlace(a, b));
  skipped.sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind) || byPlace(a, b));
  return { takenAt: input.takenAt, ledgerNamespace: input.ledgerNamespace, includesTlsSecrets: input.tlsSecrets !== undefined, items, skipped };
}

/** The namespaces a restore needs, sorted. */
export function backupNamespaces(backup: Backup): string[] {
  return [...new Set(backup.items.map((item) => item.namespace))].sort();
}

// ---------------------------------------------------------------------------
// A directory of files (destination volume)
// ---------------------------------------------------------------------------

const FILE_PREFIX: Record<BackupKind, string> = { 'eab-ledger': '10-eab-ledger', 'tls-secret': '20-tls-secret', 'account-key': '30-account-key' };
/** File names stay well under the 255 bytes most file systems allow. */
const MAX_FILE_STEM = 200;

/**
 * The file of one object: the prefix orders the restore (kubectl reads a
 * directory in name order), then namespace and name (a namespace has no dots,
 * so the first dot after the prefix separates them). Long names are cut and
 * made unique with a hash of namespace/name.
 */
export function backupFileName(item: Pick<BackupItem, 'kind' | 'namespace' | 'name'>): string {
  const stem = `${FILE_PREFIX[item.kind]}.${item.namespace}.${item.name}`;
  if (stem.length <= MAX_FILE_STEM) return `${stem}.yaml`;
  const hash = createHash('sha256').update(`${item.namespace}/${item.name}`).digest('hex').slice(0, 16);
  return `${stem.slice(0, MAX_FILE_STEM - hash.length - 1)}-${hash}.yaml`;
}

/** The index's name: not .yaml, .yml or .json, which `kubectl apply -f DIR` would read as a manifest. */
export const INDEX_FILE = 'index.txt';

/** A backup directory's name: the time it was taken, so names sort by age. */
export function backupDirName(takenAt: Date): string {
  return `certkeeper-backup-${takenAt.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '')}`;
}

const BACKUP_DIR = /^certkeeper-backup-\d{8}T\d{6}Z$/;
/** A directory a run writes into before it renames it; one left behind was a run that died. */
const PARTIAL_DIR = /^\.certkeeper-backup-\d{8}T\d{6}Z\.partial-[0-9a-f]+$/;

export function partialDirName(takenAt: Date, random: string): string {
  return `.${backupDirName(takenAt)}.partial-${random}`;
}

/**
 * Which entries of the destination a run with --keep N deletes: complete
 * backups beyond the newest N, and directories runs that died left half
 * written (except the one being written now). Nothing else is touched.
 */
export function backupsToPrune(entries: string[], keep: number, current?: string): string[] {
  const complete = entries.filter((name) => BACKUP_DIR.test(name)).sort();
  const old = keep > 0 ? complete.slice(0, Math.max(0, complete.length - keep)) : [];
  const partial = entries.filter((name) => PARTIAL_DIR.test(name) && name !== current).sort();
  return [...old, ...partial];
}

function manifestText(item: BackupItem): string {
  return dump(item.manifest, { lineWidth: -1, noRefs: true, sortKeys: false });
}

const SECRET_WARNING = 'It holds private keys unencrypted: keep it where only the people who may restore certkeeper\'s accounts can read it.';

/** One file of a backup directory: a comment saying what it is, then the manifest. */
export function backupFile(item: BackupItem): string {
  return `# certkeeper backup: ${item.kind} ${item.namespace}/${item.name} (${item.note}).\n${
    item.kind === 'eab-ledger' ? '' : `# ${SECRET_WARNING}\n`}${manifestText(item)}`;
}

// ---------------------------------------------------------------------------
// One document (destination secret)
// ---------------------------------------------------------------------------

/** The whole backup as one multi-document YAML, in restore order. */
export function backupYaml(backup: Backup): string {
  const header = [
    `# certkeeper account backup taken ${backup.takenAt.toISOString()}: ${summary(backup)}.`,
    `# ${SECRET_WARNING}`,
    '# Restore it BEFORE the Issuers (or have them marked sharedWithFleet or disableAccountKeyGeneration):',
    `#   kubectl create namespace ... (${backupNamespaces(backup).join(', ') || 'none'})`,
    '#   kubectl apply --server-side -f THIS_FILE',
  ].join('\n');
  return `${header}\n${backup.items.map((item) => `---\n# ${item.kind} ${item.namespace}/${item.name}: ${item.note}\n${manifestText(item)}`).join('')}`;
}

/** Kubernetes refuses a Secret whose data is larger than this (bytes, all entries together). */
export const MAX_SECRET_DATA_BYTES = 1024 * 1024;

/** Marks the Secret a backup is written to, so that a run never replaces a Secret that is not one. */
export const LABEL_ACCOUNT_BACKUP = 'certkeeper.io/account-backup';
export const BACKUP_YAML_KEY = 'backup.yaml';

/**
 * The Secret a backup is kept in: the multi-document YAML under backup.yaml
 * (one key: restored in order by one command) and the index under index.txt.
 * Not labelled app.kubernetes.io/managed-by=certkeeper: the operator's cache of
 * its own Secrets has no use for it, and a backup never includes itself.
 */
export function backupSecret(backup: Backup, namespace: string, name: string): SecretObject & { type: string } {
  const content = { [BACKUP_YAML_KEY]: backupYaml(backup), [INDEX_FILE]: backupIndex(backup) };
  const bytes = Object.values(content).reduce((sum, text) => sum + Buffer.byteLength(text), 0);
  if (bytes > MAX_SECRET_DATA_BYTES) {
    throw new FormatError(`the backup is ${(bytes / 1024 / 1024).toFixed(2)} MiB, more than the ${MAX_SECRET_DATA_BYTES / 1024 / 1024} MiB a Secret can hold `
      + `(${backup.items.filter((i) => i.kind === 'tls-secret').length} TLS Secrets); write it to a directory (--out; chart: accountBackup.destination=volume)`
      + `${backup.includesTlsSecrets ? ' or leave out the TLS Secrets' : ''}; nothing was written`);
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name,
      namespace,
      labels: { [LABEL_ACCOUNT_BACKUP]: 'true', 'app.kubernetes.io/part-of': 'certkeeper' },
      annotations: { 'certkeeper.io/backup-taken-at': backup.takenAt.toISOString() },
    },
    data: Object.fromEntries(Object.entries(content).map(([key, text]) => [key, Buffer.from(text).toString('base64')])),
  };
}

// ---------------------------------------------------------------------------
// The index
// ---------------------------------------------------------------------------

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "2 account keys (1 registered, 1 pending), 3 EAB ledger entries, 5 TLS Secrets". */
export function summary(backup: Backup): string {
  const of = (kind: BackupKind) => backup.items.filter((item) => item.kind === kind);
  const accounts = of('account-key');
  const states = ['registered', 'imported', 'pending']
    .map((state) => [state, accounts.filter((a) => a.manifest.metadata.annotations?.[ANNOTATION.state] === state).length] as const)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${state}`);
  return [
    `${count(accounts.length, 'account key')}${states.length ? ` (${states.join(', ')})` : ''}`,
    count(of('eab-ledger').length, 'EAB ledger entry', 'EAB ledger entries'),
    backup.includesTlsSecrets ? count(of('tls-secret').length, 'TLS Secret') : 'no TLS Secrets (not asked for)',
    ...(backup.skipped.length ? [`${backup.skipped.length} skipped`] : []),
  ].join(', ');
}

/**
 * index.txt: what the backup holds and how to restore it, then one
 * tab-separated line per object (kind, namespace/name, file, note) and per
 * skipped object (skipped, kind, namespace/name, reason). With files=false
 * (one Secret) the file column is "-".
 */
export function backupIndex(backup: Backup, { files = false }: { files?: boolean } = {}): string {
  const lines = [
    `# certkeeper account backup taken ${backup.takenAt.toISOString()}: ${summary(backup)}.`,
    `# EAB ledger read from namespace ${backup.ledgerNamespace}: restore into a cluster whose certkeeper uses the same cluster resource namespace.`,
    '# Restore BEFORE applying the Issuers (README, "Disaster recovery: restore drill"):',
    `#   kubectl create namespace NAME  for each namespace below that does not exist yet`,
    `#   kubectl apply --server-side -f ${files ? 'THIS_DIRECTORY' : `${BACKUP_YAML_KEY} (from this Secret)`}`,
    `namespaces\t${backupNamespaces(backup).join(' ')}`,
    ...backup.items.map((item) => [item.kind, `${item.namespace}/${item.name}`, files ? backupFileName(item) : '-', item.note].join('\t')),
    ...backup.skipped.map((item) => ['skipped', item.kind, `${item.namespace}/${item.name}`, item.reason].join('\t')),
  ];
  return `${lines.join('\n')}\n`;
}
