// One GTS account across a fleet of clusters synced from one Git: two real
// control planes (cluster A is the shared test environment, cluster B a second
// kube-apiserver + etcd started here), each with its own operator process and
// its own EAB ledger, and one GTS-like CA that consumes EAB keys. The CA's
// journal is the witness: with spec.acme.externalAccountBinding.sharedWithFleet,
// only the cluster annotated with certkeeper.io/register-eab-key-id sends the
// key; the other adopts the account Secret exported from it (plain manifest, a
// Secret holding only tls.key, or what an ExternalSecret's template makes), and
// the key is sent once in all. And the message of a 403 to a key this cluster
// never sent before names both causes, with the commands that get out of each.
import { createPrivateKey, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANNOTATION, accountSecretObject } from '../src/acme/account-protocol.ts';
import { configMaps, ledgerEntryName } from '../src/acme/eab-ledger.ts';
import { REGISTER_EAB_KEY_ID_ANNOTATION } from '../src/api/issuer.ts';
import { core, type KubeObject } from '../src/kube/client.ts';
import { jwkThumbprint } from '../src/pki/keys.ts';
import {
  applyFromGit, cli, eabSends, issuers, kubectlOn, readyOf, startCluster, startControlPlaneWithCrds, syncsOf, waitForReason,
  type Cluster, type IssuerObject,
} from './clusters.ts';
import { mintEabKey } from './env/ca-client.ts';
import type { ControlPlane } from './env/controlplane.ts';
import type { EabKey } from './env/gts-proxy.ts';
import { env, waitFor } from './helpers.ts';

interface SecretObject extends KubeObject {
  data?: Record<string, string>;
}

let workDir: string;
let planeB: ControlPlane | undefined;
let a: Cluster;
let b: Cluster;

beforeAll(async () => {
  workDir = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-fleet-'));
  planeB = await startControlPlaneWithCrds(path.join(workDir, 'cluster-b'));
  a = await startCluster('A', env().kubeconfig, `fleet-system-${randomBytes(3).toString('hex')}`);
  // Cluster B runs certkeeper with its defaults, as a cluster built from Git would.
  b = await startCluster('B', planeB.kubeconfig, 'certkeeper');
});

