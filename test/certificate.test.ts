// Certificates end to end: the real operator process issues into TLS Secrets
// from the GTS-like CA, answering HTTP-01 itself; Pebble validates through
// the test DNS on loopback. The CA's order journal is the witness for resumption.
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { API_VERSION } from '../src/api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { Informer } from '../src/kube/informer.ts';
import { ingresses } from '../src/solvers/http01/routes.ts';
import { dropHeldChallenges, getHeldChallenges, getOrders, holdNextChallenge, mintEabKey } from './env/ca-client.ts';
import { createNamespace, env, kubeClient, waitFor } from './helpers.ts';
import { freePort } from './env/ports.ts';
import { startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };
const certificates = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'certificates', namespaced: true };

interface CertificateObject extends KubeObject {
  status?: {
    conditions?: { type: string; status: string; reason: string; message: string; observedGeneration?: number }[];
    revision?: number;
    notAfter?: string;
    notBefore?: string;
    renewalTime?: string;
    order?: { url: string };
    failedIssuanceAttempts?: number;
  };
}
interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

let kube: KubeClient;
let operator: OperatorProcess;
let systemNamespace: string;
let ns: string;
let seenIngresses: { type: string; object: KubeObject & { spec?: unknown } }[] = [];
let ingressInformer: Informer<KubeObject>;

/** A unique DNS name the test DNS resolves to 127.0.0.1. */
let nameCounter = 0;
const testName = (label: string) => `${label}-${process.pid}-${++nameCounter}.certkeeper.test`;

async function createCertificate(name: string, spec: Record<string, unknown>) {
  await kube.create(certificates, { apiVersion: API_VERSION, kind: 'Certificate', metadata: { name, namespace: ns }, spec } as KubeObject);
}

async function waitForCertificate(name: string, predicate: (c: CertificateObject) => boolean, what: string): Promise<CertificateObject> {
  let last = '';
  try {
    return await waitFor(`${name}: ${what}`, async () => {
      const cert = await kube.get<CertificateObject>(certificates, ns, name);
      last = JSON.stringify(cert?.status?.conditions ?? []);
      return cert && predicate(cert) ? cert : undefined;
    }, { timeoutMs: 60_000 });
  } catch (error) {
    throw new Error(`${(error as Error).message}; last conditions: ${last}`);
  }
}

const ready = (c: CertificateObject) => c.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True' && x.observedGeneration === c.metadata.generation) ?? false;
const readyAtRevision = (revision: number) => (c: CertificateObject) => ready(c) && c.status?.revision === revision;

async function tlsSecret(name: string) {
  const secret = (await kube.get<SecretObject>(core.secrets, ns, name))!;
  const crt = Buffer.from(secret.data!['tls.crt']!, 'base64').toString();
  const key = Buffer.from(secret.data!['tls.key']!, 'base64').toString();
  const leaf = new X509Certificate(crt);
  return { secret, crt, key, leaf };
}

beforeAll(async () => {
  kube = await kubeClient();
  systemNamespace = await createNamespace(kube, 'certkeeper-system');
  ns = await createNamespace(kube, 'certs');
  const eab = await mintEabKey(env().acme.managementUrl);
  await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'eab', namespace: ns }, stringData: { secret: eab.hmacKey } } as KubeObject);
  await kube.create(issuers, {
    apiVersion: API_VERSION,
    kind: 'Issuer',
    metadata: { name: 'gts', namespace: ns },
    spec: {
      acme: {
        server: env().acme.directoryUrl,
        email: 'ops@example.com',
        privateKeySecretRef: { name: 'account-key' },
        externalAccountBinding: { keyID: eab.keyId, keySecretRef: { name: 'eab' } },
        caBundle: readFileSync(env().acme.caRootFile).toString('base64'),
        solvers: [{ http01: { ingress: { ingressClassName: 'nginx' } } }],
      },
    },
  } as KubeObject);
  ingressInformer = new Informer<KubeObject>({ kube, type: ingresses, namespace: systemNamespace, log: pino({ level: 'silent' }) });
  ingressInformer.onChange((_key, current, previous) => {
    seenIngresses.push({ type: current ? (previous ? 'MODIFIED' : 'ADDED') : 'DELETED', object: (current ?? previous)! });
  });
  ingressInformer.start();
  await ingressInformer.waitForSync();
  operator = await startOperatorProcess({ clusterResourceNamespace: systemNamespace });
});

