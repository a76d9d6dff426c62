// Disaster recovery, end to end (README, "Disaster recovery: restore drill").
// Cluster A is the shared test environment: a GTS-like EAB Issuer with three
// Certificates issued over HTTP-01, and a fleet Issuer (sharedWithFleet)
// registered there. The backup is taken with the chart's CronJob command, as
// the CronJob's ServiceAccount under the chart's RBAC, to a directory (with the
// TLS Secrets) and to a Secret (accounts and ledger only). Then cluster A is
// gone: each restore is a fresh control plane B with its own operator, the
// same Git manifests and the backup. The CA's journal and order list are the
// witnesses: the same account URL and 0 EAB sends; 0 new orders for
// certificates whose TLS Secrets were restored, exactly 1 for the one left
// out; with sharedWithFleet or disableAccountKeyGeneration in Git, an
// operator and Issuers that come before the backup send nothing; without
// them, an Issuer before the backup spends the key (the 403 in the journal).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { load, loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANNOTATION } from '../src/acme/account-protocol.ts';
import { ledgerEntryName } from '../src/acme/eab-ledger.ts';
import { certificates } from '../src/api/certificate.ts';
import { API_VERSION } from '../src/api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { chartDir } from '../scripts/render-manifests.ts';
import {
  applyFromGit, cli, eabSends, kubectlOn, readyOf, startCluster, startControlPlaneWithCrds, waitForReason,
  type Cluster, type IssuerObject,
} from './clusters.ts';
import { getOrders, mintEabKey } from './env/ca-client.ts';
import { kubeconfigYaml } from './env/controlplane.ts';
import type { EabKey } from './env/gts-proxy.ts';
import { createNamespace, env, kubeClient, kubectl, waitFor } from './helpers.ts';
import { startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const run = promisify(execFile);

interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}
interface CertificateObject extends KubeObject {
  status?: { conditions?: { type: string; status: string; reason: string; observedGeneration?: number }[]; revision?: number };
}

const SOLVERS = [{ http01: { ingress: { ingressClassName: 'nginx' } } }];

/** One namespace of Git: an EAB Issuer `gts` and (for the first drill) Certificates, each into `<name>-tls`. */
interface GitNamespace {
  namespace: string;
  eab: EabKey;
  /** Certificate name → its DNS names. */
  certificates: Record<string, string[]>;
}

let workDir: string;
let kubeA: KubeClient;
let a: Cluster;
/** A's cluster resource namespace: the chart values in Git give B the same. */
let ledgerNamespace: string;
let release: string;
/** The first drill: the Issuer without sharedWithFleet, and three Certificates. */
let drill: GitNamespace;
/** The fleet Issuer (sharedWithFleet), registered on A with `certkeeper account register`. */
let fleet: GitNamespace;
let accountUrl: string;
let fleetAccountUrl: string;
/** What A's TLS Secrets held: certificate name → tls.crt. */
const issuedOnA = new Map<string, string>();
/** The backup the volume destination wrote (with TLS Secrets), and the one the Secret destination holds. */
let backupDir: string;
let secretBackupYaml: string;
let secretBackupIndex: string;

const unique = () => randomBytes(3).toString('hex');
const dnsName = (label: string) => `${label}-${unique()}.${env().dns.zone}`;

beforeAll(async () => {
  workDir = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-restore-'));
  kubeA = await kubeClient();
  ledgerNamespace = await createNamespace(kubeA, 'restore-system');
  release = `certkeeper-drill-${unique()}`;
  // Cluster A's operator answers HTTP-01 (Pebble validates on one port): stopped before any B starts.
  const operator = await startOperatorProcess({ clusterResourceNamespace: ledgerNamespace });
  a = { name: 'A', kubeconfig: env().kubeconfig, kube: kubeA, ledgerNamespace, operator };

  drill = {
    namespace: await createNamespace(kubeA, 'drill'),
    eab: await mintEabKey(env().acme.managementUrl),
    certificates: { web: [dnsName('web')], api: [dnsName('api'), dnsName('api2')], mail: [dnsName('mail')] },
  };
  await applyGit(a, drill);
  accountUrl = (await waitForReason(a, drill.namespace, 'AccountReady')).status!.acme!.uri!;
  for (const name of Object.keys(drill.certificates)) {
    await waitForCertificateReady(a, drill.namespace, name);
    issuedOnA.set(name, (await kubeA.get<SecretObject>(core.secrets, drill.namespace, `${name}-tls`))!.data!['tls.crt']!);
  }
  expect(await eabSends(drill.eab.keyId)).toEqual([201]);
  expect(await ordersFor(drill)).toEqual({ web: 1, api: 1, mail: 1 });

  fleet = { namespace: await createNamespace(kubeA, 'drill-fleet'), eab: await mintEabKey(env().acme.managementUrl), certificates: {} };
  await applyFromGit(a, fleet.namespace, fleet.eab, true);
  await waitForReason(a, fleet.namespace, 'FleetAccountMissing');
  const registered = await cli(a, ['account', 'register', '--namespace', fleet.namespace, '--issuer', 'gts'], workDir);
  expect(registered.code, registered.stderr).toBe(0);
  fleetAccountUrl = (await waitForReason(a, fleet.namespace, 'AccountReady')).status!.acme!.uri!;
  expect(await eabSends(fleet.eab.keyId)).toEqual([201]);

  await takeBackups();
  // Cluster A is gone.
  await a.operator.stop();
});

