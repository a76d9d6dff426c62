// `certkeeper account import` and `certkeeper account export`: backup, restore and
// migration of ACME account keys. A lost key cannot be registered again with the
// same EAB key (Google Trust Services consumes it on first use), so users need a
// way to copy keys out of the cluster and to bring keys of other clients in.
// `export --format` writes the account Secret for the other clusters of a fleet
// (README, "Running certkeeper on several clusters"); `account register`
// (account-register.ts) lets the one cluster that registers a fleet's key do so;
// `account backup` (account-backup.ts) takes the scheduled backup of every
// account key and the EAB ledger that the chart's CronJob runs.
//
// This file parses the flags and does the I/O (files, the API server); the
// formats themselves are pure functions in account-formats.ts.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_ACCOUNT_KEY_NAME } from '../api/issuer.ts';
import { ANNOTATION, parseAccountSecret } from '../acme/account-protocol.ts';
import { configMaps, LABEL_EAB_LEDGER } from '../acme/eab-ledger.ts';
import { ApiError, core, isAlreadyExists, KubeClient, loadKubeConfig, type KubeObject } from '../kube/client.ts';
import {
  EXPORT_FORMATS, exportedAccountJson, exportNextSteps, externalSecretYaml, FormatError, importedAccountSecret, portableAccountSecret,
  readAcmeSh, readCertbot, readKeyFile, readKeySecret, readLego, secretManifestYaml,
  type ExportFormat, type ExternalSecretOptions, type FileTree, type ImportedAccount,
} from './account-formats.ts';
import { runBackup } from './account-backup.ts';
import { runRegister } from './account-register.ts';

export const ACCOUNT_USAGE = `certkeeper account: back up, restore and migrate ACME account keys

A lost account key cannot be registered again with the same EAB key (Google
Trust Services consumes each key on first use): keep a copy of every account key.

Usage:
  certkeeper account import [flags]     create an account key Secret from an existing account (lego, certbot, acme.sh, cert-manager, PEM)
  certkeeper account export [flags]     write an account key Secret to account.key and account.json, or (--format)
                                        as a Secret manifest, for kubeseal, or as an ExternalSecret for the other clusters of a fleet
  certkeeper account register [flags]   allow this one cluster to register a fleet's EAB key (sharedWithFleet)
  certkeeper account backup --all [flags]  every account key Secret and the EAB ledger (and TLS Secrets) as
                                        manifests kubectl apply restores, to a directory or a Secret

Run "certkeeper account import --help" (or export, register, backup) for the flags.
`;

export const IMPORT_USAGE = `Usage: certkeeper account import --namespace NS --secret NAME --server DIRECTORY_URL SOURCE [--account-url URL] [--email E] [--eab-key-id ID] [--kubeconfig PATH]

Creates the account key Secret NS/NAME from an existing ACME account, marked
certkeeper.io/account-state: imported. The operator uses the account URL when it
is known, otherwise looks the account up by its key (without EAB); it never
registers an imported key. The Secret is created, never updated: if it exists,
nothing is changed.

SOURCE is exactly one of:
  --from-cert-manager-secret NS/NAME  a cert-manager account Secret (PEM under tls.key); read from the cluster
  --from-lego DIR                     lego's root (.lego, with accounts/) or one account directory (with account.json)
  --from-certbot DIR                  certbot's config directory (/etc/letsencrypt) or one account directory (with private_key.json)
  --from-acme-sh DIR                  acme.sh's home (~/.acme.sh, with ca/) or one CA directory (with account.key)
  --key-file PEM                      a PEM private key (RSA or EC), optionally with --account-url

Flags:
  --namespace NS        namespace of the Secret to create (required)
  --secret NAME         name of the Secret to create: the Issuer's spec.acme.privateKeySecretRef.name (required)
  --server URL          the ACME directory URL the account belongs to: the Issuer's spec.acme.server (required)
  --account-url URL     the account URL, when the source does not record it (otherwise the operator looks it up)
  --email E             the account's contact email, when the source does not record it; with --from-lego,
                        chooses among several accounts
  --eab-key-id ID       the EAB key ID the account was registered with, for the record (it is never sent)
  --kubeconfig PATH     kubeconfig to use (default: $KUBECONFIG or ~/.kube/config)
  -h, --help            show this help
`;