afterAll(async () => {
  await operator?.stop();
  await ingressInformer?.stop();
  kube?.close();
});

describe('issuance over HTTP-01', () => {
  it('issues a certificate for two names into a kubernetes.io/tls Secret, routing the challenge through an Ingress', async () => {
    const names = [testName('www'), testName('api')];
    seenIngresses = [];
    await createCertificate('web', {
      secretName: 'web-tls',
      issuerRef: { name: 'gts' },
      dnsNames: names,
      secretTemplate: { labels: { team: 'web' }, annotations: { owner: 'platform' } },
    });
    const cert = await waitForCertificate('web', readyAtRevision(1), 'Ready at revision 1');
    const { secret, leaf, key, crt } = await tlsSecret('web-tls');
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(leaf.subjectAltName?.split(', ').sort()).toEqual(names.map((n) => `DNS:${n}`).sort());
    expect(leaf.checkPrivateKey(createPrivateKey(key))).toBe(true);
    expect(crt.match(/BEGIN CERTIFICATE/g)!.length).toBeGreaterThanOrEqual(2);
    expect(createPrivateKey(key).asymmetricKeyType).toBe('ec');
    expect(new Date(cert.status!.notAfter!).getTime()).toBe(new Date(leaf.validTo).getTime());
    expect(Date.parse(cert.status!.renewalTime!)).toBeLessThan(Date.parse(cert.status!.notAfter!));
    expect(cert.status!.order).toBeUndefined();
    expect(secret.metadata.labels).toMatchObject({ team: 'web' });
    expect(secret.metadata.annotations).toMatchObject({ owner: 'platform', 'certkeeper.io/certificate-name': 'web', 'certkeeper.io/issuer-name': 'gts' });
    expect(secret.metadata.ownerReferences).toBeUndefined();

    // One Ingress per challenge, in certkeeper's namespace, to the solver Service; removed after.
    const added = seenIngresses.filter((e) => e.type === 'ADDED');
    expect(added).toHaveLength(2);
    const spec = added[0]!.object.spec as { ingressClassName: string; rules: { host: string; http: { paths: { path: string; backend: { service: { name: string; port: { number: number } } } }[] } }[] };
    expect(spec.ingressClassName).toBe('nginx');
    expect(names).toContain(spec.rules[0]!.host);
    expect(spec.rules[0]!.http.paths[0]!.path).toMatch(/^\/\.well-known\/acme-challenge\/[\w-]+$/);
    expect(spec.rules[0]!.http.paths[0]!.backend.service).toEqual({ name: 'certkeeper-http01', port: { number: 8089 } });
    await waitFor('the solver Ingresses to be removed', async () => ingressInformer.list().length === 0);

    // Events a user sees in kubectl describe.
    const events = await kube.list<KubeObject & { reason: string; involvedObject: { name: string } }>(core.events, { namespace: ns });
    expect(events.items.some((e) => e.involvedObject.name === 'web' && e.reason === 'Issued')).toBe(true);
  });

  it('reports the issuance in /metrics, and asked the CA for renewal information (ARI)', async () => {
    const scrape = async () => (await fetch(`http://127.0.0.1:${operator.metricsPort}/metrics`)).text();
    // After the Secret is written, the next sync asks Pebble's renewalInfo for the window.
    await waitFor('an ARI request', async () => (await scrape()).includes('certkeeper_acme_requests_total{endpoint="renewalInfo",status="200"}'));
    const text = await scrape();
    const value = (pattern: string) => {
      const line = text.split('\n').find((l) => l.startsWith(pattern));
      return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    const cert = await kube.get<CertificateObject>(certificates, ns, 'web');
    expect(value(`certkeeper_certificate_ready{namespace="${ns}",name="web"}`)).toBe(1);
    expect(value(`certkeeper_certificate_expiration_timestamp_seconds{namespace="${ns}",name="web"}`)).toBe(Date.parse(cert!.status!.notAfter!) / 1000);
    expect(value(`certkeeper_certificate_renewal_timestamp_seconds{namespace="${ns}",name="web"}`)).toBe(Date.parse(cert!.status!.renewalTime!) / 1000);
    expect(value(`certkeeper_issuer_ready{kind="Issuer",namespace="${ns}",name="gts"}`)).toBe(1);
    expect(value('certkeeper_acme_eab_sends_total')).toBe(1);
    expect(value('certkeeper_acme_account_registrations_total{outcome="registered"}')).toBe(1);
    expect(value('certkeeper_acme_requests_total{endpoint="newOrder",status="201"}')).toBe(1);
    expect(value('certkeeper_acme_requests_total{endpoint="finalize",status="200"}')).toBe(1);
    expect(value('certkeeper_reconcile_total{controller="certificate",result="success"}')).toBeGreaterThan(0);
    expect(value('certkeeper_workqueue_depth{controller="certificate"}')).toBe(0);
    expect(value('certkeeper_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('routes the challenge with the ingress class a Certificate\'s annotation asks for (as the shim sets it)', async () => {
    seenIngresses = [];
    const name = testName('classed');
    await kube.create(certificates, {
      apiVersion: API_VERSION, kind: 'Certificate',
      metadata: { name: 'classed', namespace: ns, annotations: { 'certkeeper.io/http01-ingress-class': 'traefik' } },
      spec: { secretName: 'classed-tls', issuerRef: { name: 'gts' }, dnsNames: [name] },
    } as KubeObject);
    await waitForCertificate('classed', readyAtRevision(1), 'Ready at revision 1');
    const added = seenIngresses.filter((e) => e.type === 'ADDED' && JSON.stringify(e.object.spec).includes(name));
    expect(added).toHaveLength(1);
    // The legacy class annotation in place of the Issuer's ingressClassName (nginx).
    expect(added[0]!.object.metadata.annotations).toMatchObject({ 'kubernetes.io/ingress.class': 'traefik' });
    expect((added[0]!.object.spec as { ingressClassName?: string }).ingressClassName).toBeUndefined();
  });

  it('repairs a deleted Secret and a Secret whose key was replaced', async () => {
    await createCertificate('repair', { secretName: 'repair-tls', issuerRef: { name: 'gts' }, dnsNames: [testName('repair')] });
    await waitForCertificate('repair', readyAtRevision(1), 'revision 1');
    await kube.delete(core.secrets, ns, 'repair-tls');
    await waitForCertificate('repair', readyAtRevision(2), 'revision 2 after the Secret was deleted');
    expect((await tlsSecret('repair-tls')).leaf.checkPrivateKey(createPrivateKey((await tlsSecret('repair-tls')).key))).toBe(true);

    const stranger = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await kube.mergePatch(core.secrets, ns, 'repair-tls', { data: { 'tls.key': Buffer.from(stranger).toString('base64') } });
    await waitForCertificate('repair', readyAtRevision(3), 'revision 3 after the key was replaced');
    const repaired = await tlsSecret('repair-tls');
    expect(repaired.key).not.toBe(stranger);
    expect(repaired.leaf.checkPrivateKey(createPrivateKey(repaired.key))).toBe(true);
  });

  it('rotates the key on re-issue by default and keeps it with rotationPolicy Never', async () => {
    const first = testName('rot');
    await createCertificate('rotate', { secretName: 'rotate-tls', issuerRef: { name: 'gts' }, dnsNames: [first] });
    await createCertificate('keep', { secretName: 'keep-tls', issuerRef: { name: 'gts' }, dnsNames: [testName('keep')], privateKey: { rotationPolicy: 'Never' } });
    await waitForCertificate('rotate', readyAtRevision(1), 'revision 1');
    await waitForCertificate('keep', readyAtRevision(1), 'revision 1');
    const rotateKey = (await tlsSecret('rotate-tls')).key;
    const keepKey = (await tlsSecret('keep-tls')).key;

    await kube.mergePatch(certificates, ns, 'rotate', { spec: { dnsNames: [first, testName('rot2')] } });
    const keep = await kube.get<CertificateObject & { spec: { dnsNames: string[] } }>(certificates, ns, 'keep');
    await kube.mergePatch(certificates, ns, 'keep', { spec: { dnsNames: [...keep!.spec.dnsNames, testName('keep2')] } });
    await waitForCertificate('rotate', readyAtRevision(2), 'revision 2');
    await waitForCertificate('keep', readyAtRevision(2), 'revision 2');
    expect((await tlsSecret('rotate-tls')).key).not.toBe(rotateKey);
    expect((await tlsSecret('keep-tls')).key).toBe(keepKey);
    expect((await tlsSecret('rotate-tls')).leaf.subjectAltName).toContain('rot2');
  });

  it('waits with a clear reason for a missing Issuer and proceeds when it appears', async () => {
    await createCertificate('later', { secretName: 'later-tls', issuerRef: { name: 'not-yet' }, dnsNames: [testName('later')] });
    const waiting = await waitForCertificate('later', (c) => c.status?.conditions?.some((x) => x.type === 'Ready' && x.reason === 'IssuerNotFound') ?? false, 'IssuerNotFound');
    expect(waiting.status!.conditions!.find((x) => x.type === 'Ready')!.message).toContain(`Issuer ${ns}/not-yet not found`);
    const gts = await kube.get<KubeObject & { spec: unknown }>(issuers, ns, 'gts');
    await kube.create(issuers, { apiVersion: API_VERSION, kind: 'Issuer', metadata: { name: 'not-yet', namespace: ns }, spec: gts!.spec } as KubeObject);
    await waitForCertificate('later', readyAtRevision(1), 'Ready once the Issuer exists');
  });

  it('reports a failure with the name and reason, and backs off', async () => {
    // Outside the test zone: the CA's DNS lookup for the HTTP-01 validation fails.
    const name = `unresolvable-${process.pid}.elsewhere.test`;
    await createCertificate('failing', { secretName: 'failing-tls', issuerRef: { name: 'gts' }, dnsNames: [name] });
    const failed = await waitForCertificate('failing', (c) => (c.status?.failedIssuanceAttempts ?? 0) >= 1, 'a failed attempt');
    const readyCondition = failed.status!.conditions!.find((x) => x.type === 'Ready')!;
    expect(readyCondition).toMatchObject({ status: 'False', reason: 'Failed' });
    expect(readyCondition.message).toContain(`http-01 challenge for ${name} failed`);
    expect(readyCondition.message).toMatch(/attempt 1, next in 30 s/);
    expect(await kube.get(core.secrets, ns, 'failing-tls')).toBeUndefined();
  });

  it('refuses a name no solver of the issuer matches, before ordering', async () => {
    const eab = await mintEabKey(env().acme.managementUrl);
    await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'eab-dns-only', namespace: ns }, stringData: { secret: eab.hmacKey } } as KubeObject);
    const gts = await kube.get<KubeObject & { spec: { acme: Record<string, unknown> } }>(issuers, ns, 'gts');
    await kube.create(issuers, {
      apiVersion: API_VERSION, kind: 'Issuer', metadata: { name: 'zoned', namespace: ns },
      spec: { acme: { ...gts!.spec.acme, privateKeySecretRef: { name: 'zoned-account' }, externalAccountBinding: { keyID: eab.keyId, keySecretRef: { name: 'eab-dns-only' } }, solvers: [{ selector: { dnsZones: ['elsewhere.test'] }, http01: {} }] } },
    } as KubeObject);
    const name = testName('nosolver');
    await createCertificate('unsolvable', { secretName: 'unsolvable-tls', issuerRef: { name: 'zoned' }, dnsNames: [name] });
    const refused = await waitForCertificate('unsolvable', (c) => c.status?.conditions?.some((x) => x.type === 'Ready' && x.reason === 'NoSolver') ?? false, 'NoSolver');
    const readyCondition = refused.status!.conditions!.find((x) => x.type === 'Ready')!;
    expect(readyCondition).toMatchObject({ status: 'False', reason: 'NoSolver' });
    expect(readyCondition.message).toBe(`no solver of Issuer ${ns}/zoned matches ${name}; nothing was ordered`);
    expect(refused.status!.failedIssuanceAttempts).toBeUndefined();
    expect((await getOrders(env().acme.managementUrl)).filter((o) => o.identifiers.some((i) => i.value === name))).toHaveLength(0);
    expect(await kube.get(core.secrets, ns, 'unsolvable-tls')).toBeUndefined();
  });
});

describe('HTTP-01 through a Gateway API HTTPRoute', () => {
  it('routes the challenge path on the name to the solver Service and removes the route after', async () => {
    const { httpRoutes } = await import('../src/solvers/http01/routes.ts');
    const seen: { added: boolean; object: KubeObject & { spec?: unknown } }[] = [];
    const routes = new Informer<KubeObject>({ kube, type: httpRoutes, namespace: systemNamespace, log: pino({ level: 'silent' }) });
    routes.onChange((_key, current, previous) => seen.push({ added: Boolean(current && !previous), object: (current ?? previous)! }));
    routes.start();
    await routes.waitForSync();
    try {
      const eab = await mintEabKey(env().acme.managementUrl);
      await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'eab-gw', namespace: ns }, stringData: { secret: eab.hmacKey } } as KubeObject);
      const gts = await kube.get<KubeObject & { spec: { acme: Record<string, unknown> } }>(issuers, ns, 'gts');
      await kube.create(issuers, {
        apiVersion: API_VERSION, kind: 'Issuer', metadata: { name: 'gateway', namespace: ns },
        spec: { acme: { ...gts!.spec.acme, privateKeySecretRef: { name: 'gw-account' }, externalAccountBinding: { keyID: eab.keyId, keySecretRef: { name: 'eab-gw' } },
          solvers: [{ http01: { gatewayHTTPRoute: { parentRefs: [{ name: 'public', namespace: 'gateways', sectionName: 'http' }] } } }] } },
      } as KubeObject);
      const name = testName('gw');
      await createCertificate('gw', { secretName: 'gw-tls', issuerRef: { name: 'gateway' }, dnsNames: [name] });
      await waitForCertificate('gw', readyAtRevision(1), 'Ready at revision 1');
      const added = seen.filter((e) => e.added);
      expect(added).toHaveLength(1);
      expect(added[0]!.object.spec).toMatchObject({
        parentRefs: [{ name: 'public', namespace: 'gateways', sectionName: 'http' }],
        hostnames: [name],
        rules: [{ matches: [{ path: { type: 'Exact', value: expect.stringMatching(/^\/\.well-known\/acme-challenge\/[\w-]+$/) } }], backendRefs: [{ name: 'certkeeper-http01', port: 8089 }] }],
      });
      await waitFor('the HTTPRoute to be removed', async () => routes.list().length === 0);
    } finally {
      await routes.stop();
    }
  });
});