afterAll(async () => {
  await a?.operator.stop();
  // Cluster-scoped, so not cleaned up with a namespace.
  await kubectl(['delete', '--ignore-not-found', 'clusterrolebinding', `${release}-account-backup`]).catch(() => undefined);
  await kubectl(['delete', '--ignore-not-found', 'clusterrole', `${release}-account-backup`]).catch(() => undefined);
  kubeA?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** Git's manifests for one namespace: the EAB Secret, the Issuer, the Certificates. */
async function applyGit(cluster: Cluster, git: GitNamespace, { sharedWithFleet = false } = {}): Promise<void> {
  await applyFromGit(cluster, git.namespace, git.eab, sharedWithFleet, { solvers: SOLVERS });
  for (const [name, dnsNames] of Object.entries(git.certificates)) {
    await cluster.kube.create(certificates, {
      apiVersion: API_VERSION, kind: 'Certificate', metadata: { name, namespace: git.namespace },
      spec: { secretName: `${name}-tls`, issuerRef: { name: 'gts' }, dnsNames },
    } as KubeObject);
  }
}

async function waitForCertificateReady(cluster: Cluster, namespace: string, name: string): Promise<CertificateObject> {
  let last = '';
  try {
    return await waitFor(`Certificate ${namespace}/${name} on cluster ${cluster.name} to be Ready`, async () => {
      const certificate = await cluster.kube.get<CertificateObject>(certificates, namespace, name);
      const ready = certificate?.status?.conditions?.find((c) => c.type === 'Ready');
      last = JSON.stringify(certificate?.status?.conditions ?? []);
      return ready?.status === 'True' && ready.observedGeneration === certificate!.metadata.generation ? certificate : undefined;
    }, { timeoutMs: 90_000 });
  } catch (error) {
    throw new Error(`${(error as Error).message}; last conditions: ${last}`);
  }
}

/** How many orders the CA saw for each Certificate's names. */
async function ordersFor(git: GitNamespace): Promise<Record<string, number>> {
  const orders = await getOrders(env().acme.managementUrl);
  return Object.fromEntries(Object.entries(git.certificates).map(([name, dnsNames]) => [name,
    orders.filter((order) => order.identifiers.some((id) => dnsNames.includes(id.value))).length]));
}

/** The CronJob's container arguments, from the chart rendered for this release. */
async function cronJobArgs(accountBackup: object): Promise<string[]> {
  const manifests = await renderBackup(accountBackup);
  const cronJob = manifests.find((m) => m.kind === 'CronJob') as KubeObject & { spec: { jobTemplate: { spec: { template: { spec: { containers: { args: string[] }[] } } } } } };
  return cronJob.spec.jobTemplate.spec.template.spec.containers[0]!.args;
}

async function renderBackup(accountBackup: object): Promise<KubeObject[]> {
  const values = path.join(workDir, `values-${unique()}.json`);
  writeFileSync(values, JSON.stringify({ clusterResourceNamespace: ledgerNamespace, accountBackup: { enabled: true, ...accountBackup } }));
  const { stdout } = await run(path.join(env().binDir, 'helm'), [
    'template', release, chartDir, '--namespace', ledgerNamespace, '--kube-version', env().kubernetesVersion, '-f', values, '--show-only', 'templates/account-backup.yaml',
  ]);
  return (loadAll(stdout) as (KubeObject | null)[]).filter((m): m is KubeObject => m !== null);
}

/**
 * Both backups, each with the CronJob's own command, run as the CronJob's
 * ServiceAccount with only the chart's RBAC (the CronJob itself is not
 * applied: nothing here runs Jobs).
 */
async function takeBackups(): Promise<void> {
  const toVolume = { destination: 'volume', volume: { persistentVolumeClaim: { claimName: 'certkeeper-backup' } }, includeTlsSecrets: true };
  const toSecret = {};
  const rbac = [...await renderBackup(toVolume), ...await renderBackup(toSecret)].filter((m) => m.kind !== 'CronJob');
  await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac }));
  const serviceAccount = `${release}-account-backup`;
  const token = (await kubectl(['create', 'token', serviceAccount, '-n', ledgerNamespace, '--duration', '1h'])).stdout.trim();
  const asBackup = { kubeconfig: path.join(workDir, 'backup-kubeconfig') };
  writeFileSync(asBackup.kubeconfig, kubeconfigYaml(kubeA.server.origin, Buffer.from(kubeA.certificateAuthority!), serviceAccount, token), { mode: 0o600 });

  // Destination volume: the CronJob writes under its mount /backup; here, a directory of the test.
  const volumeArgs = await cronJobArgs(toVolume);
  expect(volumeArgs).toEqual(['account', 'backup', '--all', `--ledger-namespace=${ledgerNamespace}`, '--include-tls-secrets', '--out=/backup', '--keep=30']);
  const mount = path.join(workDir, 'volume');
  const toDir = await cli(asBackup, volumeArgs.map((arg) => (arg === '--out=/backup' ? `--out=${mount}` : arg)), workDir);
  expect(toDir.code, toDir.stderr).toBe(0);
  const written = readdirSync(mount);
  expect(written).toHaveLength(1);
  expect(written[0]).toMatch(/^certkeeper-backup-\d{8}T\d{6}Z$/);
  backupDir = path.join(mount, written[0]!);
  expect(toDir.stdout).toContain(`to ${backupDir}.`);

  // Destination secret, run twice: created, then replaced (update, allowed on that one Secret only).
  const secretArgs = await cronJobArgs(toSecret);
  const secretName = `${release}-account-backup`;
  expect(secretArgs).toEqual(['account', 'backup', '--all', `--ledger-namespace=${ledgerNamespace}`, `--to-secret=${ledgerNamespace}/${secretName}`]);
  for (let round = 0; round < 2; round++) {
    const toSecretRun = await cli(asBackup, secretArgs, workDir);
    expect(toSecretRun.code, toSecretRun.stderr).toBe(0);
    expect(toSecretRun.stdout).toContain(`to Secret ${ledgerNamespace}/${secretName}.`);
  }
  const secret = (await kubeA.get<SecretObject>(core.secrets, ledgerNamespace, secretName))!;
  expect(secret.metadata.labels).toMatchObject({ 'certkeeper.io/account-backup': 'true' });
  secretBackupYaml = Buffer.from(secret.data!['backup.yaml']!, 'base64').toString();
  secretBackupIndex = Buffer.from(secret.data!['index.txt']!, 'base64').toString();
}

