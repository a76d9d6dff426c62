// Two installations of certkeeper in one cluster (two Helm releases in
// different namespaces, or an old one left behind): both watch every Issuer,
// each has its own leader and its own EAB ledger. What they share is the
// Issuer's account Secret; its send mark, written on the version the decision
// was made from, lets exactly one of them send the EAB key. Witness: the
// GTS-like CA's journal (before the mark, most rounds showed 201 then 403).
// Likewise for Certificates: the next-key Secret names the installation that
// stored the key, and the other one waits instead of ordering (the CA's order
// list is the witness).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configMaps, ledgerEntryName } from '../src/acme/eab-ledger.ts';
import { API_VERSION } from '../src/api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { getJournal, getOrders } from './env/ca-client.ts';
import { freePort } from './env/ports.ts';
import { createEabIssuer, createNamespace, env, kubeClient, waitFor } from './helpers.ts';
import { startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };
const certificates = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'certificates', namespaced: true };
interface IssuerObject extends KubeObject {
  status?: { conditions?: { type: string; status: string; reason: string }[] };
}

let kube: KubeClient;
const installations: { namespace: string; operator: OperatorProcess }[] = [];

beforeAll(async () => {
  kube = await kubeClient();
  for (const name of ['release-a', 'release-b']) {
    const namespace = await createNamespace(kube, name);
    // Each installation answers HTTP-01 on a port of its own; only accounts matter here.
    const operator = await startOperatorProcess({ clusterResourceNamespace: namespace, http01Port: await freePort() });
    installations.push({ namespace, operator });
  }
});

afterAll(async () => {
  for (const { operator } of installations) await operator.stop();
  kube?.close();
});

describe('two certkeeper installations watching the same Issuer', () => {
  it.each([1, 2, 3])('send its EAB key once, and both end up using the one account (round %i)', async () => {
    const ns = await createNamespace(kube, 'two-installs');
    const key = await createEabIssuer(kube, ns);
    // Each installation's ledger ends at "registered" for this key: both have settled on the account
    // (the one that did not send records the account it found registered).
    for (const { namespace, operator } of installations) {
      await waitFor(`the ledger in ${namespace} to record the registration`, async () => {
        const entry = await kube.get<KubeObject & { data?: Record<string, string> }>(configMaps, namespace, ledgerEntryName(key.keyId));
        return entry?.data?.outcome === 'registered' || undefined;
      }, { timeoutMs: 90_000 }).catch(async (error: Error) => {
        const entry = await kube.get<KubeObject & { data?: Record<string, string> }>(configMaps, namespace, ledgerEntryName(key.keyId));
        const lines = operator.lines.filter((l) => l.includes(ns)).slice(-30);
        throw new Error(`${error.message}\nledger: ${JSON.stringify(entry?.data)}\noperator:\n${lines.join('\n')}`);
      });
    }
    const issuer = await kube.get<IssuerObject>(issuers, ns, 'gts');
    expect(issuer?.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'AccountReady' });
    const sends = (await getJournal(env().acme.managementUrl)).filter((e) => e.kid === key.keyId).map((e) => e.status);
    expect(sends).toEqual([201]);
  });
});

describe('an installation that finds an account registered by another', () => {
  it('records the key ID in its own ledger, without a CA request carrying the key', async () => {
    const late = installations[1]!;
    await late.operator.stop();
    const ns = await createNamespace(kube, 'joins-later');
    const key = await createEabIssuer(kube, ns);
    const ledgerOutcome = async (namespace: string) => (await kube.get<KubeObject & { data?: Record<string, string> }>(configMaps, namespace, ledgerEntryName(key.keyId)))?.data?.outcome;
    await waitFor('the first installation to register', async () => (await ledgerOutcome(installations[0]!.namespace)) === 'registered' || undefined);
    expect(await ledgerOutcome(late.namespace)).toBeUndefined();
    late.operator = await startOperatorProcess({ clusterResourceNamespace: late.namespace, http01Port: await freePort() });
    await waitFor('the late installation to record it', async () => (await ledgerOutcome(late.namespace)) === 'registered' || undefined);
    expect((await getJournal(env().acme.managementUrl)).filter((e) => e.kid === key.keyId).map((e) => e.status)).toEqual([201]);
  });
});

describe('two certkeeper installations watching the same Certificate', () => {
  it.each([1, 2])('open one order between them (round %i)', async () => {
    const ns = await createNamespace(kube, 'two-installs-cert');
    const dns = env().dns;
    await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tsig', namespace: ns }, stringData: { secret: dns.tsig.secret } } as KubeObject);
    // DNS-01: both installations can answer (HTTP-01 would reach only the one on Pebble's port).
    await createEabIssuer(kube, ns, 'gts', [{ dns01: { rfc2136: { nameserver: dns.server, tsigKeyName: dns.tsig.name, tsigAlgorithm: 'HMACSHA256', tsigSecretSecretRef: { name: 'tsig' } } } }]);
    await waitFor('the Issuer to be ready', async () => (await kube.get<IssuerObject>(issuers, ns, 'gts'))?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') || undefined);
    const host = `both-${process.pid}-${ns}.${dns.zone}`;
    await kube.create(certificates, {
      apiVersion: API_VERSION, kind: 'Certificate', metadata: { name: 'web', namespace: ns },
      spec: { secretName: 'web-tls', issuerRef: { name: 'gts' }, dnsNames: [host] },
    } as KubeObject);
    await waitFor('the certificate', async () => (await kube.get<KubeObject & { data?: Record<string, string> }>(core.secrets, ns, 'web-tls'))?.data?.['tls.crt'] || undefined, { timeoutMs: 90_000 });
    // Ready. (Not necessarily at revision 1: both installations write the status from their own copy, and
    // one made before the other's issuance can take its revision back; README, Known limitations.)
    await waitFor('Ready', async () => {
      const c = await kube.get<KubeObject & { status?: { conditions?: { type: string; status: string }[] } }>(certificates, ns, 'web');
      return c?.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') || undefined;
    }, { timeoutMs: 90_000 });
    const orders = (await getOrders(env().acme.managementUrl)).filter((o) => o.status === 201 && o.identifiers.some((i) => i.value === host));
    expect(orders).toHaveLength(1);
  });
});
