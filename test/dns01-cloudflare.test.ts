// DNS-01 with the cloudflare solver against a contract fake of Cloudflare's
// API v4 (test/env/fakes/cloudflare.ts; no Cloudflare emulator exists), backed
// by the test BIND, with the real operator and the GTS-like CA: an API token
// and a global key, a refused token costing no order, rate limits retried
// (Retry-After) and, when they persist, reported as RateLimited.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../src/kube/client.ts';
import { startCloudflareFake, type CloudflareFake } from './env/fakes/cloudflare.ts';
import { createNamespace, env, kubeClient } from './helpers.ts';
import { createIssuer, createSecret, credentialsFailureWastesNoOrder, expectNoSecretsAnywhere, issueWildcardAndPlain, startDnsOperator } from './dns01-providers.ts';
import type { OperatorProcess } from './operator-process.ts';

const unique = () => randomBytes(3).toString('hex');
const token = `cf-token-${randomBytes(16).toString('hex')}`;
const globalKey = `cf-key-${randomBytes(16).toString('hex')}`;
const wrongToken = `cf-wrong-${randomBytes(16).toString('hex')}`;

let kube: KubeClient;
let fake: CloudflareFake;
let operator: OperatorProcess;
let ns: string;
let systemNs: string;

beforeAll(async () => {
  kube = await kubeClient();
  fake = await startCloudflareFake(env().dns, { token, email: 'dns@example.com', key: globalKey });
  systemNs = await createNamespace(kube, 'cf-system');
  ns = await createNamespace(kube, 'cf');
  operator = await startDnsOperator(systemNs, { env: { CERTKEEPER_CLOUDFLARE_API_URL: fake.url } });
  await createSecret(kube, ns, 'cloudflare', { 'api-token': token, 'api-key': globalKey, wrong: wrongToken });
  await createIssuer(kube, { namespace: ns, name: 'token', solvers: [{ dns01: { cloudflare: { apiTokenSecretRef: { name: 'cloudflare', key: 'api-token' } } } }] });
  await createIssuer(kube, { namespace: ns, name: 'key', solvers: [{ dns01: { cloudflare: { email: 'dns@example.com', apiKeySecretRef: { name: 'cloudflare', key: 'api-key' } } } }] });
  await createIssuer(kube, { namespace: ns, name: 'wrong', solvers: [{ dns01: { cloudflare: { apiTokenSecretRef: { name: 'cloudflare', key: 'wrong' } } } }] });
});

afterAll(async () => {
  await operator?.stop();
  await fake?.stop();
  kube?.close();
});

describe('cloudflare', () => {
  it('issues a wildcard and its base name with an API token, finding the zone, and deletes the records', async () => {
    await issueWildcardAndPlain(kube, { namespace: ns, name: 'token', base: `cf-${unique()}.${env().dns.zone}`, issuerRef: { name: 'token' }, recordsLeft: async () => fake.records().map((r) => r.name) });
    // The zone was looked up by name, from the longest candidate down; two records were created and deleted.
    expect(fake.log.filter((l) => l.startsWith('POST '))).toHaveLength(2);
    expect(fake.log.filter((l) => l.startsWith('DELETE '))).toHaveLength(2);
  });

  it('issues with a global API key and email', async () => {
    await issueWildcardAndPlain(kube, { namespace: ns, name: 'key', base: `cfk-${unique()}.${env().dns.zone}`, issuerRef: { name: 'key' }, recordsLeft: async () => fake.records().map((r) => r.name) });
  });

  it('reports a refused token as a condition without opening an order', async () => {
    await credentialsFailureWastesNoOrder(kube, {
      namespace: ns, name: 'wrong', base: `cfw-${unique()}.${env().dns.zone}`, issuerRef: { name: 'wrong' },
      expected: /^cloudflare: GET \/client\/v4\/zones answered 403: 10000 Authentication error \(Unauthorized: check the credentials and their permissions\)/,
    });
  });

  it('waits out a short rate limit (Retry-After) and issues', async () => {
    fake.failNext(2, { status: 429, headers: { 'Retry-After': '1' }, body: { success: false, errors: [{ code: 971, message: 'Please wait and consider throttling your request speed' }], messages: [], result: null } });
    const before = fake.log.length;
    await issueWildcardAndPlain(kube, { namespace: ns, name: 'throttled', base: `cft-${unique()}.${env().dns.zone}`, issuerRef: { name: 'token' }, recordsLeft: async () => fake.records().map((r) => r.name) });
    // The two throttled requests were sent again.
    expect(fake.log.length - before).toBeGreaterThan(8);
  });

  it('reports a lasting rate limit as RateLimited without opening an order', async () => {
    fake.failNext(1000, { status: 429, headers: { 'Retry-After': '0' }, body: { success: false, errors: [{ code: 971, message: 'Please wait and consider throttling your request speed' }], messages: [], result: null } });
    try {
      await credentialsFailureWastesNoOrder(kube, {
        namespace: ns, name: 'limited', base: `cfl-${unique()}.${env().dns.zone}`, issuerRef: { name: 'token' },
        expected: /^cloudflare: GET \/client\/v4\/zones answered 429: 971 Please wait.* after 4 attempts \(RateLimited: .*\); attempt 1, next in 30 s/,
      });
    } finally {
      fake.failNext(0, { status: 200 });
    }
  });

  it('keeps the token and key out of logs, events and status', async () => {
    await expectNoSecretsAnywhere(kube, [ns, systemNs], [token, globalKey, wrongToken]);
  });
});
