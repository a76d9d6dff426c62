// DNS-01 with the acmeDNS solver against a local server implementing
// acme-dns's documented HTTP API (test/env/acme-dns.ts), whose TXT records the
// test BIND serves; the user's _acme-challenge CNAME points at the
// registration, as acme-dns requires. Real operator, GTS-like CA.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../src/kube/client.ts';
import { queryTxt } from '../src/solvers/dns01/provider.ts';
import { startAcmeDns, type AcmeDnsRegistration, type AcmeDnsServer } from './env/acme-dns.ts';
import { addCname } from './env/bind.ts';
import { createNamespace, env, kubeClient, waitFor } from './helpers.ts';
import { certificates, createIssuer, createSecret, credentialsFailureWastesNoOrder, expectNoSecretsAnywhere, issueWildcardAndPlain, startDnsOperator, type CertificateObject } from './dns01-providers.ts';
import type { OperatorProcess } from './operator-process.ts';
import { API_VERSION } from '../src/api/meta.ts';

const unique = () => randomBytes(3).toString('hex');

let kube: KubeClient;
let acmeDns: AcmeDnsServer;
let operator: OperatorProcess;
let ns: string;
let systemNs: string;
const registrations: AcmeDnsRegistration[] = [];
const removals: (() => Promise<void>)[] = [];

/** What a user does once per domain: register at acme-dns and CNAME _acme-challenge to the fulldomain. */
async function register(domain: string): Promise<AcmeDnsRegistration> {
  const res = await fetch(`${acmeDns.url}/register`, { method: 'POST' });
  expect(res.status).toBe(201);
  const registration = await res.json() as AcmeDnsRegistration;
  registrations.push(registration);
  removals.push(await addCname(env().dns, `_acme-challenge.${domain}`, registration.fulldomain));
  return registration;
}

beforeAll(async () => {
  kube = await kubeClient();
  acmeDns = await startAcmeDns(env().dns);
  systemNs = await createNamespace(kube, 'acmedns-system');
  ns = await createNamespace(kube, 'acmedns');
  operator = await startDnsOperator(systemNs);
});

afterAll(async () => {
  await operator?.stop();
  for (const remove of removals) await remove();
  await acmeDns?.stop();
  kube?.close();
});

describe('acmeDNS', () => {
  it('issues a wildcard and its base name through the registration the CNAME points at', async () => {
    const base = `adns-${unique()}.${env().dns.zone}`;
    const registration = await register(base);
    await createSecret(kube, ns, 'acme-dns', { 'acmedns.json': JSON.stringify({ [base]: registration }) });
    await createIssuer(kube, { namespace: ns, name: 'acme-dns', solvers: [{ dns01: { acmeDNS: { host: acmeDns.url, accountSecretRef: { name: 'acme-dns', key: 'acmedns.json' } } } }] });
    await issueWildcardAndPlain(kube, { namespace: ns, name: 'adns', base, issuerRef: { name: 'acme-dns' }, recordsStay: true });
    // Both values were sent to the one registration, and BIND served them behind the CNAME.
    expect(acmeDns.values(registration.subdomain)).toHaveLength(2);
    expect((await queryTxt(`${registration.fulldomain}.`, env().dns.server)).sort()).toEqual(acmeDns.values(registration.subdomain).sort());
    expect(acmeDns.log.filter((l) => l === 'POST /update')).toHaveLength(2);
  });

  it('reports a domain without a registration as a condition without opening an order', async () => {
    await createSecret(kube, ns, 'acme-dns-other', { 'acmedns.json': JSON.stringify({ 'other.example.com': registrations[0] }) });
    await createIssuer(kube, { namespace: ns, name: 'unregistered', solvers: [{ dns01: { acmeDNS: { host: acmeDns.url, accountSecretRef: { name: 'acme-dns-other', key: 'acmedns.json' } } } }] });
    const base = `adnsu-${unique()}.${env().dns.zone}`;
    await credentialsFailureWastesNoOrder(kube, {
      namespace: ns, name: 'unregistered', base, issuerRef: { name: 'unregistered' },
      expected: new RegExp(`^acmeDNS: Secret \\S+/acme-dns-other has no acme-dns registration for ${base.replace(/\./g, '\\.')} \\(Unauthorized`),
    });
  });

  it('reports a wrong password as acme-dns answers it (forbidden)', async () => {
    const base = `adnsw-${unique()}.${env().dns.zone}`;
    const registration = await register(base);
    await createSecret(kube, ns, 'acme-dns-wrong', { 'acmedns.json': JSON.stringify({ [base]: { ...registration, password: 'wrong-password-for-acme-dns-0123456789' } }) });
    await createIssuer(kube, { namespace: ns, name: 'wrong', solvers: [{ dns01: { acmeDNS: { host: acmeDns.url, accountSecretRef: { name: 'acme-dns-wrong', key: 'acmedns.json' } } } }] });
    await kube.create(certificates, {
      apiVersion: API_VERSION, kind: 'Certificate', metadata: { name: 'wrong', namespace: ns },
      spec: { secretName: 'wrong-tls', issuerRef: { name: 'wrong' }, dnsNames: [base] },
    } as never);
    // acme-dns has no read call to check a password with, so this shows at the update.
    const issuing = await waitFor('the failure', async () => {
      const c = (await kube.get<CertificateObject>(certificates, ns, 'wrong'))?.status?.conditions?.find((x) => x.type === 'Issuing');
      return c?.status === 'False' ? c : undefined;
    });
    expect(issuing.message).toMatch(/^acmeDNS: POST \/update answered 401: forbidden \(Unauthorized: check the credentials and their permissions\)/);
  });

  it('keeps the passwords out of logs, events and status', async () => {
    await expectNoSecretsAnywhere(kube, [ns, systemNs], [...registrations.map((r) => r.password), 'wrong-password-for-acme-dns-0123456789']);
  });
});