export const EXPORT_USAGE = `Usage: certkeeper account export --namespace NS --secret NAME [--out DIR] [--ledger-namespace NS] [--kubeconfig PATH]
       certkeeper account export --namespace NS --secret NAME --format plain|sealed-secret|external-secret [flags]

Writes the account key Secret NS/NAME to DIR/account.key (the PEM key, mode 0600)
and DIR/account.json (server, accountUrl, email, eabKeyId, state and the RFC 7638
thumbprint of the key), and the EAB ledger (every EAB key ID certkeeper claimed or
sent, no secrets) to DIR/eab-ledger.json. Never overwrites existing files. Keep
account.key secret. To restore them later:
  certkeeper account import --namespace NS --secret NAME --server SERVER \\
    --key-file DIR/account.key --account-url ACCOUNT_URL --email EMAIL --eab-key-id EAB_KEY_ID
  kubectl create -n LEDGER_NS -f DIR/eab-ledger.json

With --format, writes the account Secret as another cluster of a fleet takes it
(the same namespace and name, the key, and the annotations that describe the
account: server, account URL, email, EAB key ID, state; never the EAB ledger,
which each cluster keeps for itself). certkeeper there adopts it without sending
the EAB key. A pending Secret (not registered yet) is refused.
  plain            the Secret manifest (YAML), to stdout or DIR/account-secret.yaml:
                   kubectl apply -f it in the other cluster, or encrypt it with SOPS
  sealed-secret    the same manifest, to pipe to kubeseal (which is not run here)
  external-secret  an ExternalSecret (external-secrets.io/v1), to stdout or
                   DIR/external-secret.yaml, that recreates the Secret from your
                   secret store; the key goes to DIR/account.key (mode 0600) for you
                   to put into the store at --remote-key. The manifest holds no key.

Flags:
  --namespace NS        namespace of the account key Secret (required)
  --secret NAME         name of the account key Secret (required)
  --out DIR             directory to write to (default: the current directory; created if missing;
                        with --format plain or sealed-secret: stdout unless --out is given)
  --ledger-namespace NS where the operator keeps the EAB ledger: its cluster resource namespace (default certkeeper)
  --format F            plain, sealed-secret or external-secret (see above)
  --secret-store NAME   external-secret: the SecretStore or ClusterSecretStore to read from (required)
  --secret-store-kind K external-secret: ClusterSecretStore (default) or SecretStore
  --remote-key KEY      external-secret: where the key is in the store (required)
  --remote-property P   external-secret: the field of that entry holding the key (stores with structured entries, e.g. Vault KV)
  --kubeconfig PATH     kubeconfig to use (default: $KUBECONFIG or ~/.kube/config)
  -h, --help            show this help
`;

/** A mistake in the command line: exit code 2. */
class AccountUsageError extends Error {}

/** A failure to do what was asked (bad input file, existing Secret, API error): exit code 1. */
class AccountCommandError extends Error {}

export interface AccountIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  cwd: string;
}

const processIo: AccountIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  cwd: process.cwd(),
};