/** The namespaces a backup's index says a restore needs. */
function indexNamespaces(index: string): string[] {
  return index.split('\n').find((line) => line.startsWith('namespaces\t'))!.split('\t')[1]!.split(' ').filter(Boolean);
}

/** Step 1 of the drill: the namespaces the backup needs (Git would make them; here, from the index). */
async function createNamespaces(cluster: Cluster, index: string): Promise<void> {
  for (const name of indexNamespaces(index)) {
    if (!await cluster.kube.get(core.namespaces, undefined, name)) await cluster.kube.create(core.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }
}

/**
 * A new cluster B: its own control plane and its own operator (answering
 * HTTP-01), installed from Git with the same cluster resource namespace.
 * Stopped and removed after use.
 */
async function withNewCluster(name: string, use: (b: Cluster) => Promise<void>): Promise<void> {
  const plane = await startControlPlaneWithCrds(path.join(workDir, name));
  let b: Cluster | undefined;
  try {
    b = await startCluster(name, plane.kubeconfig, ledgerNamespace, { answerHttp01: true });
    await use(b);
  } finally {
    await b?.operator.stop();
    b?.kube.close();
    await plane.stop();
  }
}

async function tlsCrt(cluster: Cluster, namespace: string, name: string): Promise<string | undefined> {
  return (await cluster.kube.get<SecretObject>(core.secrets, namespace, `${name}-tls`))?.data?.['tls.crt'];
}

// ---------------------------------------------------------------------------
// The backup
// ---------------------------------------------------------------------------

describe('the backup the CronJob takes', () => {
  it('holds every account key as registered, without send marks, the EAB ledger and the TLS Secrets, one file (0600) per object and an index', () => {
    expect(statSync(backupDir).mode & 0o777).toBe(0o700);
    const files = readdirSync(backupDir);
    for (const file of files) expect(statSync(path.join(backupDir, file)).mode & 0o777, file).toBe(0o600);
    expect(files).toContain('index.txt');
    expect(files.filter((f) => !f.endsWith('.yaml') && f !== 'index.txt')).toEqual([]);
    // kubectl reads a directory in name order: ledger, then TLS Secrets, then account keys.
    expect(new Set(files.filter((f) => f.endsWith('.yaml')).map((f) => f.split('.')[0]))).toEqual(new Set(['10-eab-ledger', '20-tls-secret', '30-account-key']));

    const account = load(readFileSync(path.join(backupDir, `30-account-key.${drill.namespace}.account-key.yaml`), 'utf8')) as SecretObject;
    expect(account.metadata).toEqual({
      name: 'account-key', namespace: drill.namespace,
      labels: { 'certkeeper.io/account-key': 'true', 'app.kubernetes.io/managed-by': 'certkeeper' },
      annotations: {
        [ANNOTATION.state]: 'registered', [ANNOTATION.server]: env().acme.directoryUrl, [ANNOTATION.accountUrl]: accountUrl,
        [ANNOTATION.eabKeyId]: drill.eab.keyId, [ANNOTATION.email]: 'platform@example.com',
      },
    });
    for (const git of [drill, fleet]) {
      const entry = load(readFileSync(path.join(backupDir, `10-eab-ledger.${ledgerNamespace}.${ledgerEntryName(git.eab.keyId)}.yaml`), 'utf8')) as KubeObject & { data: Record<string, string> };
      expect(entry.metadata.namespace).toBe(ledgerNamespace);
      expect(entry.metadata.uid).toBeUndefined();
      expect(entry.data).toMatchObject({ keyID: git.eab.keyId, outcome: 'registered', accountSecret: `${git.namespace}/account-key`, sends: '1' });
    }
    for (const name of Object.keys(drill.certificates)) {
      const tls = load(readFileSync(path.join(backupDir, `20-tls-secret.${drill.namespace}.${name}-tls.yaml`), 'utf8')) as SecretObject;
      expect(tls.type).toBe('kubernetes.io/tls');
      expect(tls.data!['tls.crt']).toBe(issuedOnA.get(name));
      expect(tls.metadata.annotations).toMatchObject({ 'certkeeper.io/certificate-name': name });
      expect(tls.metadata.annotations).not.toHaveProperty('certkeeper.io/certificate-uid');
    }
    const index = readFileSync(path.join(backupDir, 'index.txt'), 'utf8');
    expect(indexNamespaces(index)).toEqual(expect.arrayContaining([drill.namespace, fleet.namespace, ledgerNamespace]));
    expect(index).toContain(`account-key\t${drill.namespace}/account-key\t30-account-key.${drill.namespace}.account-key.yaml\tregistered: ${accountUrl}, EAB key ID ${drill.eab.keyId}`);
  });

  it('keeps the same accounts and ledger in the Secret, as one YAML in restore order, without TLS Secrets (the chart\'s default)', () => {
    const documents = (loadAll(secretBackupYaml) as (SecretObject | null)[]).filter((d): d is SecretObject => d !== null);
    const kinds = documents.map((d) => (d.kind === 'ConfigMap' ? 'ledger' : d.type === 'kubernetes.io/tls' ? 'tls' : 'account'));
    expect(kinds).not.toContain('tls');
    expect(kinds.indexOf('account')).toBeGreaterThan(kinds.lastIndexOf('ledger'));
    const accountKey = (ns: string) => documents.find((d) => d.kind === 'Secret' && d.metadata.namespace === ns && d.metadata.name === 'account-key');
    expect(accountKey(fleet.namespace)?.metadata.annotations).toMatchObject({ [ANNOTATION.state]: 'registered', [ANNOTATION.accountUrl]: fleetAccountUrl });
    expect(accountKey(drill.namespace)).toEqual(load(readFileSync(path.join(backupDir, `30-account-key.${drill.namespace}.account-key.yaml`), 'utf8')));
    for (const document of documents) expect(document.metadata.annotations ?? {}).not.toHaveProperty(ANNOTATION.eabSentAt);
    expect(secretBackupIndex).toContain('no TLS Secrets (not asked for)');
  });
});

// ---------------------------------------------------------------------------
// The drill
// ---------------------------------------------------------------------------

describe('restoring into a new cluster built from Git', () => {
  it('with the backup applied before the Issuers: the same account with 0 EAB sends, and the Certificates Ready with 0 new orders', async () => {
    await withNewCluster('cluster-b', async (b) => {
      const index = readFileSync(path.join(backupDir, 'index.txt'), 'utf8');
      await createNamespaces(b, index);
      await kubectlOn(b, ['apply', '--server-side', '-f', backupDir]);
      await applyGit(b, drill);

      const issuer = await waitForReason(b, drill.namespace, 'AccountReady');
      expect(issuer.status!.acme!.uri).toBe(accountUrl);
      for (const name of Object.keys(drill.certificates)) {
        await waitForCertificateReady(b, drill.namespace, name);
        expect(await tlsCrt(b, drill.namespace, name), name).toBe(issuedOnA.get(name));
      }
      expect(await eabSends(drill.eab.keyId)).toEqual([201]);
      expect(await ordersFor(drill)).toEqual({ web: 1, api: 1, mail: 1 });
    });
  });

  it('orders exactly one certificate, the one whose TLS Secret was not restored, and sends no EAB key (a client-side kubectl apply)', async () => {
    const partial = path.join(workDir, 'backup-without-web');
    cpSync(backupDir, partial, { recursive: true });
    rmSync(path.join(partial, `20-tls-secret.${drill.namespace}.web-tls.yaml`));
    await withNewCluster('cluster-b2', async (b) => {
      await createNamespaces(b, readFileSync(path.join(partial, 'index.txt'), 'utf8'));
      await kubectlOn(b, ['apply', '-f', partial]);
      await applyGit(b, drill);

      expect((await waitForReason(b, drill.namespace, 'AccountReady')).status!.acme!.uri).toBe(accountUrl);
      for (const name of Object.keys(drill.certificates)) await waitForCertificateReady(b, drill.namespace, name);
      expect(await tlsCrt(b, drill.namespace, 'api')).toBe(issuedOnA.get('api'));
      expect(await tlsCrt(b, drill.namespace, 'mail')).toBe(issuedOnA.get('mail'));
      expect(await tlsCrt(b, drill.namespace, 'web')).not.toBe(issuedOnA.get('web'));
      expect(await ordersFor(drill)).toEqual({ web: 2, api: 1, mail: 1 });
      // The new order is the restored account's.
      const webOrders = (await getOrders(env().acme.managementUrl)).filter((o) => o.identifiers.some((id) => drill.certificates.web!.includes(id.value)));
      expect(webOrders.map((o) => o.accountUrl)).toEqual([accountUrl, accountUrl]);
      expect(await eabSends(drill.eab.keyId)).toEqual([201]);
    });
  });

  it('with sharedWithFleet or disableAccountKeyGeneration in Git, the operator and the Issuers may come first: nothing is sent, and the backup from the Secret brings the accounts', async () => {
    await withNewCluster('cluster-b3', async (b) => {
      // Git first: the fleet Issuer as it is in Git, and the first drill's Issuer with disableAccountKeyGeneration.
      await applyFromGit(b, fleet.namespace, fleet.eab, true);
      await applyFromGit(b, drill.namespace, drill.eab, false, { disableAccountKeyGeneration: true });
      const waiting = await waitForReason(b, fleet.namespace, 'FleetAccountMissing');
      expect(readyOf(waiting).status).toBe('False');
      await waitForReason(b, drill.namespace, 'AccountKeyNotFound');
      for (const git of [fleet, drill]) expect(await b.kube.get(core.secrets, git.namespace, 'account-key')).toBeUndefined();
      expect(await eabSends(fleet.eab.keyId)).toEqual([201]);
      expect(await eabSends(drill.eab.keyId)).toEqual([201]);

      // Then the backup, from the Secret it was kept in.
      await createNamespaces(b, secretBackupIndex);
      await kubectlOn(b, ['apply', '--server-side', '-f', '-'], secretBackupYaml);
      const fleetIssuer: IssuerObject = await waitForReason(b, fleet.namespace, 'AccountReady');
      expect(fleetIssuer.status!.acme!.uri).toBe(fleetAccountUrl);
      expect((await waitForReason(b, drill.namespace, 'AccountReady')).status!.acme!.uri).toBe(accountUrl);
      expect(await eabSends(fleet.eab.keyId)).toEqual([201]);
      expect(await eabSends(drill.eab.keyId)).toEqual([201]);
    });
  });

  // Last: it spends the first drill's key for good (the CA's journal then shows the 403).
  it('without either, an Issuer that comes before the backup sends the EAB key again: why the drill applies the backup first', async () => {
    await withNewCluster('cluster-b4', async (b) => {
      await applyFromGit(b, drill.namespace, drill.eab, false);
      const rejected = await waitForReason(b, drill.namespace, 'EABKeyRejected');
      expect(readyOf(rejected).message).toContain('Another cluster or tool already registered an account with this key');
      expect(await eabSends(drill.eab.keyId)).toEqual([201, 403]);
    });
  });
});
