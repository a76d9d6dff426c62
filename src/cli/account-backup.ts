// `certkeeper account backup --all`: every ACME account key Secret of the
// cluster and the EAB ledger (and, asked for, the TLS Secrets certkeeper wrote)
// as manifests `kubectl apply -f` restores, written either as one Secret or as
// a directory of files. It is what the chart's CronJob runs
// (charts/certkeeper/templates/account-backup.yaml, accountBackup.*); the
// README's "Disaster recovery: restore drill" restores it.
//
// This file reads the cluster and writes; what goes into a backup and how it
// is laid out are pure functions in account-backup-layout.ts.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SecretObject } from '../acme/account-protocol.ts';
import { configMaps, LABEL_EAB_LEDGER } from '../acme/eab-ledger.ts';
import { LABEL_ACCOUNT_KEY, MANAGED_BY } from '../api/meta.ts';
import { ApiError, core, isAlreadyExists, type KubeClient, type KubeObject } from '../kube/client.ts';
import { FormatError } from './account-formats.ts';
import {
  backupDirName, backupFile, backupFileName, backupIndex, backupNamespaces, backupSecret, backupsToPrune, INDEX_FILE,
  LABEL_ACCOUNT_BACKUP, partialDirName, planBackup, summary, type Backup,
} from './account-backup-layout.ts';
import { CliError, CliUsageError, connectCli, parseCommand, processIo, readApi, runCli, type CliIo } from './cli-kit.ts';

const group = { group: 'certkeeper.io', version: 'v1alpha1' } as const;
const issuerTypes = {
  Issuer: { ...group, plural: 'issuers', namespaced: true },
  ClusterIssuer: { ...group, plural: 'clusterissuers', namespaced: false },
} as const;

export const BACKUP_USAGE = `Usage: certkeeper account backup --all (--out DIR [--keep N] | --to-secret NS/NAME) [--ledger-namespace NS] [--include-tls-secrets] [--kubeconfig PATH]

Backs up, from every namespace, the ACME account key Secrets certkeeper manages
(label certkeeper.io/account-key=true, and any Secret an Issuer or ClusterIssuer
names as its privateKeySecretRef) and the EAB ledger of --ledger-namespace, as
manifests that \`kubectl apply --server-side -f\` restores: ledger entries first,
then TLS Secrets, then account keys. An account key keeps the annotations that
describe its account (registered stays registered, a pending key stays
pending), never this cluster's EAB send mark. A Secret that is not a readable
account key is skipped and listed. This is what the chart's CronJob runs
(accountBackup.enabled).

Restore the backup into a new cluster BEFORE its Issuers, or mark them
sharedWithFleet or disableAccountKeyGeneration in Git: an Issuer without its
account Secret generates a key and sends the EAB key (README, "Disaster
recovery: restore drill").

Destination (one of):
  --out DIR             a new directory DIR/certkeeper-backup-<UTC time>/ with one manifest per
                        object (mode 0600) and index.txt; written under a temporary name and
                        renamed when complete
  --to-secret NS/NAME   the Secret NS/NAME: the backup as one multi-document YAML under
                        backup.yaml, and index.txt; created, or replaced if it is a certkeeper
                        backup (label ${LABEL_ACCOUNT_BACKUP}=true). At most 1 MiB in all.

Flags:
  --all                   every namespace (required: there is no per-namespace backup)
  --ledger-namespace NS   the operator's cluster resource namespace: the EAB ledger, and the
                          account Secrets of ClusterIssuers (default certkeeper)
  --include-tls-secrets   also the TLS Secrets certkeeper wrote (type kubernetes.io/tls, label
                          app.kubernetes.io/managed-by=certkeeper): restored, their Certificates
                          order nothing while the certificates are valid
  --keep N                with --out: keep the newest N backups in DIR and delete older
                          certkeeper-backup-* directories (and ones a failed run left); default: keep all
  --kubeconfig PATH       kubeconfig to use (default: $KUBECONFIG or ~/.kube/config)
  -h, --help              show this help
`;

/** The flags `account backup` takes (the chart's test checks the CronJob passes only these). */
export const BACKUP_FLAGS = {
  all: { type: 'boolean' },
  out: { type: 'string' },
  keep: { type: 'string' },
  'to-secret': { type: 'string' },
  'ledger-namespace': { type: 'string' },
  'include-tls-secrets': { type: 'boolean' },
} as const;

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export type Destination = { kind: 'directory'; dir: string; keep: number } | { kind: 'secret'; namespace: string; name: string };

export interface BackupOptions {
  ledgerNamespace: string;
  includeTlsSecrets: boolean;
  destination: Destination;
}

