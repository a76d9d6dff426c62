// DNS-01 with the azureDNS solver against a contract fake of Azure DNS's
// Resource Manager API and a fake Entra ID token endpoint
// (test/env/fakes/azuredns.ts, entra-id.ts; no emulator exists), both over
// HTTPS, backed by the test BIND, with the real operator and the GTS-like CA:
// a service principal's client secret, and AKS workload identity (a real
// ServiceAccount token from the API server in the federated token file).
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { startAzureDnsFake, type AzureDnsFake } from './env/fakes/azuredns.ts';
import { startEntraIdFake, type EntraIdFake } from './env/fakes/entra-id.ts';
import { createTestCa } from './env/pki.ts';
import { createNamespace, env, kubeClient } from './helpers.ts';
import { createIssuer, createSecret, credentialsFailureWastesNoOrder, expectNoSecretsAnywhere, issueWildcardAndPlain, startDnsOperator } from './dns01-providers.ts';
import type { OperatorProcess } from './operator-process.ts';

const unique = () => randomBytes(3).toString('hex');
const tenantId = randomUUID();
const subscriptionId = randomUUID();
const resourceGroup = 'dns-rg';
const spClientId = randomUUID();
const spSecret = `azsecret~${randomBytes(24).toString('base64url')}`;
const wrongSecret = `azwrong~${randomBytes(24).toString('base64url')}`;
const wiClientId = randomUUID();

let kube: KubeClient;
let entra: EntraIdFake;
let arm: AzureDnsFake;
let operator: OperatorProcess;
let ns: string;
let systemNs: string;
let saToken: string;

beforeAll(async () => {
  kube = await kubeClient();
  // The fakes serve HTTPS (Azure's library refuses plain HTTP) with a certificate of a CA made for this file.
  const ca = await createTestCa('certkeeper azure fakes');
  const tls = await ca.issue({ commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usages: ['server'] });
  const caFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'certkeeper-azure-ca-')), 'ca.pem');
  writeFileSync(caFile, ca.cert);
  systemNs = await createNamespace(kube, 'az-system');
  ns = await createNamespace(kube, 'az');
  entra = await startEntraIdFake({ tenantId, tls, secrets: { [spClientId]: spSecret }, federated: { [wiClientId]: `system:serviceaccount:${systemNs}:certkeeper` } });
  arm = await startAzureDnsFake(env().dns, { subscriptionId, resourceGroup, tls, tokens: entra.tokens });
  // The federated token AKS's workload identity webhook projects into the pod: a real one from the API server.
  await kube.create(core.serviceaccounts, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'certkeeper', namespace: systemNs } } as KubeObject);
  saToken = (await kube.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${systemNs}/serviceaccounts/certkeeper/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: ['api://AzureADTokenExchange'], expirationSeconds: 3600 } },
  }, 'write')).status.token;
  const tokenFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'certkeeper-azure-')), 'azure-identity-token');
  writeFileSync(tokenFile, saToken, { mode: 0o600 });
  operator = await startDnsOperator(systemNs, {
    env: {
      NODE_EXTRA_CA_CERTS: caFile,
      AZURE_AUTHORITY_HOST: entra.url,
      CERTKEEPER_AZURE_RESOURCE_MANAGER_URL: arm.url,
      AZURE_FEDERATED_TOKEN_FILE: tokenFile,
      AZURE_TENANT_ID: tenantId,
      AZURE_CLIENT_ID: wiClientId,
    },
  });
  await createSecret(kube, ns, 'azure', { 'client-secret': spSecret, wrong: wrongSecret });
  const solver = (over: Record<string, unknown>) => [{ dns01: { azureDNS: { subscriptionID: subscriptionId, resourceGroupName: resourceGroup, ...over } } }];
  await createIssuer(kube, { namespace: ns, name: 'sp', solvers: solver({ tenantID: tenantId, clientID: spClientId, clientSecretSecretRef: { name: 'azure', key: 'client-secret' } }) });
  await createIssuer(kube, { namespace: ns, name: 'wrong', solvers: solver({ tenantID: tenantId, clientID: spClientId, hostedZoneName: env().dns.zone, clientSecretSecretRef: { name: 'azure', key: 'wrong' } }) });
  await createIssuer(kube, { namespace: systemNs, name: `wi-${systemNs}`, cluster: true, solvers: solver({ hostedZoneName: env().dns.zone, managedIdentity: { clientID: wiClientId } }) });
});

afterAll(async () => {
  await operator?.stop();
  await arm?.stop();
  await entra?.stop();
  kube?.close();
});

describe('azureDNS', () => {
  it('issues a wildcard and its base name with a service principal, finding the zone, and removes the record set', async () => {
    await issueWildcardAndPlain(kube, { namespace: ns, name: 'sp', base: `az-${unique()}.${env().dns.zone}`, issuerRef: { name: 'sp' }, recordsLeft: async () => arm.recordSets().map((s) => s.name) });
    expect([...entra.tokens.values()].some((t) => t.how === 'secret' && t.clientId === spClientId)).toBe(true);
  });

  it('uses AKS workload identity (the federated token file) for a ClusterIssuer', async () => {
    await issueWildcardAndPlain(kube, { namespace: ns, name: 'wi', base: `azwi-${unique()}.${env().dns.zone}`, issuerRef: { name: `wi-${systemNs}`, kind: 'ClusterIssuer' }, recordsLeft: async () => arm.recordSets().map((s) => s.name) });
    expect([...entra.tokens.values()].some((t) => t.how === 'assertion' && t.subject === `system:serviceaccount:${systemNs}:certkeeper`)).toBe(true);
  });

  it('reports a wrong client secret as a condition without opening an order', async () => {
    await credentialsFailureWastesNoOrder(kube, {
      namespace: ns, name: 'wrong', base: `azw-${unique()}.${env().dns.zone}`, issuerRef: { name: 'wrong' },
      expected: /^azureDNS: getting a token: .*AADSTS7000215.*\(Unauthorized/,
    });
  });

  it('keeps secrets and tokens out of logs, events and status', async () => {
    await expectNoSecretsAnywhere(kube, [ns, systemNs], [spSecret, wrongSecret, saToken.split('.')[2]!, ...[...entra.tokens.keys()].map((t) => t.split('.')[2]!)]);
  });
});