describe('issuance over DNS-01 (RFC2136 into BIND9)', () => {
  it('issues a wildcard and its base name, and removes the TXT records afterwards', async () => {
    const dns = env().dns;
    await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tsig', namespace: ns }, stringData: { secret: dns.tsig.secret } } as KubeObject);
    const eab = await mintEabKey(env().acme.managementUrl);
    await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'eab-dns', namespace: ns }, stringData: { secret: eab.hmacKey } } as KubeObject);
    const gts = await kube.get<KubeObject & { spec: { acme: Record<string, unknown> } }>(issuers, ns, 'gts');
    await kube.create(issuers, {
      apiVersion: API_VERSION, kind: 'Issuer', metadata: { name: 'dns', namespace: ns },
      spec: {
        acme: {
          ...gts!.spec.acme,
          privateKeySecretRef: { name: 'dns-account' },
          externalAccountBinding: { keyID: eab.keyId, keySecretRef: { name: 'eab-dns' } },
          solvers: [{ dns01: { rfc2136: { nameserver: dns.server, tsigKeyName: dns.tsig.name, tsigAlgorithm: 'HMACSHA256', tsigSecretSecretRef: { name: 'tsig', key: 'secret' } } } }],
        },
      },
    } as KubeObject);
    const base = `dns-${process.pid}.${dns.zone}`;
    const names = [`*.${base}`, base, `www.${base}`];
    await createCertificate('wild', { secretName: 'wild-tls', issuerRef: { name: 'dns' }, dnsNames: names });
    await waitForCertificate('wild', readyAtRevision(1), 'Ready at revision 1');
    const { leaf } = await tlsSecret('wild-tls');
    expect(leaf.subjectAltName!.split(', ').sort()).toEqual(names.map((n) => `DNS:${n}`).sort());
    const { queryTxt } = await import('../src/solvers/dns01/provider.ts');
    for (const name of [`_acme-challenge.${base}.`, `_acme-challenge.www.${base}.`]) {
      expect(await queryTxt(name, dns.server)).toEqual([]);
    }
  });
});