/** Runs `certkeeper account ...`; returns the exit code. */
export async function runAccount(args: string[], io: AccountIo = processIo): Promise<number> {
  const [sub, ...rest] = args;
  const command = sub === 'import' || sub === 'export' ? `certkeeper account ${sub}` : 'certkeeper account';
  try {
    switch (sub) {
      case 'import':
        return await runImport(rest, io);
      case 'export':
        return await runExport(rest, io);
      case 'register':
        return await runRegister(rest, { stdout: io.stdout, stderr: io.stderr, now: () => new Date() });
      case 'backup':
        return await runBackup(rest, { stdout: io.stdout, stderr: io.stderr, now: () => new Date(), cwd: io.cwd });
      case '--help':
      case '-h':
      case 'help':
        io.stdout(ACCOUNT_USAGE);
        return 0;
      case undefined:
        io.stderr(ACCOUNT_USAGE);
        return 2;
      default:
        throw new AccountUsageError(`unknown command "${sub}": expected import, export, register or backup`);
    }
  } catch (error) {
    if (error instanceof AccountUsageError) {
      io.stderr(`${command}: ${error.message}\nRun "${command} --help" for usage.\n`);
      return 2;
    }
    // Messages are built to be printable: they name files and Secrets, never key material.
    io.stderr(`${command}: ${(error as Error).message}\n`);
    return 1;
  }
}

// ---------------------------------------------------------------------------
// Flags
// ---------------------------------------------------------------------------

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/; // the Issuer CRD's rule

type Values = Record<string, string | boolean | undefined>;

function parseFlags(args: string[], names: string[]): Values {
  const options = Object.fromEntries(names.map((name) => [name, { type: 'string' as const }]));
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new AccountUsageError((error as Error).message);
  }
}

function optional(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function required(values: Values, name: string): string {
  const value = optional(values, name);
  if (value === undefined) throw new AccountUsageError(`--${name} is required`);
  return value;
}

function checkNames(namespace: string, secret: string): void {
  if (namespace.length > 63 || !NAMESPACE.test(namespace)) throw new AccountUsageError(`--namespace "${namespace}" is not a valid namespace name`);
  if (secret.length > 253 || !SECRET_NAME.test(secret)) throw new AccountUsageError(`--secret "${secret}" is not a valid Secret name`);
}

function httpsUrl(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new AccountUsageError(`--${flag} "${value}" is not a URL`);
  }
  if (url.protocol !== 'https:') throw new AccountUsageError(`--${flag} must be an https:// URL`);
  return value;
}

// ---------------------------------------------------------------------------
// I/O
// ---------------------------------------------------------------------------

function fileProblem(file: string, error: unknown): FormatError {
  const code = (error as NodeJS.ErrnoException).code;
  return new FormatError(`cannot read ${file}: ${code === 'EACCES' ? 'permission denied' : code ?? (error as Error).message}`);
}

/** The real file system as a FileTree: missing files and directories read as undefined. */
const fileSystem: FileTree = {
  read(file) {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      if (['ENOENT', 'ENOTDIR', 'EISDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return undefined;
      throw fileProblem(file, error);
    }
  },
  list(dir) {
    try {
      return readdirSync(dir);
    } catch (error) {
      if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return undefined;
      throw fileProblem(dir, error);
    }
  },
};

async function connect(kubeconfig: string | undefined): Promise<KubeClient> {
  try {
    return await KubeClient.fromKubeConfig(loadKubeConfig(kubeconfig), { fieldManager: 'certkeeper-cli', userAgent: 'certkeeper-cli' });
  } catch (error) {
    throw new AccountCommandError(`cannot load the kubeconfig: ${(error as Error).message}`);
  }
}

/** Runs one API call, turning network failures into a message that names the server. */
async function api<T>(kube: KubeClient, what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new AccountCommandError(`cannot reach the Kubernetes API server at ${kube.server.origin} (${what}): ${(error as Error).message}`);
  }
}

interface SecretObject extends KubeObject {
  data?: Record<string, string>;
}

// ---------------------------------------------------------------------------
// import
// ---------------------------------------------------------------------------

const SOURCES = ['from-cert-manager-secret', 'from-lego', 'from-certbot', 'from-acme-sh', 'key-file'] as const;