function text(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** The command line as options; a wrong one is a CliUsageError (exit 2). */
export function parseBackupOptions(values: Record<string, string | boolean | undefined>, cwd: string): BackupOptions {
  if (values.namespace !== undefined) throw new CliUsageError('--namespace does not go with backup: a backup holds every namespace (--all)');
  if (values.all !== true) throw new CliUsageError('--all is required: a backup holds the account keys of every namespace');
  const ledgerNamespace = text(values['ledger-namespace']) ?? 'certkeeper';
  if (ledgerNamespace.length > 63 || !NAMESPACE.test(ledgerNamespace)) throw new CliUsageError(`--ledger-namespace "${ledgerNamespace}" is not a valid namespace name`);
  const out = text(values.out);
  const toSecret = text(values['to-secret']);
  if ((out === undefined) === (toSecret === undefined)) throw new CliUsageError('give one destination: --out DIR or --to-secret NS/NAME');
  const keepText = text(values.keep);
  if (keepText !== undefined && out === undefined) throw new CliUsageError('--keep goes with --out');
  let destination: Destination;
  if (out !== undefined) {
    const keep = keepText === undefined ? 0 : Number(keepText);
    if (!Number.isInteger(keep) || keep < 0) throw new CliUsageError(`--keep "${keepText}" is not a whole number (0 keeps every backup)`);
    destination = { kind: 'directory', dir: path.resolve(cwd, out), keep };
  } else {
    const [namespace, name, extra] = toSecret!.split('/');
    if (!namespace || !name || extra !== undefined) throw new CliUsageError('--to-secret must be NAMESPACE/NAME');
    if (namespace.length > 63 || !NAMESPACE.test(namespace)) throw new CliUsageError(`--to-secret: "${namespace}" is not a valid namespace name`);
    if (name.length > 253 || !SECRET_NAME.test(name)) throw new CliUsageError(`--to-secret: "${name}" is not a valid Secret name`);
    destination = { kind: 'secret', namespace, name };
  }
  return { ledgerNamespace, includeTlsSecrets: values['include-tls-secrets'] === true, destination };
}

/** Runs `certkeeper account backup`; returns the exit code. */
export async function runBackup(args: string[], io: CliIo & { cwd?: string } = processIo): Promise<number> {
  return runCli('certkeeper account backup', io, async () => {
    const flags = parseCommand(args, BACKUP_FLAGS);
    if (flags.help) {
      io.stdout(BACKUP_USAGE);
      return 0;
    }
    if (flags.positionals.length > 0) throw new CliUsageError(`unexpected argument "${flags.positionals[0]}"`);
    const options = parseBackupOptions(flags.values, io.cwd ?? process.cwd());
    const kube = await connectCli(flags.kubeconfig);
    let backup: Backup;
    try {
      backup = await readBackup(kube, options, io.now());
      if (options.destination.kind === 'secret') await writeToSecret(kube, backup, options.destination);
    } finally {
      kube.close();
    }
    const where = options.destination.kind === 'secret'
      ? `Secret ${options.destination.namespace}/${options.destination.name}`
      : writeToDirectory(backup, options.destination);
    for (const item of backup.skipped) io.stderr(`skipped ${item.kind} ${item.namespace}/${item.name}: ${item.reason}\n`);
    io.stdout([
      `Backed up ${summary(backup)} to ${where}.`,
      `Namespaces a restore needs: ${backupNamespaces(backup).join(' ') || 'none'}.`,
      'It holds private keys: keep it where only the people who may restore certkeeper\'s accounts can read it.',
      '',
    ].join('\n'));
    return 0;
  });
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

interface IssuerLike extends KubeObject {
  spec?: { acme?: { server?: unknown; privateKeySecretRef?: { name?: unknown } } };
}

async function readBackup(kube: KubeClient, options: BackupOptions, takenAt: Date): Promise<Backup> {
  const accountSecrets = (await readApi(kube, 'the account key Secrets (label certkeeper.io/account-key=true, every namespace)',
    () => kube.list<SecretObject>(core.secrets, { labelSelector: `${LABEL_ACCOUNT_KEY}=true` }))).items;
  const { referencedAccountSecrets, issuerServers } = await readReferencedAccountSecrets(kube, options.ledgerNamespace, accountSecrets);
  const ledgerEntries = (await readApi(kube, `the EAB ledger in namespace ${options.ledgerNamespace}`,
    () => kube.list<KubeObject & { data?: Record<string, string> }>(configMaps, { namespace: options.ledgerNamespace, labelSelector: `${LABEL_EAB_LEDGER}=true` }))).items;
  const tlsSecrets = options.includeTlsSecrets
    ? (await readApi(kube, `the TLS Secrets certkeeper wrote (label ${MANAGED_BY.label}=${MANAGED_BY.value}, every namespace)`,
      () => kube.list<SecretObject>(core.secrets, { labelSelector: `${MANAGED_BY.label}=${MANAGED_BY.value}`, fieldSelector: 'type=kubernetes.io/tls' }))).items
    : undefined;
  return planBackup({
    takenAt, ledgerNamespace: options.ledgerNamespace, accountSecrets, referencedAccountSecrets, issuerServers, ledgerEntries, ...(tlsSecrets ? { tlsSecrets } : {}),
  });
}

/**
 * Account Secrets Issuers and ClusterIssuers name that lack certkeeper's label
 * (a key adopted from a Secret holding only tls.key, as an ExternalSecret or
 * SealedSecret of the user's writes it): found through the Issuers, so no
 * account the cluster uses is left out.
 */
async function readReferencedAccountSecrets(kube: KubeClient, ledgerNamespace: string, labelled: SecretObject[]): Promise<{ referencedAccountSecrets: SecretObject[]; issuerServers: Map<string, string> }> {
  const known = new Set(labelled.map((s) => `${s.metadata.namespace}/${s.metadata.name}`));
  const issuerServers = new Map<string, string>();
  for (const [kind, type] of Object.entries(issuerTypes)) {
    const issuers = (await readApi(kube, `the ${kind}s`, () => kube.list<IssuerLike>(type))).items;
    for (const issuer of issuers) {
      const acme = issuer.spec?.acme;
      const name = acme?.privateKeySecretRef?.name;
      if (typeof name !== 'string' || typeof acme?.server !== 'string') continue;
      const namespace = kind === 'Issuer' ? issuer.metadata.namespace! : ledgerNamespace;
      // Several Issuers sharing one Secret share one account, and one CA: the first one says which.
      if (!issuerServers.has(`${namespace}/${name}`)) issuerServers.set(`${namespace}/${name}`, acme.server);
    }
  }
  const referencedAccountSecrets: SecretObject[] = [];
  for (const ref of issuerServers.keys()) {
    if (known.has(ref)) continue;
    const [namespace, name] = ref.split('/') as [string, string];
    const secret = await readApi(kube, `Secret ${ref}`, () => kube.get<SecretObject>(core.secrets, namespace, name));
    // Absent: the Issuer has no key yet (or waits for one), nothing to keep.
    if (secret) referencedAccountSecrets.push(secret);
  }
  return { referencedAccountSecrets, issuerServers };
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/** Creates the backup Secret, or replaces the previous backup in it; never a Secret that is not a backup. */
async function writeToSecret(kube: KubeClient, backup: Backup, destination: { namespace: string; name: string }): Promise<void> {
  const ref = `${destination.namespace}/${destination.name}`;
  let secret: SecretObject & { type: string };
  try {
    secret = backupSecret(backup, destination.namespace, destination.name);
  } catch (error) {
    if (error instanceof FormatError) throw new CliError(error.message);
    throw error;
  }
  const existing = await readApi(kube, `Secret ${ref}`, () => kube.get<SecretObject>(core.secrets, destination.namespace, destination.name));
  if (existing && existing.metadata.labels?.[LABEL_ACCOUNT_BACKUP] !== 'true') {
    throw new CliError(`Secret ${ref} exists and is not a certkeeper backup (no label ${LABEL_ACCOUNT_BACKUP}=true); it was not changed. Choose another --to-secret`);
  }
  try {
    if (existing) {
      // On the version read: a backup written meanwhile by another run is not overwritten blindly.
      await kube.replace(core.secrets, { ...secret, metadata: { ...secret.metadata, resourceVersion: existing.metadata.resourceVersion } });
    } else {
      await kube.create(core.secrets, secret);
    }
  } catch (error) {
    if (isAlreadyExists(error)) throw new CliError(`Secret ${ref} was created by someone else meanwhile; nothing was written, run the backup again`);
    if (error instanceof ApiError) throw new CliError(`cannot write Secret ${ref}: ${error.message}`);
    throw new CliError(`cannot reach the Kubernetes API server at ${kube.server.origin} (writing Secret ${ref}): ${(error as Error).message}`);
  }
}

/**
 * Writes the backup as a new directory under the destination: into a
 * temporary directory first, renamed when every file is written, so a
 * directory named certkeeper-backup-* is always complete. Returns its path.
 */
function writeToDirectory(backup: Backup, destination: { dir: string; keep: number }): string {
  const final = path.join(destination.dir, backupDirName(backup.takenAt));
  const partialName = partialDirName(backup.takenAt, randomBytes(4).toString('hex'));
  const partial = path.join(destination.dir, partialName);
  try {
    mkdirSync(destination.dir, { recursive: true, mode: 0o700 });
    mkdirSync(partial, { mode: 0o700 });
  } catch (error) {
    throw new CliError(`cannot create ${partial}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    for (const item of backup.items) writeNew(path.join(partial, backupFileName(item)), backupFile(item));
    writeNew(path.join(partial, INDEX_FILE), backupIndex(backup, { files: true }));
    try {
      renameSync(partial, final);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new CliError(code === 'ENOTEMPTY' || code === 'EEXIST' ? `${final} already exists (two backups in one second?); nothing was written` : `cannot rename ${partial} to ${final}: ${code ?? (error as Error).message}`);
    }
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    throw error;
  }
  for (const name of backupsToPrune(readdirSync(destination.dir), destination.keep)) {
    rmSync(path.join(destination.dir, name), { recursive: true, force: true });
  }
  return final;
}

/** Creates a file (0600) that must not exist yet. */
function writeNew(file: string, content: string): void {
  try {
    writeFileSync(file, content, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    throw new CliError(`cannot write ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