describe('secrets', () => {
  it('never writes a certificate key, account key or HMAC to the operator\'s output', async () => {
    const output = operator.lines.join('\n');
    expect(output.length).toBeGreaterThan(1000);
    const secrets = await kube.list<SecretObject>(core.secrets, { namespace: ns });
    let checked = 0;
    for (const secret of secrets.items) {
      for (const [name, value] of Object.entries(secret.data ?? {})) {
        if (!['tls.key', 'secret'].includes(name)) continue;
        const text = Buffer.from(value, 'base64').toString();
        const material = text.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
        expect(output).not.toContain(material.slice(0, 40));
        expect(output).not.toContain(value.slice(10, 50));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(5);
  });
});

describe('orders', () => {
  it('resumes the same order after the operator is killed mid-order', async () => {
    const mgmt = env().acme.managementUrl;
    const name = testName('resume');
    await holdNextChallenge(mgmt);
    await createCertificate('resume', { secretName: 'resume-tls', issuerRef: { name: 'gts' }, dnsNames: [name] });
    await waitFor('the challenge answer to be held by the CA', async () => (await getHeldChallenges(mgmt)) === 1);
    // The order was persisted before the challenge was answered.
    const pending = await kube.get<CertificateObject>(certificates, ns, 'resume');
    expect(pending!.status!.order!.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
    expect(pending!.status!.conditions!.find((c) => c.type === 'Issuing')).toMatchObject({ status: 'True', reason: 'SecretMissing' });

    // Any replica answers the challenge: a standby (it waits for a Lease someone
    // else holds) serves the token recorded in status with the account's thumbprint.
    const token = (pending as unknown as { status: { order: { authorizations: { token: string; challengeType: string }[] } } }).status.order.authorizations[0]!;
    expect(token.challengeType).toBe('http-01');
    const { microTime } = await import('../src/kube/leader-election.ts');
    await kube.create(core.leases, {
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'held-elsewhere', namespace: systemNamespace },
      spec: { holderIdentity: 'someone-else', leaseDurationSeconds: 3600, renewTime: microTime(new Date()) },
    } as KubeObject);
    const standbyPort = await freePort();
    const standby = await startOperatorProcess({ clusterResourceNamespace: systemNamespace, http01Port: standbyPort, args: ['--leader-elect', '--leader-election-id', 'held-elsewhere'] });
    try {
      const answer = await waitFor('the standby to answer the token', async () => {
        const res = await fetch(`http://127.0.0.1:${standbyPort}/.well-known/acme-challenge/${token.token}`);
        return res.status === 200 ? res.text() : undefined;
      });
      const issuer = await kube.get<KubeObject & { status: { acme: { keyThumbprint: string } } }>(issuers, ns, 'gts');
      expect(answer).toBe(`${token.token}.${issuer!.status.acme.keyThumbprint}`);
      expect((await fetch(`http://127.0.0.1:${standbyPort}/.well-known/acme-challenge/unknown-token`)).status).toBe(404);
    } finally {
      await standby.stop();
    }
    await operator.kill();
    await dropHeldChallenges(mgmt);

    operator = await startOperatorProcess({ clusterResourceNamespace: systemNamespace });
    await waitForCertificate('resume', readyAtRevision(1), 'Ready after the restart');
    const orders = (await getOrders(mgmt)).filter((o) => o.identifiers.some((i) => i.value === name));
    expect(orders).toHaveLength(1);
    expect(orders[0]!.orderUrl).toBe(pending!.status!.order!.url);
  });

  it('exits within the grace period on SIGTERM even when a reconcile hangs, and the order resumes', async () => {
    const mgmt = env().acme.managementUrl;
    await operator.kill();
    operator = await startOperatorProcess({ clusterResourceNamespace: systemNamespace, env: { CERTKEEPER_SHUTDOWN_GRACE_SECONDS: '1' } });
    await holdNextChallenge(mgmt);
    await createCertificate('hang', { secretName: 'hang-tls', issuerRef: { name: 'gts' }, dnsNames: [testName('hang')] });
    await waitFor('the challenge answer to be held', async () => (await getHeldChallenges(mgmt)) === 1);
    // The reconcile hangs on the held answer: SIGTERM abandons it after the grace period and exits 0.
    expect(await operator.stop()).toBe(0);
    expect(operator.lines.some((l) => l.includes('abandoning them'))).toBe(true);
    await dropHeldChallenges(mgmt);
    operator = await startOperatorProcess({ clusterResourceNamespace: systemNamespace });
    await waitForCertificate('hang', readyAtRevision(1), 'Ready after the restart');
  });

  it('opens one order per revision', async () => {
    await createCertificate('single', { secretName: 'single-tls', issuerRef: { name: 'gts' }, dnsNames: [testName('single')] });
    const cert = await waitForCertificate('single', readyAtRevision(1), 'revision 1');
    const names = (await tlsSecret('single-tls')).leaf.subjectAltName!.replace('DNS:', '');
    const orders = (await getOrders(env().acme.managementUrl)).filter((o) => o.identifiers.some((i) => i.value === names));
    expect(orders).toHaveLength(1);
    expect(cert.status!.revision).toBe(1);
  });
});