async function runImport(args: string[], io: AccountIo): Promise<number> {
  const values = parseFlags(args, ['namespace', 'secret', 'server', ...SOURCES, 'account-url', 'email', 'eab-key-id', 'kubeconfig']);
  if (values.help) {
    io.stdout(IMPORT_USAGE);
    return 0;
  }
  const namespace = required(values, 'namespace');
  const name = required(values, 'secret');
  checkNames(namespace, name);
  const server = httpsUrl(required(values, 'server'), 'server')!;
  const accountUrlFlag = httpsUrl(optional(values, 'account-url'), 'account-url');
  const email = optional(values, 'email');
  if (email !== undefined && !EMAIL.test(email)) throw new AccountUsageError(`--email "${email}" is not an email address`);
  const given = SOURCES.filter((source) => optional(values, source) !== undefined);
  if (given.length !== 1) {
    throw new AccountUsageError(given.length === 0
      ? `a source is required: one of ${SOURCES.map((s) => `--${s}`).join(', ')}`
      : `give one source, not ${given.map((s) => `--${s}`).join(' and ')}`);
  }
  const source = given[0]!;
  const from = path.resolve(io.cwd, optional(values, source)!);
  let cmRef: { namespace: string; name: string } | undefined;
  if (source === 'from-cert-manager-secret') {
    const [ns, secretName, extra] = optional(values, source)!.split('/');
    if (!ns || !secretName || extra !== undefined) throw new AccountUsageError('--from-cert-manager-secret must be NAMESPACE/NAME');
    cmRef = { namespace: ns, name: secretName };
  }

  // Read the source before touching the cluster's Secret: a bad file changes nothing.
  let kube: KubeClient | undefined;
  try {
    let account: ImportedAccount;
    switch (source) {
      case 'from-lego':
        account = readLego(fileSystem, from, { server, email });
        break;
      case 'from-certbot':
        account = readCertbot(fileSystem, from, { server });
        break;
      case 'from-acme-sh':
        account = readAcmeSh(fileSystem, from, { server });
        break;
      case 'key-file':
        account = readKeyFile(fileSystem.read(from), from);
        break;
      case 'from-cert-manager-secret': {
        kube = await connect(optional(values, 'kubeconfig'));
        const client = kube;
        const secret = await api(kube, 'reading the source Secret', () => client.get<SecretObject>(core.secrets, cmRef!.namespace, cmRef!.name));
        account = readKeySecret(secret, `${cmRef!.namespace}/${cmRef!.name}`, { server });
        break;
      }
    }
    account = withFlags(account, { accountUrl: accountUrlFlag, email, eabKeyId: optional(values, 'eab-key-id') });

    kube ??= await connect(optional(values, 'kubeconfig'));
    const client = kube;
    const secret = importedAccountSecret({ namespace, name, server, account });
    try {
      await api(kube, 'creating the Secret', () => client.create(core.secrets, secret));
    } catch (error) {
      if (isAlreadyExists(error)) {
        throw new AccountCommandError(`Secret ${namespace}/${name} already exists; import never overwrites an account key, nothing was changed. `
          + 'Choose another --secret, or (after exporting it with "certkeeper account export") delete the existing Secret yourself.');
      }
      if (error instanceof ApiError) throw new AccountCommandError(`cannot create Secret ${namespace}/${name}: ${error.message}`);
      throw error;
    }
    io.stdout(importSummary(namespace, name, server, account));
    return 0;
  } finally {
    kube?.close();
  }
}

