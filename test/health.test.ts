// Health as GitOps tools read it, on objects fetched from the real API server in
// each state the real operator puts them in: sigs.k8s.io/cli-utils' kstatus (what
// Flux uses, built from its Go module) and the chart's Argo CD Lua health checks
// run by gopher-lua (the interpreter Argo CD embeds). Ready → Current/Healthy;
// registration or first issuance under way, and a spec change not yet observed
// → InProgress/Progressing; a state that needs a person → Failed/Degraded.
//
// Both controllers apply src/api/health.ts to every status they write.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withHealth } from '../src/api/health.ts';
import { API_VERSION, type Condition } from '../src/api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { chartDir } from '../scripts/render-manifests.ts';
import { dropHeldChallenges, getHeldChallenges, getHeldCount, holdNextChallenge, mintEabKey, releaseHeld, setNewAccountFault } from './env/ca-client.ts';
import { ensureExtraTools, type ExtraTools } from './env/tools.ts';
import { createNamespace, env, kubeClient, waitFor } from './helpers.ts';
import { startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const run = promisify(execFile);
const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };
const certificates = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'certificates', namespaced: true };

interface StatusObject extends KubeObject {
  status?: { observedGeneration?: number; conditions?: Condition[]; failedIssuanceAttempts?: number };
}

let kube: KubeClient;
let operator: OperatorProcess;
let tools: ExtraTools;
let systemNamespace: string;
let ns: string;
let scriptDir: string;
const scripts = new Map<string, string>();
let nameCounter = 0;
const testName = (label: string) => `${label}-${process.pid}-${++nameCounter}.certkeeper.test`;

async function kstatus(object: KubeObject): Promise<string> {
  const child = run(tools.kstatus, [], {});
  child.child.stdin!.end(JSON.stringify(object));
  return (JSON.parse((await child).stdout) as { status: string }).status;
}

async function argocd(object: KubeObject & { kind?: string }): Promise<{ status: string; message: string }> {
  const script = scripts.get(`resource.customizations.health.certkeeper.io_${object.kind}`);
  expect(script, `the chart has an Argo CD health check for ${object.kind}`).toBeDefined();
  const file = path.join(scriptDir, `${object.kind}.lua`);
  writeFileSync(file, script!);
  const child = run(tools.lua, [file]);
  child.child.stdin!.end(JSON.stringify(object));
  return JSON.parse((await child).stdout) as { status: string; message: string };
}

/** Both tools' verdicts on an object. */
async function health(object: KubeObject) {
  return { kstatus: await kstatus(object), argocd: (await argocd(object)).status };
}

async function eabIssuer(name: string, keyId: string, accountSecret: string) {
  await kube.create(issuers, {
    apiVersion: API_VERSION,
    kind: 'Issuer',
    metadata: { name, namespace: ns },
    spec: {
      acme: {
        server: env().acme.directoryUrl,
        email: 'ops@example.com',
        privateKeySecretRef: { name: accountSecret },
        externalAccountBinding: { keyID: keyId, keySecretRef: { name: 'eab' } },
        caBundle: readFileSync(env().acme.caRootFile).toString('base64'),
        solvers: [{ http01: { ingress: { ingressClassName: 'nginx' } } }],
      },
    },
  } as KubeObject);
}

const getIssuer = (name: string) => kube.get<StatusObject>(issuers, ns, name);
const reason = (o: StatusObject | undefined, type: string) => o?.status?.conditions?.find((c) => c.type === type && c.status === 'True' || (type === 'Ready' && c.type === 'Ready'))?.reason;

beforeAll(async () => {
  tools = ensureExtraTools();
  scriptDir = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-argocd-'));
  // The scripts exactly as the chart ships them.
  const { stdout } = await run(path.join(env().binDir, 'helm'), [
    'template', 'certkeeper', chartDir, '--kube-version', env().kubernetesVersion,
    '--set', 'argocdHealthChecks.enabled=true', '--show-only', 'templates/argocd-health.yaml',
  ]);
  for (const [key, value] of Object.entries((load(stdout) as { data: Record<string, string> }).data)) scripts.set(key, value);

  kube = await kubeClient();
  systemNamespace = await createNamespace(kube, 'certkeeper-system');
  ns = await createNamespace(kube, 'health');
  operator = await startOperatorProcess({ clusterResourceNamespace: systemNamespace, env: { CERTKEEPER_SHUTDOWN_GRACE_SECONDS: '1' } });
});