afterAll(async () => {
  for (const cluster of [a, b]) {
    await cluster?.operator.stop();
    cluster?.kube.close();
  }
  await planeB?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------
// Helpers (the ones shared with the restore drill are in clusters.ts)
// ---------------------------------------------------------------------------

/** The CLI against one cluster, run from this file's work directory. */
const certkeeper = (cluster: Cluster, args: string[]) => cli(cluster, args, workDir);
const kubectl = kubectlOn;

function fleetNamespace(): string {
  return `fleet-${randomBytes(3).toString('hex')}`;
}

/** Cluster A registers the fleet's account: the Git manifests, then `certkeeper account register` there. */
async function registerOnA(namespace: string, eab: EabKey): Promise<IssuerObject> {
  await applyFromGit(a, namespace, eab, true);
  await waitForReason(a, namespace, 'FleetAccountMissing');
  const registered = await certkeeper(a, ['account', 'register', '--namespace', namespace, '--issuer', 'gts']);
  expect(registered.code, registered.stderr).toBe(0);
  expect(registered.stdout).toContain(`Annotated Issuer ${namespace}/gts ${REGISTER_EAB_KEY_ID_ANNOTATION}=${eab.keyId}`);
  expect(registered.stdout).toContain('Do this on ONE cluster only');
  return waitForReason(a, namespace, 'AccountReady');
}

// ---------------------------------------------------------------------------
// The fleet path
// ---------------------------------------------------------------------------

describe('one account across two clusters synced from the same Git (sharedWithFleet)', () => {
  it('registers once on the annotated cluster; the other sends nothing until it adopts the account exported with --format plain', async () => {
    const ns = fleetNamespace();
    const eab = await mintEabKey(env().acme.managementUrl);
    // Git brings the same Issuer to both clusters; neither may register by itself.
    await applyFromGit(b, ns, eab, true);
    await applyFromGit(a, ns, eab, true);
    for (const cluster of [a, b]) {
      const issuer = await waitForReason(cluster, ns, 'FleetAccountMissing');
      const { message, status } = readyOf(issuer);
      expect(status).toBe('False');
      expect(message).toContain(`Account key Secret ${ns}/account-key does not exist`);
      expect(message).toContain(`certkeeper account export --namespace ${ns} --secret account-key --format external-secret|sealed-secret|plain`);
      expect(message).toContain(`certkeeper account register --namespace ${ns} --issuer gts`);
      expect(message).toContain(`kubectl annotate issuer -n ${ns} gts ${REGISTER_EAB_KEY_ID_ANNOTATION}=${eab.keyId}`);
      expect(await cluster.kube.get(core.secrets, ns, 'account-key')).toBeUndefined();
    }
    expect(await eabSends(eab.keyId)).toEqual([]);

    // An annotation naming another (older) key allows nothing.
    await b.kube.mergePatch(issuers, ns, 'gts', { metadata: { annotations: { [REGISTER_EAB_KEY_ID_ANNOTATION]: 'an-older-key' } } });
    await waitForReason(b, ns, 'FleetAccountMissing', 'names key an-older-key');

    // Cluster A, and only A, is allowed to register.
    const registered = await certkeeper(a, ['account', 'register', '--namespace', ns, '--issuer', 'gts']);
    expect(registered.code, registered.stderr).toBe(0);
    const issuerA = await waitForReason(a, ns, 'AccountReady');
    const accountUrl = issuerA.status!.acme!.uri!;
    expect(accountUrl).toBeTruthy();
    expect(await eabSends(eab.keyId)).toEqual([201]);
    // Running it again once the account exists changes nothing.
    const again = await certkeeper(a, ['account', 'register', '--namespace', ns, '--issuer', 'gts']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`already has its account (${accountUrl}); nothing to register`);

    // B still waits, with no key of its own.
    expect(readyOf((await b.kube.get<IssuerObject>(issuers, ns, 'gts'))!).reason).toBe('FleetAccountMissing');
    expect(await b.kube.get(core.secrets, ns, 'account-key')).toBeUndefined();

    // The account Secret from A, as a plain manifest, applied to B.
    const exported = await certkeeper(a, ['account', 'export', '--namespace', ns, '--secret', 'account-key', '--format', 'plain']);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toContain('kubectl apply -f');
    const manifest = load(exported.stdout) as SecretObject;
    expect(manifest.metadata.annotations).toEqual({
      [ANNOTATION.state]: 'registered', [ANNOTATION.server]: env().acme.directoryUrl, [ANNOTATION.accountUrl]: accountUrl,
      [ANNOTATION.eabKeyId]: eab.keyId, [ANNOTATION.email]: 'platform@example.com',
    });
    expect(exported.stdout).not.toContain('eab-ledger');
    await kubectl(b, ['apply', '-f', '-'], exported.stdout);

    const issuerB = await waitForReason(b, ns, 'AccountReady');
    expect(issuerB.status!.acme!.uri).toBe(accountUrl);
    expect(issuerB.status!.acme!.keyThumbprint).toBe(issuerA.status!.acme!.keyThumbprint);
    expect(await eabSends(eab.keyId)).toEqual([201]);
    // B's own ledger now knows the key ID is used: a lost Secret there is AccountKeyLost, never a send.
    const entry = await b.kube.get<KubeObject & { data?: Record<string, string> }>(configMaps, b.ledgerNamespace, ledgerEntryName(eab.keyId));
    expect(entry?.data).toMatchObject({ outcome: 'registered', accountURL: accountUrl, sends: '0' });
  });

  it('adopts a Secret holding only tls.key (as External Secrets or Sealed Secrets write it), with no EAB send', async () => {
    const ns = fleetNamespace();
    const eab = await mintEabKey(env().acme.managementUrl);
    const issuerA = await registerOnA(ns, eab);
    const secretA = (await a.kube.get<SecretObject>(core.secrets, ns, 'account-key'))!;

    await applyFromGit(b, ns, eab, true);
    await waitForReason(b, ns, 'FleetAccountMissing');
    await b.kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'account-key', namespace: ns }, data: { 'tls.key': secretA.data!['tls.key']! } } as KubeObject);
    const issuerB = await waitForReason(b, ns, 'AccountReady');
    expect(issuerB.status!.acme!.uri).toBe(issuerA.status!.acme!.uri);
    expect(await eabSends(eab.keyId)).toEqual([201]);
  });

  it('writes an ExternalSecret whose template recreates an account Secret the other cluster adopts; the key goes to a 0600 file, never into the manifest', async () => {
    const ns = fleetNamespace();
    const eab = await mintEabKey(env().acme.managementUrl);
    const issuerA = await registerOnA(ns, eab);
    const secretA = (await a.kube.get<SecretObject>(core.secrets, ns, 'account-key'))!;
    const pem = Buffer.from(secretA.data!['tls.key']!, 'base64').toString('utf8');

    const out = path.join(workDir, ns);
    const exported = await certkeeper(a, ['account', 'export', '--namespace', ns, '--secret', 'account-key', '--format', 'external-secret',
      '--secret-store', 'vault', '--remote-key', `certkeeper/${ns}`, '--remote-property', 'tls.key', '--out', out]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toBe('');
    expect(exported.stderr).toContain(`Put the key into your secret store at certkeeper/${ns}, field tls.key`);
    const keyFile = path.join(out, 'account.key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, 'utf8')).toBe(pem);
    const manifestText = readFileSync(path.join(out, 'external-secret.yaml'), 'utf8');
    for (const line of pem.split('\n').filter((l) => l && !l.startsWith('-----'))) expect(manifestText).not.toContain(line.slice(0, 24));
    expect(manifestText).not.toContain(secretA.data!['tls.key']!.slice(0, 40));
    expect(exported.stderr).not.toContain(pem.split('\n')[1]!.slice(0, 24));
    const externalSecret = load(manifestText) as {
      apiVersion: string; kind: string;
      spec: { target: { name: string; template: { type: string; metadata: { labels: Record<string, string>; annotations: Record<string, string> } } }; data: { secretKey: string; remoteRef: { key: string; property?: string } }[] };
    };
    expect(externalSecret).toMatchObject({ apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret' });
    expect(externalSecret.spec.data).toEqual([{ secretKey: 'tls.key', remoteRef: { key: `certkeeper/${ns}`, property: 'tls.key' } }]);

    // What External Secrets makes of it in cluster B: the template's metadata, the key from the store.
    await applyFromGit(b, ns, eab, true);
    await waitForReason(b, ns, 'FleetAccountMissing');
    const template = externalSecret.spec.target.template;
    await b.kube.create(core.secrets, {
      apiVersion: 'v1', kind: 'Secret', type: template.type,
      metadata: { name: externalSecret.spec.target.name, namespace: ns, labels: template.metadata.labels, annotations: template.metadata.annotations },
      data: { 'tls.key': Buffer.from(readFileSync(keyFile, 'utf8')).toString('base64') },
    } as KubeObject);
    const issuerB = await waitForReason(b, ns, 'AccountReady');
    expect(issuerB.status!.acme!.uri).toBe(issuerA.status!.acme!.uri);
    expect(jwkThumbprint(createPrivateKey(pem))).toBe(issuerB.status!.acme!.keyThumbprint);
    expect(await eabSends(eab.keyId)).toEqual([201]);

    // Sealed Secrets: the same Secret manifest, for kubeseal.
    const sealed = await certkeeper(a, ['account', 'export', '--namespace', ns, '--secret', 'account-key', '--format', 'sealed-secret']);
    expect(sealed.code, sealed.stderr).toBe(0);
    expect(load(sealed.stdout)).toMatchObject({ kind: 'Secret', metadata: { name: 'account-key', namespace: ns, annotations: { [ANNOTATION.accountUrl]: issuerA.status!.acme!.uri } } });
    expect(sealed.stderr).toContain('kubeseal --format yaml');
  });

  it('refuses to export a pending key: it has no account, and two clusters holding it could both send the EAB key', async () => {
    const ns = fleetNamespace();
    await a.kube.create(core.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const { generatePrivateKeyPem } = await import('../src/pki/keys.ts');
    await a.kube.create(core.secrets, accountSecretObject({
      namespace: ns, name: 'account-key', keyName: 'tls.key', keyPem: generatePrivateKeyPem('ECDSA'), state: 'pending', server: env().acme.directoryUrl, eabKeyId: 'kid-x',
    }));
    const exported = await certkeeper(a, ['account', 'export', '--namespace', ns, '--secret', 'account-key', '--format', 'plain']);
    expect(exported.code).toBe(1);
    expect(exported.stdout).toBe('');
    expect(exported.stderr).toContain(`Secret ${ns}/account-key is pending: its key is not registered at the CA yet`);
  });
});

// ---------------------------------------------------------------------------
// A 403 to a key this cluster never sent
// ---------------------------------------------------------------------------

describe('an EAB key another cluster already used', () => {
  it('is refused with a message naming both causes and the commands, and the way out it gives ends with one account and no further send', async () => {
    const ns = fleetNamespace();
    const eab = await mintEabKey(env().acme.managementUrl);
    // Without sharedWithFleet, cluster B registers first...
    await applyFromGit(b, ns, eab, false);
    const issuerB = await waitForReason(b, ns, 'AccountReady');
    // ...then cluster A, from the same Git, sends the spent key.
    await applyFromGit(a, ns, eab, false);
    const rejected = await waitForReason(a, ns, 'EABKeyRejected');
    expect(await eabSends(eab.keyId)).toEqual([201, 403]);
    const { message } = readyOf(rejected);
    expect(message).toContain('the first time this cluster sent it');
    expect(message).toContain('Another cluster or tool already registered an account with this key');
    expect(message).toContain(`certkeeper account export --namespace ${ns} --secret account-key --format plain > account.yaml`);
    expect(message).toContain(`kubectl delete secret -n ${ns} account-key`);
    expect(message).toContain('kubectl apply -f account.yaml');
    expect(message).toContain(`certkeeper account import --namespace ${ns} --secret account-key --server ${env().acme.directoryUrl}`);
    expect(message).toContain('sharedWithFleet: true');
    expect(message).toContain('The key expired');
    expect(message).toContain('create a new EAB key');

    // The way out, as the message gives it.
    const exported = await certkeeper(b, ['account', 'export', '--namespace', ns, '--secret', 'account-key', '--format', 'plain']);
    expect(exported.code, exported.stderr).toBe(0);
    const syncsBefore = syncsOf(a, ns);
    await kubectl(a, ['delete', 'secret', '-n', ns, 'account-key']);
    // With its Secret gone, A neither generates a key nor sends the rejected one again.
    await waitFor('cluster A to sync the Issuer after the delete', async () => syncsOf(a, ns) > syncsBefore);
    expect(readyOf((await a.kube.get<IssuerObject>(issuers, ns, 'gts'))!).reason).toBe('EABKeyRejected');
    expect(await a.kube.get(core.secrets, ns, 'account-key')).toBeUndefined();
    await kubectl(a, ['apply', '-f', '-'], exported.stdout);
    const issuerA = await waitForReason(a, ns, 'AccountReady');
    expect(issuerA.status!.acme!.uri).toBe(issuerB.status!.acme!.uri);
    expect(await eabSends(eab.keyId)).toEqual([201, 403]);
  });
});
