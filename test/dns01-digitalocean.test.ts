// DNS-01 with the digitalocean solver against a contract fake of DigitalOcean's
// API v2 (test/env/fakes/digitalocean.ts; no emulator exists), backed by the
// test BIND, with the real operator and the GTS-like CA.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../src/kube/client.ts';
import { startDigitalOceanFake, type DigitalOceanFake } from './env/fakes/digitalocean.ts';
import { createNamespace, env, kubeClient } from './helpers.ts';
import { createIssuer, createSecret, credentialsFailureWastesNoOrder, expectNoSecretsAnywhere, issueWildcardAndPlain, startDnsOperator } from './dns01-providers.ts';
import type { OperatorProcess } from './operator-process.ts';

const unique = () => randomBytes(3).toString('hex');
const token = `dop_v1_${randomBytes(32).toString('hex')}`;
const wrongToken = `dop_v1_${randomBytes(32).toString('hex')}`;

let kube: KubeClient;
let fake: DigitalOceanFake;
let operator: OperatorProcess;
let ns: string;
let systemNs: string;

beforeAll(async () => {
  kube = await kubeClient();
  fake = await startDigitalOceanFake(env().dns, token);
  systemNs = await createNamespace(kube, 'do-system');
  ns = await createNamespace(kube, 'do');
  operator = await startDnsOperator(systemNs, { env: { CERTKEEPER_DIGITALOCEAN_API_URL: `${fake.url}/v2` } });
  await createSecret(kube, ns, 'digitalocean', { 'access-token': token, wrong: wrongToken });
  await createIssuer(kube, { namespace: ns, name: 'do', solvers: [{ dns01: { digitalocean: { tokenSecretRef: { name: 'digitalocean', key: 'access-token' } } } }] });
  await createIssuer(kube, { namespace: ns, name: 'wrong', solvers: [{ dns01: { digitalocean: { tokenSecretRef: { name: 'digitalocean', key: 'wrong' } } } }] });
});

afterAll(async () => {
  await operator?.stop();
  await fake?.stop();
  kube?.close();
});

describe('digitalocean', () => {
  it('issues a wildcard and its base name, finding the domain, and deletes the records', async () => {
    await issueWildcardAndPlain(kube, { namespace: ns, name: 'do', base: `do-${unique()}.${env().dns.zone}`, issuerRef: { name: 'do' }, recordsLeft: async () => fake.records().map((r) => r.name) });
    expect(fake.log.filter((l) => l.startsWith('POST '))).toHaveLength(2);
    expect(fake.log.filter((l) => l.startsWith('DELETE '))).toHaveLength(2);
  });

  it('reports a refused token as a condition without opening an order', async () => {
    await credentialsFailureWastesNoOrder(kube, {
      namespace: ns, name: 'wrong', base: `dow-${unique()}.${env().dns.zone}`, issuerRef: { name: 'wrong' },
      expected: /^digitalocean: GET \/v2\/domains\/\S+ answered 401: Unauthorized: Unable to authenticate you \(Unauthorized: check the credentials/,
    });
  });

  it('reports a missing token Secret entry as a condition without opening an order', async () => {
    await createIssuer(kube, { namespace: ns, name: 'no-entry', solvers: [{ dns01: { digitalocean: { tokenSecretRef: { name: 'digitalocean', key: 'absent' } } } }] });
    await credentialsFailureWastesNoOrder(kube, {
      namespace: ns, name: 'no-entry', base: `don-${unique()}.${env().dns.zone}`, issuerRef: { name: 'no-entry' },
      expected: /^digitalocean: Secret \S+\/digitalocean has no "absent" entry \(Unauthorized/,
    });
  });

  it('keeps the token out of logs, events and status', async () => {
    await expectNoSecretsAnywhere(kube, [ns, systemNs], [token, wrongToken]);
  });
});