afterAll(async () => {
  await setNewAccountFault(env().acme.managementUrl, null).catch(() => {});
  await releaseHeld(env().acme.managementUrl).catch(() => {});
  await dropHeldChallenges(env().acme.managementUrl).catch(() => {});
  await operator?.stop();
  kube?.close();
  if (scriptDir) rmSync(scriptDir, { recursive: true, force: true });
});

describe('Issuer health', () => {
  let keyId: string;

  it('is InProgress/Progressing while the first registration runs, then Current/Healthy', async () => {
    const mgmt = env().acme.managementUrl;
    const eab = await mintEabKey(mgmt);
    keyId = eab.keyId;
    await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'eab', namespace: ns }, stringData: { secret: eab.hmacKey } } as KubeObject);
    await setNewAccountFault(mgmt, { mode: 'hold' });
    await eabIssuer('gts', eab.keyId, 'account-key');
    await waitFor('the newAccount answer to be held', async () => (await getHeldCount(mgmt)) === 1);
    const registering = (await getIssuer('gts'))!;
    expect(registering.status?.observedGeneration).toBe(registering.metadata.generation);
    expect(registering.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'Pending' });
    expect(registering.status?.conditions?.find((c) => c.type === 'Reconciling')).toMatchObject({ status: 'True' });
    expect(await health(registering)).toEqual({ kstatus: 'InProgress', argocd: 'Progressing' });

    await releaseHeld(mgmt);
    const ready = await waitFor('the Issuer to be Ready', async () => {
      const issuer = await getIssuer('gts');
      return issuer?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? issuer : undefined;
    });
    expect(ready.status!.conditions!.map((c) => c.type)).toEqual(['Ready']);
    expect(ready.status!.observedGeneration).toBe(ready.metadata.generation);
    expect(await health(ready)).toEqual({ kstatus: 'Current', argocd: 'Healthy' });
  });

  it('is Failed/Degraded when it needs a person (an EAB key another account has)', async () => {
    await eabIssuer('thief', keyId, 'other-account-key');
    const stalled = await waitFor('EABKeyAlreadyUsed', async () => {
      const issuer = await getIssuer('thief');
      return reason(issuer, 'Ready') === 'EABKeyAlreadyUsed' ? issuer : undefined;
    });
    expect(stalled.status!.conditions!.find((c) => c.type === 'Stalled')).toMatchObject({ status: 'True', reason: 'EABKeyAlreadyUsed' });
    expect(await health(stalled)).toEqual({ kstatus: 'Failed', argocd: 'Degraded' });
    expect((await argocd(stalled)).message).toContain(keyId);
  });

  it('is InProgress/Progressing while it waits for its EAB Secret', async () => {
    await kube.create(issuers, {
      apiVersion: API_VERSION, kind: 'Issuer', metadata: { name: 'waiting', namespace: ns },
      spec: { acme: { server: env().acme.directoryUrl, email: 'ops@example.com', privateKeySecretRef: { name: 'waiting-key' }, externalAccountBinding: { keyID: 'not-yet', keySecretRef: { name: 'missing' } } } },
    } as KubeObject);
    const waiting = await waitFor('EABSecretNotFound', async () => {
      const issuer = await getIssuer('waiting');
      return reason(issuer, 'Ready') === 'EABSecretNotFound' ? issuer : undefined;
    });
    expect(await health(waiting)).toEqual({ kstatus: 'InProgress', argocd: 'Progressing' });
  });
});

