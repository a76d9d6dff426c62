// DNS-01 with the cloudDNS solver against a contract fake of Cloud DNS's API
// v1 (test/env/fakes/clouddns.ts; no emulator exists) backed by the test BIND,
// with the real operator and the GTS-like CA: a service account key from a
// Secret (self-signed JWTs the fake verifies with the key's public half), and
// Application Default Credentials through a fake metadata server (as on GKE
// with Workload Identity) for a ClusterIssuer.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../src/kube/client.ts';
import { startCloudDnsFake, type CloudDnsFake } from './env/fakes/clouddns.ts';
import { startMetadataFake, type MetadataFake } from './env/fakes/gce-metadata.ts';
import { createNamespace, env, kubeClient } from './helpers.ts';
import { createIssuer, createSecret, credentialsFailureWastesNoOrder, expectNoSecretsAnywhere, issueWildcardAndPlain, startDnsOperator } from './dns01-providers.ts';
import type { OperatorProcess } from './operator-process.ts';

const unique = () => randomBytes(3).toString('hex');
const project = 'certkeeper-test';

function serviceAccountKey(email: string) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem,
    json: JSON.stringify({
      type: 'service_account', project_id: project, private_key_id: randomBytes(20).toString('hex'), private_key: privatePem,
      client_email: email, client_id: '1234567890', token_uri: 'https://oauth2.googleapis.com/token',
    }),
  };
}

const email = `dns01@${project}.iam.gserviceaccount.com`;
const key = serviceAccountKey(email);
const impostor = serviceAccountKey(email); // the same account name, a key the fake does not know

let kube: KubeClient;
let fake: CloudDnsFake;
let metadata: MetadataFake;
let operator: OperatorProcess;
let ns: string;
let systemNs: string;

beforeAll(async () => {
  kube = await kubeClient();
  metadata = await startMetadataFake(project);
  fake = await startCloudDnsFake(env().dns, { project, serviceAccounts: [{ email, publicKeyPem: key.publicKeyPem }], accessTokens: metadata.tokens });
  systemNs = await createNamespace(kube, 'gcp-system');
  ns = await createNamespace(kube, 'gcp');
  operator = await startDnsOperator(systemNs, { env: { CERTKEEPER_CLOUDDNS_API_URL: fake.url, GCE_METADATA_HOST: metadata.host, GOOGLE_APPLICATION_CREDENTIALS: '' } });
  await createSecret(kube, ns, 'gcp', { 'key.json': key.json, impostor: impostor.json });
  await createIssuer(kube, { namespace: ns, name: 'key', solvers: [{ dns01: { cloudDNS: { project, serviceAccountSecretRef: { name: 'gcp', key: 'key.json' } } } }] });
  await createIssuer(kube, { namespace: ns, name: 'impostor', solvers: [{ dns01: { cloudDNS: { project, hostedZoneName: fake.zoneName, serviceAccountSecretRef: { name: 'gcp', key: 'impostor' } } } }] });
  await createIssuer(kube, { namespace: ns, name: 'ambient', solvers: [{ dns01: { cloudDNS: { project } } }] });
  await createIssuer(kube, { namespace: systemNs, name: `adc-${systemNs}`, cluster: true, solvers: [{ dns01: { cloudDNS: { project, hostedZoneName: fake.zoneName } } }] });
});

afterAll(async () => {
  await operator?.stop();
  await fake?.stop();
  await metadata?.stop();
  kube?.close();
});

describe('cloudDNS', () => {
  it('issues a wildcard and its base name with a service account key, finding the managed zone, and removes the records', async () => {
    await issueWildcardAndPlain(kube, { namespace: ns, name: 'key', base: `gcp-${unique()}.${env().dns.zone}`, issuerRef: { name: 'key' }, recordsLeft: async () => fake.rrsets().map((s) => s.name) });
    expect(metadata.tokens.size).toBe(0);
  });

  it('uses Application Default Credentials from the metadata server for a ClusterIssuer (GKE Workload Identity)', async () => {
    await issueWildcardAndPlain(kube, { namespace: ns, name: 'adc', base: `gcpadc-${unique()}.${env().dns.zone}`, issuerRef: { name: `adc-${systemNs}`, kind: 'ClusterIssuer' }, recordsLeft: async () => fake.rrsets().map((s) => s.name) });
    expect(metadata.tokens.size).toBeGreaterThan(0);
  });

  it('reports a key Cloud DNS does not accept, and ADC denied to a namespaced Issuer, without an order', async () => {
    await credentialsFailureWastesNoOrder(kube, {
      namespace: ns, name: 'impostor', base: `gcpi-${unique()}.${env().dns.zone}`, issuerRef: { name: 'impostor' },
      expected: /^cloudDNS: GET \/dns\/v1\/projects\/certkeeper-test\/managedZones\/\S+ answered 401: UNAUTHENTICATED: Request had invalid authentication credentials.* \(Unauthorized/,
    });
    await credentialsFailureWastesNoOrder(kube, {
      namespace: ns, name: 'ambient', base: `gcpa-${unique()}.${env().dns.zone}`, issuerRef: { name: 'ambient' },
      expected: /^cloudDNS: no serviceAccountSecretRef, and an Issuer in namespace \S+ may not use the operator's Application Default Credentials/,
    });
  });

  it('keeps keys and tokens out of logs, events and status', async () => {
    const pemBody = (pem: string) => pem.split('\n').slice(1, 3).join('');
    await expectNoSecretsAnywhere(kube, [ns, systemNs], [pemBody(key.privatePem), pemBody(impostor.privatePem), ...metadata.tokens]);
  });
});
