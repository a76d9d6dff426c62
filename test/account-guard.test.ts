// The account guard (the chart's ValidatingAdmissionPolicy) on the real API
// server: a registered ACME account key Secret cannot be deleted, nor its key
// or label changed, unless first annotated certkeeper.io/allow-deletion=true;
// certkeeper's own writes (create pending, mark registered, update the email)
// go through; other Secrets are untouched. The shipped policy applies to every
// namespace, so this file installs a copy under its own name, bound only to its
// test namespace, so other test files' Secrets are never guarded.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { chartDir, deployDir } from '../scripts/render-manifests.ts';
import { configMaps, ledgerEntryName, ledgerEntryObject, type LedgerOutcome } from '../src/acme/eab-ledger.ts';
import { createNamespace, env, kubeClient, kubectl, kubectlFails, waitFor } from './helpers.ts';

const run = promisify(execFile);

interface Manifest extends KubeObject {
  kind: string;
  spec: Record<string, unknown>;
}

interface Secret extends KubeObject {
  data?: Record<string, string>;
}

const SERVER = 'https://dv.acme-v02.api.pki.goog/directory';

/** A ledger entry as certkeeper writes it (src/acme/eab-ledger.ts). */
function ledgerData(keyID: string, outcome: LedgerOutcome = 'registered') {
  return {
    keyID, server: SERVER, accountSecret: 'team-a/account', claimedBy: 'Issuer team-a/gts', thumbprint: 'tp-1', outcome,
    ...(outcome === 'registered' ? { accountURL: 'https://ca.example/acct/1' } : {}), sends: 1, history: '2026-11-30T00:00:00.000Z claimed\n',
  };
}

const KEY = Buffer.from('-----BEGIN PRIVATE KEY-----\nnot really a key\n-----END PRIVATE KEY-----\n').toString('base64');
const OTHER_KEY = Buffer.from('another key').toString('base64');

function accountSecret(namespace: string, name: string, state: 'pending' | 'registered' | 'imported', extra: Record<string, string> = {}): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace,
      labels: { 'certkeeper.io/account-key': 'true', 'app.kubernetes.io/managed-by': 'certkeeper' },
      annotations: {
        'certkeeper.io/account-state': state,
        'certkeeper.io/acme-server': 'https://dv.acme-v02.api.pki.goog/directory',
        ...(state === 'registered' ? { 'certkeeper.io/account-url': `https://ca.example/acct/${name}` } : {}),
        ...extra,
      },
    },
    data: { 'tls.key': KEY },
  };
}

