// The DNS questions of DNS-01 asked of the real BIND: the zone of a name (SOA
// walk), where a _acme-challenge CNAME points (cnameStrategy Follow), and where
// the propagation check looks (the zone's authoritative servers from its NS
// records, or the recursive nameservers with -only); and an issuance whose
// records go to the CNAME's target with cnameStrategy Follow.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../src/kube/client.ts';
import { findZone, followCname, propagationServers } from '../src/solvers/dns01/lookup.ts';
import { queryTxt } from '../src/solvers/dns01/provider.ts';
import { addCname } from './env/bind.ts';
import { startDigitalOceanFake, type DigitalOceanFake } from './env/fakes/digitalocean.ts';
import { createNamespace, env, kubeClient } from './helpers.ts';
import { createIssuer, createSecret, issueWildcardAndPlain, startDnsOperator } from './dns01-providers.ts';
import type { OperatorProcess } from './operator-process.ts';

const unique = () => randomBytes(3).toString('hex');
const opts = () => ({ recursiveNameservers: [env().dns.server], recursiveOnly: false, timeoutMs: 1_000 });

describe('DNS lookups against BIND', () => {
  const removals: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const remove of removals) await remove();
  });

  it('finds the zone of a challenge name by walking up to the SOA', async () => {
    expect(await findZone(`_acme-challenge.a.b.${env().dns.zone}.`, opts())).toBe(env().dns.zone);
    await expect(findZone('_acme-challenge.www.example.org.', opts())).rejects.toThrow(/example\.org/);
  });

  it('follows a CNAME chain, and keeps a name without one', async () => {
    const zone = env().dns.zone;
    const id = unique();
    removals.push(await addCname(env().dns, `_acme-challenge.a-${id}.${zone}`, `hop-${id}.${zone}`));
    removals.push(await addCname(env().dns, `hop-${id}.${zone}`, `_acme-challenge.target-${id}.${zone}`));
    expect(await followCname(`_acme-challenge.a-${id}.${zone}.`, opts())).toBe(`_acme-challenge.target-${id}.${zone}.`);
    expect(await followCname(`_acme-challenge.none-${id}.${zone}.`, opts())).toBe(`_acme-challenge.none-${id}.${zone}.`);
  });

  it('checks at the zone\'s authoritative servers (its NS records, port 53), or at the recursive nameservers with -only', async () => {
    // The test zone's NS is ns.<zone>, which the zone's wildcard resolves to 127.0.0.1.
    expect(await propagationServers(`_acme-challenge.x.${env().dns.zone}.`, opts())).toEqual(['127.0.0.1:53']);
    expect(await propagationServers(`_acme-challenge.x.${env().dns.zone}.`, { ...opts(), recursiveOnly: true })).toEqual([env().dns.server]);
  });
});

describe('cnameStrategy Follow', () => {
  let kube: KubeClient;
  let fake: DigitalOceanFake;
  let operator: OperatorProcess;
  let ns: string;
  let removeCname: () => Promise<void>;
  const token = `dop_v1_${randomBytes(32).toString('hex')}`;

  beforeAll(async () => {
    kube = await kubeClient();
    fake = await startDigitalOceanFake(env().dns, token);
    const systemNs = await createNamespace(kube, 'cname-system');
    ns = await createNamespace(kube, 'cname');
    operator = await startDnsOperator(systemNs, { env: { CERTKEEPER_DIGITALOCEAN_API_URL: `${fake.url}/v2` } });
    await createSecret(kube, ns, 'do', { 'access-token': token });
    await createIssuer(kube, { namespace: ns, name: 'follow', solvers: [{ dns01: { cnameStrategy: 'Follow', digitalocean: { tokenSecretRef: { name: 'do', key: 'access-token' } } } }] });
  });

  afterAll(async () => {
    await operator?.stop();
    await removeCname?.();
    await fake?.stop();
    kube?.close();
  });

  it('publishes at the CNAME\'s target, where the CA follows it, and removes it there', async () => {
    const zone = env().dns.zone;
    const base = `alias-${unique()}.${zone}`;
    const target = `_acme-challenge.delegated-${unique()}.${zone}`;
    removeCname = await addCname(env().dns, `_acme-challenge.${base}`, target);
    await issueWildcardAndPlain(kube, { namespace: ns, name: 'follow', base, issuerRef: { name: 'follow' }, recordsLeft: async () => fake.records().map((r) => r.name), recordsStay: true });
    // The records were created at the target (relative to the domain), never at the alias.
    const created = fake.log.filter((l) => l.startsWith('POST '));
    expect(created).toHaveLength(2);
    expect(fake.log.some((l) => l.includes(encodeURIComponent(`${target}`)))).toBe(true);
    expect(await queryTxt(`${target}.`, env().dns.server)).toEqual([]);
  });
});
