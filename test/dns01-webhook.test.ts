// DNS-01 with the webhook solver: certkeeper → the real API server's
// aggregation layer → a webhook solver built on cert-manager's own framework
// (tools/webhook-solver, RFC 2136 to the test BIND) → Pebble validating through
// BIND. cert-manager's protocol unchanged, so community solvers work as well.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../src/api/meta.ts';
import type { KubeClient, KubeObject } from '../src/kube/client.ts';
import { apiServices, startWebhookSolver, type RunningWebhook } from './env/webhook.ts';
import { createNamespace, env, kubeClient, waitFor } from './helpers.ts';
import { certificates, createIssuer, createSecret, credentialsFailureWastesNoOrder, expectNoSecretsAnywhere, issueWildcardAndPlain, startDnsOperator, type CertificateObject } from './dns01-providers.ts';
import type { OperatorProcess } from './operator-process.ts';

const unique = () => randomBytes(3).toString('hex');
const groupName = `acme-${unique()}.certkeeper.test`;

let kube: KubeClient;
let webhook: RunningWebhook;
let operator: OperatorProcess;
let ns: string;
let systemNs: string;

const solver = (over: Record<string, unknown> = {}, solverName = 'rfc2136') => [{
  dns01: {
    webhook: {
      groupName, solverName,
      config: { nameserver: env().dns.server, tsigKeyName: env().dns.tsig.name, tsigAlgorithm: 'HMACSHA256', tsigSecretSecretRef: { name: 'tsig', key: 'secret' }, ...over },
    },
  },
}];

beforeAll(async () => {
  kube = await kubeClient();
  systemNs = await createNamespace(kube, 'webhook-system');
  ns = await createNamespace(kube, 'webhook');
  webhook = await startWebhookSolver(kube, { workDir: mkdtempSync(path.join(os.tmpdir(), 'certkeeper-webhook-')), kubeconfig: env().kubeconfig, namespace: systemNs, groupName });
  await waitFor('the APIService to be Available', async () => {
    const service = await kube.get<KubeObject & { status?: { conditions?: { type: string; status: string; message?: string }[] } }>(apiServices, undefined, `v1alpha1.${groupName}`);
    return service?.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True');
  }, { timeoutMs: 60_000 });
  operator = await startDnsOperator(systemNs);
  await createSecret(kube, ns, 'tsig', { secret: env().dns.tsig.secret });
  await createSecret(kube, ns, 'tsig-wrong', { secret: randomBytes(32).toString('base64') });
  await createIssuer(kube, { namespace: ns, name: 'webhook', solvers: solver() });
  await createIssuer(kube, { namespace: ns, name: 'wrong', solvers: solver({ tsigSecretSecretRef: { name: 'tsig-wrong', key: 'secret' } }) });
  await createIssuer(kube, { namespace: ns, name: 'missing', solvers: solver({}, 'no-such-solver') });
});

afterAll(async () => {
  await operator?.stop();
  await webhook?.stop();
  kube?.close();
});

describe('webhook (cert-manager\'s webhook solver protocol)', () => {
  it('issues a wildcard and its base name through the aggregation layer, and the solver removes the records', async () => {
    await issueWildcardAndPlain(kube, { namespace: ns, name: 'webhook', base: `wh-${unique()}.${env().dns.zone}`, issuerRef: { name: 'webhook' } });
  });

  it('reports a solver the APIService does not serve as a condition without opening an order', async () => {
    await credentialsFailureWastesNoOrder(kube, {
      namespace: ns, name: 'missing', base: `whm-${unique()}.${env().dns.zone}`, issuerRef: { name: 'missing' },
      expected: new RegExp(`^webhook: ${groupName.replace(/\./g, '\\.')}/v1alpha1 has no solver named no-such-solver \\(Misconfigured`),
    });
  });

  it('reports the solver\'s own failure (a TSIG key BIND refuses) as the solver words it', async () => {
    await kube.create(certificates, {
      apiVersion: API_VERSION, kind: 'Certificate', metadata: { name: 'wrong', namespace: ns },
      spec: { secretName: 'wrong-tls', issuerRef: { name: 'wrong' }, dnsNames: [`whw-${unique()}.${env().dns.zone}`] },
    } as KubeObject);
    const issuing = await waitFor('the failure', async () => {
      const c = (await kube.get<CertificateObject>(certificates, ns, 'wrong'))?.status?.conditions?.find((x) => x.type === 'Issuing');
      return c?.status === 'False' ? c : undefined;
    });
    expect(issuing.message).toMatch(new RegExp(`^webhook: Present at rfc2136\\.${groupName.replace(/\./g, '\\.')} failed: DNS update failed: dns: bad authentication \\(Failed`));
  });

  it('keeps the TSIG secret out of logs, events and status', async () => {
    await expectNoSecretsAnywhere(kube, [ns, systemNs], [env().dns.tsig.secret]);
  });
});