/** Adds what the flags say, refusing a flag that contradicts the source's own record. */
function withFlags(account: ImportedAccount, flags: { accountUrl?: string; email?: string; eabKeyId?: string }): ImportedAccount {
  const result = { ...account };
  if (flags.accountUrl) {
    if (account.accountUrl && account.accountUrl !== flags.accountUrl) {
      throw new AccountCommandError(`--account-url ${flags.accountUrl} differs from the account URL ${account.accountUrl} that ${account.source} records; leave --account-url out`);
    }
    result.accountUrl = flags.accountUrl;
  }
  if (flags.email) {
    // The annotation must be the contact the CA has: the operator updates the contact when spec.acme.email differs.
    if (account.email && account.email !== flags.email) {
      throw new AccountCommandError(`--email ${flags.email} differs from the email ${account.email} that ${account.source} records; leave --email out (set spec.acme.email to change the contact)`);
    }
    result.email = flags.email;
  }
  if (flags.eabKeyId) {
    if (account.eabKeyId && account.eabKeyId !== flags.eabKeyId) {
      throw new AccountCommandError(`--eab-key-id ${flags.eabKeyId} differs from the EAB key ID ${account.eabKeyId} that ${account.source} records; leave --eab-key-id out`);
    }
    result.eabKeyId = flags.eabKeyId;
  }
  return result;
}