describe('the account guard (ValidatingAdmissionPolicy)', () => {
  let kube: KubeClient;
  let namespace: string;
  let policyName: string;
  let workDir: string;

  beforeAll(async () => {
    kube = await kubeClient();
    namespace = await createNamespace(kube, 'guard');
    // Only this namespace carries the label the copy of the policy is bound to.
    await kubectl(['label', 'namespace', namespace, `certkeeper-test/account-guard=${namespace}`]);

    const release = `guard-${randomBytes(3).toString('hex')}`;
    policyName = `${release}-certkeeper-account-guard`;
    workDir = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-guard-'));
    const values = path.join(workDir, 'values.json');
    writeFileSync(values, JSON.stringify({ accountGuard: { namespaceSelector: { matchLabels: { 'certkeeper-test/account-guard': namespace } } } }));
    const { stdout } = await run(path.join(env().binDir, 'helm'), [
      'template', release, chartDir, '--namespace', namespace, '--kube-version', env().kubernetesVersion,
      '--show-only', 'templates/account-guard.yaml', '-f', values,
    ]);
    // The copy is the shipped policy (deploy/), renamed and bound to this namespace only.
    const copy = loadAll(stdout) as Manifest[];
    const shipped = loadAll(readFileSync(path.join(deployDir, '04-account-guard.yaml'), 'utf8')) as Manifest[];
    const named = (manifests: Manifest[], kind: string, suffix: string) => manifests.find((m) => m.kind === kind && m.metadata.name.endsWith(`account-guard${suffix}`))!;
    expect(copy.map((m) => m.kind).sort()).toEqual(['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'ValidatingAdmissionPolicyBinding']);
    for (const [suffix, name] of [['', policyName], ['-eab-ledger', `${policyName}-eab-ledger`]] as const) {
      expect(named(copy, 'ValidatingAdmissionPolicy', suffix).spec).toEqual(named(shipped, 'ValidatingAdmissionPolicy', suffix).spec);
      // Shipped: every namespace. The copy: this test's namespace only.
      expect(named(shipped, 'ValidatingAdmissionPolicyBinding', suffix).spec).toEqual({ policyName: `certkeeper-account-guard${suffix}`, validationActions: ['Deny'] });
      expect(named(copy, 'ValidatingAdmissionPolicyBinding', suffix).spec).toEqual({
        policyName: name,
        validationActions: ['Deny'],
        matchResources: { namespaceSelector: { matchLabels: { 'certkeeper-test/account-guard': namespace } } },
      });
    }
    await kubectl(['apply', '--server-side', '-f', '-'], stdout);

    // Policies load asynchronously: wait until (dry-run) deletes of a registered Secret and a ledger entry are refused.
    await kube.create(core.secrets, accountSecret(namespace, 'probe', 'registered'));
    await kube.create(configMaps, ledgerEntryObject(namespace, ledgerData('probe')));
    for (const [kind, name] of [['secret', 'probe'], ['configmap', ledgerEntryName('probe')]]) {
      await waitFor(`the guard to take effect on ${kind}s`, async () => {
        try {
          await kubectl(['delete', kind!, '-n', namespace, name!, '--dry-run=server']);
          return false;
        } catch (error) {
          return (error as { stderr: string }).stderr.includes(policyName);
        }
      }, { timeoutMs: 30_000 });
    }
  });

  afterAll(async () => {
    await kubectl(['delete', '--ignore-not-found', 'validatingadmissionpolicybinding', policyName, `${policyName}-eab-ledger`]);
    await kubectl(['delete', '--ignore-not-found', 'validatingadmissionpolicy', policyName, `${policyName}-eab-ledger`]);
    rmSync(workDir, { recursive: true, force: true });
    kube.close();
  });

  async function secret(name: string): Promise<Secret | undefined> {
    return kube.get<Secret>(core.secrets, namespace, name);
  }

  it('refuses deleting a registered account Secret, saying why and how to proceed', async () => {
    await kube.create(core.secrets, accountSecret(namespace, 'registered', 'registered'));
    const stderr = await kubectlFails(['delete', 'secret', '-n', namespace, 'registered']);
    expect(stderr).toContain('Forbidden');
    expect(stderr).toContain(`Secret ${namespace}/registered holds the key of a registered ACME account`);
    expect(stderr).toContain('the EAB key it was registered with cannot be registered again');
    expect(stderr).toContain(`kubectl annotate secret -n ${namespace} registered certkeeper.io/allow-deletion=true`);
    expect(await secret('registered')).toBeDefined();
  });

  it('refuses changing its key, removing its label or un-registering it', async () => {
    await kube.create(core.secrets, accountSecret(namespace, 'tamper', 'registered'));
    const changeData = await kubectlFails(['patch', 'secret', '-n', namespace, 'tamper', '--type=merge', '-p', JSON.stringify({ data: { 'tls.key': OTHER_KEY } })]);
    expect(changeData).toContain('changing its data loses the account');
    const addData = await kubectlFails(['patch', 'secret', '-n', namespace, 'tamper', '--type=merge', '-p', JSON.stringify({ stringData: { extra: 'x' } })]);
    expect(addData).toContain('changing its data loses the account');
    const removeData = await kubectlFails(['patch', 'secret', '-n', namespace, 'tamper', '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/data' }])]);
    expect(removeData).toContain('changing its data loses the account');
    const unlabel = await kubectlFails(['label', 'secret', '-n', namespace, 'tamper', 'certkeeper.io/account-key-']);
    expect(unlabel).toContain('the label certkeeper.io/account-key=true must stay');
    const relabel = await kubectlFails(['label', 'secret', '-n', namespace, 'tamper', 'certkeeper.io/account-key=false', '--overwrite']);
    expect(relabel).toContain('the label certkeeper.io/account-key=true must stay');
    const unregister = await kubectlFails(['annotate', 'secret', '-n', namespace, 'tamper', 'certkeeper.io/account-state=pending', '--overwrite']);
    expect(unregister).toContain('certkeeper.io/account-state must stay registered');
    for (const message of [changeData, unlabel, unregister]) expect(message).toContain('certkeeper.io/allow-deletion=true');

    const unchanged = await secret('tamper');
    expect(unchanged?.data).toEqual({ 'tls.key': KEY });
    expect(unchanged?.metadata.labels?.['certkeeper.io/account-key']).toBe('true');
    expect(unchanged?.metadata.annotations?.['certkeeper.io/account-state']).toBe('registered');
  });

  it('freezes the account URL, CA and EAB key ID of a registered Secret (no other tenant\'s account URL pasted in)', async () => {
    await kube.create(core.secrets, accountSecret(namespace, 'frozen', 'registered', { 'certkeeper.io/eab-key-id': 'kid-1' }));
    for (const annotation of ['certkeeper.io/account-url=https://ca.example/acct/someone-else', 'certkeeper.io/acme-server=https://other.example/dir', 'certkeeper.io/eab-key-id=kid-2']) {
      const stderr = await kubectlFails(['annotate', 'secret', '-n', namespace, 'frozen', annotation, '--overwrite']);
      expect(stderr).toContain('describe that account and cannot change');
      expect(stderr).toContain('certkeeper.io/allow-deletion=true');
    }
    expect(await kubectlFails(['annotate', 'secret', '-n', namespace, 'frozen', 'certkeeper.io/account-url-'])).toContain('cannot change');
    const unchanged = await secret('frozen');
    expect(unchanged?.metadata.annotations).toMatchObject({
      'certkeeper.io/account-url': 'https://ca.example/acct/frozen', 'certkeeper.io/acme-server': SERVER, 'certkeeper.io/eab-key-id': 'kid-1',
    });
    // The email and the contact-update time stay certkeeper's to change.
    await kubectl(['annotate', 'secret', '-n', namespace, 'frozen', 'certkeeper.io/email=new@example.com', 'certkeeper.io/contact-updated-at=2026-11-30T00:00:00Z']);
    // The consent unlocks them.
    await kubectl(['annotate', 'secret', '-n', namespace, 'frozen', 'certkeeper.io/allow-deletion=true']);
    await kubectl(['annotate', 'secret', '-n', namespace, 'frozen', 'certkeeper.io/account-url=https://ca.example/acct/moved', '--overwrite']);
  });

  it('guards the EAB ledger: no delete, no rewrite of a registration, history only grows; consent releases', async () => {
    const name = ledgerEntryName('kid-ledger');
    await kube.create(configMaps, ledgerEntryObject(namespace, ledgerData('kid-ledger')));
    const del = await kubectlFails(['delete', 'configmap', '-n', namespace, name]);
    expect(del).toContain(`ConfigMap ${namespace}/${name} is the EAB ledger entry of key ID kid-ledger`);
    expect(del).toContain(`kubectl annotate configmap -n ${namespace} ${name} certkeeper.io/allow-deletion=true`);
    const patch = (data: Record<string, string>) => kubectlFails(['patch', 'configmap', '-n', namespace, name, '--type=merge', '-p', JSON.stringify({ data })]);
    expect(await patch({ outcome: 'claimed' })).toContain('registered an account: that record cannot change');
    expect(await patch({ accountSecret: 'tenant-b/account' })).toContain('registered an account: that record cannot change');
    expect(await patch({ keyID: 'kid-other' })).toContain('its label, key ID and CA cannot change');
    expect(await patch({ history: 'rewritten\n' })).toContain('history only grows');
    expect(await kubectlFails(['label', 'configmap', '-n', namespace, name, 'certkeeper.io/eab-ledger-'])).toContain('its label, key ID and CA cannot change');

    // certkeeper's own transitions of an entry that is not registered yet go through.
    const sentName = ledgerEntryName('kid-sent');
    await kube.create(configMaps, ledgerEntryObject(namespace, ledgerData('kid-sent', 'sent')));
    await kubectl(['patch', 'configmap', '-n', namespace, sentName, '--type=merge', '-p', JSON.stringify({
      data: { outcome: 'registered', accountURL: 'https://ca.example/acct/2', history: '2026-11-30T00:00:00.000Z claimed\n2026-11-30T00:01:00.000Z registered\n' },
    })]);

    // Consent, then release.
    await kubectl(['annotate', 'configmap', '-n', namespace, name, 'certkeeper.io/allow-deletion=true']);
    await kubectl(['delete', 'configmap', '-n', namespace, name]);
    expect(await kube.get(configMaps, namespace, name)).toBeUndefined();
  });

  it('lets certkeeper create a pending Secret, mark it registered and update its email', async () => {
    // The requests certkeeper's account protocol makes (src/acme/account-protocol.ts).
    const created = await kube.create(core.secrets, accountSecret(namespace, 'lifecycle', 'pending', { 'certkeeper.io/email': 'old@example.com' }));
    const registered = await kube.mergePatch<Secret>(core.secrets, namespace, 'lifecycle', {
      metadata: {
        resourceVersion: created.metadata.resourceVersion,
        annotations: { 'certkeeper.io/account-state': 'registered', 'certkeeper.io/account-url': 'https://ca.example/acct/9', 'certkeeper.io/eab-key-id': 'kid-9' },
      },
    });
    expect(registered.metadata.annotations?.['certkeeper.io/account-state']).toBe('registered');
    const emailed = await kube.mergePatch<Secret>(core.secrets, namespace, 'lifecycle', {
      metadata: { resourceVersion: registered.metadata.resourceVersion, annotations: { 'certkeeper.io/email': 'new@example.com' } },
    });
    expect(emailed.metadata.annotations?.['certkeeper.io/email']).toBe('new@example.com');
    expect(emailed.data).toEqual({ 'tls.key': KEY });
    // Users may label and annotate it too (backups, ownership), as long as the key stays.
    await kubectl(['annotate', 'secret', '-n', namespace, 'lifecycle', 'backup.example.com/last=today']);
    await kubectl(['label', 'secret', '-n', namespace, 'lifecycle', 'team=payments']);
    // Now registered, it is guarded.
    expect(await kubectlFails(['delete', 'secret', '-n', namespace, 'lifecycle'])).toContain('holds the key of a registered ACME account');
  });

  it('does not guard pending or imported account Secrets', async () => {
    await kube.create(core.secrets, accountSecret(namespace, 'pending', 'pending'));
    await kube.mergePatch(core.secrets, namespace, 'pending', { data: { 'tls.key': OTHER_KEY } });
    expect(await kube.delete(core.secrets, namespace, 'pending')).toBe(true);
    await kube.create(core.secrets, accountSecret(namespace, 'imported', 'imported'));
    expect(await kube.delete(core.secrets, namespace, 'imported')).toBe(true);
  });

  it('lets the change and the delete through once the Secret is annotated certkeeper.io/allow-deletion=true', async () => {
    await kube.create(core.secrets, accountSecret(namespace, 'retired', 'registered'));
    // Annotating is an update that keeps the key: allowed. The annotation must be on the stored Secret
    // before the change, so adding it in the same request as a change of key is still refused.
    expect(await kubectlFails(['patch', 'secret', '-n', namespace, 'retired', '--type=merge', '-p', JSON.stringify({
      metadata: { annotations: { 'certkeeper.io/allow-deletion': 'true' } }, data: { 'tls.key': OTHER_KEY },
    })])).toContain('changing its data loses the account');
    await kubectl(['annotate', 'secret', '-n', namespace, 'retired', 'certkeeper.io/allow-deletion=true']);
    await kubectl(['patch', 'secret', '-n', namespace, 'retired', '--type=merge', '-p', JSON.stringify({ data: { 'tls.key': OTHER_KEY } })]);
    expect((await secret('retired'))?.data).toEqual({ 'tls.key': OTHER_KEY });
    const { stdout } = await kubectl(['delete', 'secret', '-n', namespace, 'retired']);
    expect(stdout).toContain('deleted');
    expect(await secret('retired')).toBeUndefined();

    // Only "true" counts.
    await kube.create(core.secrets, accountSecret(namespace, 'maybe', 'registered', { 'certkeeper.io/allow-deletion': 'yes' }));
    expect(await kubectlFails(['delete', 'secret', '-n', namespace, 'maybe'])).toContain('holds the key of a registered ACME account');
  });

  it('leaves unrelated Secrets alone', async () => {
    const plain: Secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'plain', namespace }, data: { a: KEY } };
    await kube.create(core.secrets, plain);
    await kube.mergePatch(core.secrets, namespace, 'plain', { data: { a: OTHER_KEY } });
    expect(await kube.delete(core.secrets, namespace, 'plain')).toBe(true);
    // Annotated as registered but without the account-key label (e.g. copied by hand): not certkeeper's.
    const unlabelled = accountSecret(namespace, 'unlabelled', 'registered');
    delete unlabelled.metadata.labels;
    await kube.create(core.secrets, unlabelled);
    expect(await kube.delete(core.secrets, namespace, 'unlabelled')).toBe(true);
    // Other kinds of objects are not matched at all.
    await kubectl(['create', 'configmap', '-n', namespace, 'cm', '--from-literal=a=b']);
    await kubectl(['delete', 'configmap', '-n', namespace, 'cm']);
  });
});