describe('Certificate health', () => {
  it('is Current/Healthy once issued, and InProgress/Progressing during the first issuance', async () => {
    const mgmt = env().acme.managementUrl;
    await kube.create(certificates, { apiVersion: API_VERSION, kind: 'Certificate', metadata: { name: 'done', namespace: ns }, spec: { secretName: 'done-tls', issuerRef: { name: 'gts' }, dnsNames: [testName('done')] } } as KubeObject);
    const issued = await waitFor('the Certificate to be Ready', async () => {
      const c = await kube.get<StatusObject>(certificates, ns, 'done');
      return c?.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') ? c : undefined;
    });
    expect(await health(issued)).toEqual({ kstatus: 'Current', argocd: 'Healthy' });
    expect(await health(issued)).toEqual({ kstatus: 'Current', argocd: 'Healthy' });

    await holdNextChallenge(mgmt);
    await kube.create(certificates, { apiVersion: API_VERSION, kind: 'Certificate', metadata: { name: 'first', namespace: ns }, spec: { secretName: 'first-tls', issuerRef: { name: 'gts' }, dnsNames: [testName('first')] } } as KubeObject);
    await waitFor('the challenge answer to be held', async () => (await getHeldChallenges(mgmt)) === 1);
    const issuing = (await kube.get<StatusObject>(certificates, ns, 'first'))!;
    expect(issuing.status?.conditions?.find((c) => c.type === 'Issuing')).toMatchObject({ status: 'True' });
    // Ready is False from the first status on (without it, kstatus would read the Certificate as done).
    expect(issuing.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False' });
    expect(issuing.status?.observedGeneration).toBe(issuing.metadata.generation);
    expect(await health(issuing)).toEqual({ kstatus: 'InProgress', argocd: 'Progressing' });
    await dropHeldChallenges(mgmt);
  });

  it('is InProgress/Progressing for a spec change certkeeper has not observed', async () => {
    // With the operator stopped nothing observes the change.
    await operator.stop();
    await kube.mergePatch(certificates, ns, 'done', { spec: { dnsNames: [testName('changed')] } });
    const changed = (await kube.get<StatusObject>(certificates, ns, 'done'))!;
    expect(await health(changed)).toEqual({ kstatus: 'InProgress', argocd: 'Progressing' });
    // Even without status.observedGeneration, Ready's observedGeneration tells the Lua check.
    expect((await argocd(changed)).status).toBe('Progressing');

    await kube.mergePatch(issuers, ns, 'gts', { spec: { acme: { email: 'platform@example.com' } } });
    const issuer = (await getIssuer('gts'))!;
    expect(issuer.status!.observedGeneration).toBe(issuer.metadata.generation! - 1);
    expect(await health(issuer)).toEqual({ kstatus: 'InProgress', argocd: 'Progressing' });
  });

  it('is Failed/Degraded for a state that needs a person', async () => {
    // Refused before any order (another controller's issuerRef.group): only a person ends it.
    await operator.stop();
    operator = await startOperatorProcess({ clusterResourceNamespace: systemNamespace, env: { CERTKEEPER_SHUTDOWN_GRACE_SECONDS: '1' } });
    await kube.create(certificates, { apiVersion: API_VERSION, kind: 'Certificate', metadata: { name: 'foreign', namespace: ns }, spec: { secretName: 'foreign-tls', issuerRef: { name: 'gts', group: 'cert-manager.io' }, dnsNames: [testName('foreign')] } } as KubeObject);
    const refused = await waitFor('the refusal', async () => {
      const c = await kube.get<StatusObject>(certificates, ns, 'foreign');
      return c?.status?.conditions?.some((x) => x.type === 'Ready' && x.reason === 'IssuerGroupNotServed') ? c : undefined;
    });
    expect(await health(refused)).toEqual({ kstatus: 'Failed', argocd: 'Degraded' });

    // Three failed issuance attempts in a row (the status as the controller would write it).
    const first = (await kube.get<StatusObject>(certificates, ns, 'first'))!;
    const generation = first.metadata.generation!;
    const failing: StatusObject = {
      ...first,
      status: {
        failedIssuanceAttempts: 3,
        conditions: [{ type: 'Ready', status: 'False', reason: 'Failed', message: 'http-01 challenge failed; attempt 3', observedGeneration: generation, lastTransitionTime: new Date().toISOString() }],
      },
    };
    expect(await health({ ...failing, status: { ...failing.status, ...withHealth('Certificate', { generation, conditions: failing.status!.conditions, failedIssuanceAttempts: 3 }, new Date()) } } as StatusObject)).toEqual({ kstatus: 'Failed', argocd: 'Degraded' });
  });
});