function importSummary(namespace: string, name: string, server: string, account: ImportedAccount): string {
  const lines = [
    `Created Secret ${namespace}/${name} (${ANNOTATION.state}: imported)`,
    `  from:        ${account.source}`,
    `  key:         ${account.keyFile} (${account.keyType}, thumbprint ${account.thumbprint})`,
    `  server:      ${server}`,
    `  account URL: ${account.accountUrl ?? 'not recorded; the operator looks the account up by its key, without EAB'}`,
    `  email:       ${account.email ?? 'not recorded'}`,
    ...(account.eabKeyId ? [`  EAB key ID:  ${account.eabKeyId}`] : []),
    ...account.notes.map((note) => `note: ${note}`),
    `Point an Issuer at it with spec.acme.server: ${server} and spec.acme.privateKeySecretRef.name: ${name}.`,
    'certkeeper never registers an imported key: if the CA does not know it, the Issuer reports AccountNotFound.',
  ];
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------
// export
// ---------------------------------------------------------------------------

const EXTERNAL_SECRET_FLAGS = ['secret-store', 'secret-store-kind', 'remote-key', 'remote-property'] as const;

async function runExport(args: string[], io: AccountIo): Promise<number> {
  const values = parseFlags(args, ['namespace', 'secret', 'out', 'kubeconfig', 'ledger-namespace', 'format', ...EXTERNAL_SECRET_FLAGS]);
  if (values.help) {
    io.stdout(EXPORT_USAGE);
    return 0;
  }
  const format = optional(values, 'format');
  if (format !== undefined) return runFormattedExport(values, format, io);
  for (const flag of EXTERNAL_SECRET_FLAGS) if (optional(values, flag) !== undefined) throw new AccountUsageError(`--${flag} goes with --format external-secret`);
  const ledgerNamespace = optional(values, 'ledger-namespace') ?? 'certkeeper';
  const namespace = required(values, 'namespace');
  const name = required(values, 'secret');
  checkNames(namespace, name);
  const out = path.resolve(io.cwd, optional(values, 'out') ?? '.');
  const keyFile = path.join(out, 'account.key');
  const jsonFile = path.join(out, 'account.json');
  const ledgerFile = path.join(out, 'eab-ledger.json');
  // Checked before reading the Secret, and again by the exclusive create below.
  const existing = [keyFile, jsonFile, ledgerFile].filter((file) => existsSync(file));
  if (existing.length) throw new AccountCommandError(`${existing.join(' and ')} already exist${existing.length === 1 ? 's' : ''}; export never overwrites, nothing was written. Choose another --out.`);

  const kube = await connect(optional(values, 'kubeconfig'));
  let secretObject: SecretObject | undefined;
  let ledger: object[];
  try {
    secretObject = await api(kube, 'reading the Secret', () => kube.get<SecretObject>(core.secrets, namespace, name));
    ledger = await api(kube, 'reading the EAB ledger', () => kube.list(configMaps, { namespace: ledgerNamespace, labelSelector: `${LABEL_EAB_LEDGER}=true` }))
      .then((list) => list.items.map(portableLedgerEntry));
  } catch (error) {
    if (error instanceof ApiError) throw new AccountCommandError(`cannot read ${secretObject === undefined ? `Secret ${namespace}/${name}` : `the EAB ledger in namespace ${ledgerNamespace}`}: ${error.message}`);
    throw error;
  } finally {
    kube.close();
  }
  if (!secretObject) throw new AccountCommandError(`Secret ${namespace}/${name} not found`);
  const secret = parseAccountSecret(secretObject, DEFAULT_ACCOUNT_KEY_NAME);
  if (secret.kind !== 'present') throw new AccountCommandError(`Secret ${namespace}/${name} ${secret.kind === 'invalid' ? secret.problem : 'not found'}; nothing was written`);

  mkdirSync(out, { recursive: true, mode: 0o700 });
  const written: string[] = [];
  try {
    for (const [file, content, mode] of [
      [keyFile, secret.keyPem, 0o600],
      [jsonFile, exportedAccountJson(secret), 0o644],
      [ledgerFile, `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: ledger }, null, 2)}\n`, 0o644],
    ] as const) {
      writeExclusive(file, content, mode);
      written.push(file);
    }
  } catch (error) {
    // All or nothing: remove what this run created a moment ago.
    for (const file of written) rmSync(file, { force: true });
    throw error;
  }
  io.stdout([
    `Wrote ${keyFile} (private key, mode 0600; keep it secret) and ${jsonFile}`,
    `  Secret:      ${namespace}/${name} (${ANNOTATION.state}: ${secret.state})`,
    `  server:      ${secret.server ?? 'not recorded'}`,
    `  account URL: ${secret.accountUrl ?? 'not recorded'}`,
    `  email:       ${secret.email ?? 'not recorded'}`,
    `  thumbprint:  ${secret.thumbprint}`,
    `  EAB ledger:  ${ledger.length} entr${ledger.length === 1 ? 'y' : 'ies'} from namespace ${ledgerNamespace} in ${ledgerFile}`,
    '',
  ].join('\n'));
  return 0;
}

/** Reads the account Secret to export; every failure names it. */
async function readAccountSecret(kubeconfig: string | undefined, namespace: string, name: string): Promise<SecretObject> {
  const kube = await connect(kubeconfig);
  try {
    const secret = await api(kube, 'reading the Secret', () => kube.get<SecretObject>(core.secrets, namespace, name));
    if (!secret) throw new AccountCommandError(`Secret ${namespace}/${name} not found`);
    return secret;
  } catch (error) {
    if (error instanceof ApiError) throw new AccountCommandError(`cannot read Secret ${namespace}/${name}: ${error.message}`);
    throw error;
  } finally {
    kube.close();
  }
}

/**
 * `export --format`: the account Secret for another cluster of a fleet. The
 * manifest goes to stdout (or DIR with --out); the key of an ExternalSecret
 * goes to a file of its own (0600), never into the manifest.
 */
async function runFormattedExport(values: Values, formatFlag: string, io: AccountIo): Promise<number> {
  if (!(EXPORT_FORMATS as readonly string[]).includes(formatFlag)) throw new AccountUsageError(`--format "${formatFlag}" is not one of ${EXPORT_FORMATS.join(', ')}`);
  const format = formatFlag as ExportFormat;
  if (optional(values, 'ledger-namespace') !== undefined) {
    throw new AccountUsageError('--ledger-namespace does not go with --format: the EAB ledger stays in its cluster (export it without --format for a backup)');
  }
  const namespace = required(values, 'namespace');
  const name = required(values, 'secret');
  checkNames(namespace, name);
  let store: ExternalSecretOptions['store'] | undefined;
  let remoteKey: string | undefined;
  const remoteProperty = optional(values, 'remote-property');
  if (format === 'external-secret') {
    const kind = optional(values, 'secret-store-kind') ?? 'ClusterSecretStore';
    if (kind !== 'ClusterSecretStore' && kind !== 'SecretStore') throw new AccountUsageError(`--secret-store-kind must be ClusterSecretStore or SecretStore, not "${kind}"`);
    store = { name: required(values, 'secret-store'), kind };
    remoteKey = required(values, 'remote-key');
  } else {
    for (const flag of EXTERNAL_SECRET_FLAGS) if (optional(values, flag) !== undefined) throw new AccountUsageError(`--${flag} goes with --format external-secret`);
  }
  const outFlag = optional(values, 'out');
  const out = path.resolve(io.cwd, outFlag ?? '.');
  const manifestFile = outFlag === undefined ? undefined : path.join(out, format === 'external-secret' ? 'external-secret.yaml' : 'account-secret.yaml');
  const keyFile = format === 'external-secret' ? path.join(out, 'account.key') : undefined;
  const targets = [manifestFile, keyFile].filter((file): file is string => file !== undefined);
  // Checked before reading the Secret, and again by the exclusive create below.
  const existing = targets.filter((file) => existsSync(file));
  if (existing.length) throw new AccountCommandError(`${existing.join(' and ')} already exist${existing.length === 1 ? 's' : ''}; export never overwrites, nothing was written. Choose another --out.`);

  const secretObject = await readAccountSecret(optional(values, 'kubeconfig'), namespace, name);
  const account = parseAccountSecret(secretObject, DEFAULT_ACCOUNT_KEY_NAME);
  if (account.kind !== 'present') throw new AccountCommandError(`Secret ${namespace}/${name} ${account.kind === 'invalid' ? account.problem : 'not found'}; nothing was written`);
  const portable = portableAccountSecret({ namespace, name, keyName: DEFAULT_ACCOUNT_KEY_NAME, account });
  const manifest = format === 'external-secret'
    ? externalSecretYaml({ secret: portable, keyName: DEFAULT_ACCOUNT_KEY_NAME, store: store!, remoteKey: remoteKey!, ...(remoteProperty ? { remoteProperty } : {}) })
    : secretManifestYaml(portable, format);

  if (targets.length) mkdirSync(out, { recursive: true, mode: 0o700 });
  const written: string[] = [];
  try {
    if (keyFile) {
      writeExclusive(keyFile, account.keyPem, 0o600);
      written.push(keyFile);
    }
    if (manifestFile) {
      // A plain or sealed-secret manifest holds the key: as private as the key file.
      writeExclusive(manifestFile, manifest, format === 'external-secret' ? 0o644 : 0o600);
      written.push(manifestFile);
    }
  } catch (error) {
    for (const file of written) rmSync(file, { force: true });
    throw error;
  }
  if (!manifestFile) io.stdout(manifest);
  io.stderr(exportNextSteps({
    format, secret: portable, ...(manifestFile ? { manifestFile } : {}), ...(keyFile ? { keyFile } : {}),
    ...(store ? { store } : {}), ...(remoteKey ? { remoteKey } : {}), ...(remoteProperty ? { remoteProperty } : {}),
  }));
  return 0;
}

/** A ledger ConfigMap as \`kubectl create -f\` takes it back (no uid, resourceVersion or managed fields). */
function portableLedgerEntry(object: KubeObject & { data?: Record<string, string> }): object {
  const { name, labels, annotations } = object.metadata;
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels, annotations }, data: object.data };
}

/** Creates a file that must not exist yet (flag wx: no overwrite, even in a race). */
function writeExclusive(file: string, content: string, mode: number): void {
  try {
    writeFileSync(file, content, { flag: 'wx', mode });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new AccountCommandError(`${file} already exists; export never overwrites`);
    throw new AccountCommandError(`cannot write ${file}: ${code ?? (error as Error).message}`);
  }
}
