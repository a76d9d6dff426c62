// An operator run outside the cluster keeps the default cluster resource
// namespace, which may not exist there. The EAB ledger lives in it, and
// certkeeper sends no EAB key it has not recorded: the Issuer must say why it
// waits, in its condition, not only in the log (issue #21).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { getJournal } from './env/ca-client.ts';
import { freePort } from './env/ports.ts';
import { createEabIssuer, createNamespace, env, kubeClient, waitFor } from './helpers.ts';
import { startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };
interface IssuerObject extends KubeObject {
  status?: { conditions?: { type: string; status: string; reason: string; message: string }[] };
}

let kube: KubeClient;
let operator: OperatorProcess;
let leaseNamespace: string;
const missing = `certkeeper-missing-${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  kube = await kubeClient();
  leaseNamespace = await createNamespace(kube, 'lease');
  operator = await startOperatorProcess({
    clusterResourceNamespace: missing, http01Port: await freePort(), args: ['--leader-election-namespace', leaseNamespace],
  });
});

afterAll(async () => {
  await operator?.stop();
  kube?.close();
});

describe('a cluster resource namespace that does not exist', () => {
  it('is named in the Issuer\'s condition; nothing is sent until it exists, then the account registers once', async () => {
    const ns = await createNamespace(kube, 'no-ledger-ns');
    const key = await createEabIssuer(kube, ns);
    const ready = await waitFor('the condition to name the missing namespace', async () => {
      const issuer = await kube.get<IssuerObject>(issuers, ns, 'gts');
      const condition = issuer?.status?.conditions?.find((c) => c.type === 'Ready');
      return condition?.message.includes(`the namespace ${missing} does not exist`) ? condition : undefined;
    });
    expect(ready).toMatchObject({ status: 'False', reason: 'Retrying' });
    // The operator said so once, at start.
    const warnings = operator.records().filter((r) => String(r.msg).startsWith(`the cluster resource namespace ${missing} does not exist`));
    expect(warnings).toHaveLength(1);
    expect(ready.message).toContain('--cluster-resource-namespace');
    expect((await getJournal(env().acme.managementUrl)).filter((e) => e.kid === key.keyId)).toEqual([]);

    await kube.create(core.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: missing } });
    await waitFor('the Issuer to be ready once the namespace exists', async () => {
      const issuer = await kube.get<IssuerObject>(issuers, ns, 'gts');
      return issuer?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') || undefined;
    }, { timeoutMs: 90_000 });
    expect((await getJournal(env().acme.managementUrl)).filter((e) => e.kid === key.keyId).map((e) => e.status)).toEqual([201]);
  });
});
