// The HTTP-01 self-check, with a CA of its own that validates through a
// stand-in ingress controller (test/env/late-route.ts): a route loaded late
// must not cost a failed validation and a second order; waitInsteadOfSelfCheck
// skips the check (cert-manager's escape hatch); a name certkeeper cannot
// reach while the CA can (no hairpin NAT) is still issued, after the
// check's timeout.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../src/api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { startCa, type RunningCa } from './env/ca.ts';
import { startLateRoute, type LateRoute } from './env/late-route.ts';
import { freePort } from './env/ports.ts';
import { createNamespace, env, kubeClient, waitFor } from './helpers.ts';
import { startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };
const certificates = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'certificates', namespaced: true };

interface CertificateObject extends KubeObject {
  status?: { conditions?: { type: string; status: string; reason: string; message: string }[]; revision?: number; failedIssuanceAttempts?: number };
}

let kube: KubeClient;
let ca: RunningCa;
let route: LateRoute;
let operator: OperatorProcess | undefined;
let ns: string;
let workDir: string;
let responderPort: number;
let counter = 0;
const hostName = (label: string) => `${label}-${process.pid}-${++counter}.${env().dns.zone}`;

async function createIssuer(name: string, solver: Record<string, unknown>): Promise<void> {
  const eab = await ca.mintEabKey();
  await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name}-eab`, namespace: ns }, stringData: { secret: eab.hmacKey } } as KubeObject);
  await kube.create(issuers, {
    apiVersion: API_VERSION, kind: 'Issuer', metadata: { name, namespace: ns },
    spec: { acme: {
      server: ca.directoryUrl, email: 'ops@example.com', privateKeySecretRef: { name: `${name}-account` },
      externalAccountBinding: { keyID: eab.keyId, keySecretRef: { name: `${name}-eab` } },
      caBundle: readFileSync(ca.caRootFile).toString('base64'),
      solvers: [solver],
    } },
  } as KubeObject);
}

async function createCertificate(name: string, issuer: string, host: string): Promise<void> {
  await kube.create(certificates, {
    apiVersion: API_VERSION, kind: 'Certificate', metadata: { name, namespace: ns },
    spec: { secretName: `${name}-tls`, issuerRef: { name: issuer }, dnsNames: [host] },
  } as KubeObject);
}

function waitForCertificate(name: string, done: (c: CertificateObject) => boolean, what: string): Promise<CertificateObject> {
  return waitFor(what, async () => {
    const object = await kube.get<CertificateObject>(certificates, ns, name);
    return object && done(object) ? object : undefined;
  }, { timeoutMs: 90_000 });
}

const isReady = (c: CertificateObject) => c.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') ?? false;
const ordersFor = async (host: string) => (await ca.orders()).filter((o) => o.status === 201 && o.identifiers.some((i) => i.value === host));

async function startOperator(args: string[] = []): Promise<void> {
  await operator?.stop();
  // The responder listens on its own port; the CA and the self-check go through the route.
  operator = await startOperatorProcess({ clusterResourceNamespace: ns, http01Port: responderPort, args: ['--http01-self-check-port', String(route.port), ...args] });
}

beforeAll(async () => {
  kube = await kubeClient();
  workDir = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-selfcheck-'));
  responderPort = await freePort();
  route = await startLateRoute(responderPort);
  ca = await startCa({ workDir, httpChallengePort: route.port, dnsServer: env().dns.server });
  ns = await createNamespace(kube, 'selfcheck');
  await createIssuer('checked', { http01: {} });
  await createIssuer('unchecked', { waitInsteadOfSelfCheck: '0s', http01: {} });
  await startOperator();
});

afterAll(async () => {
  await operator?.stop();
  await ca?.stop();
  await route?.stop();
  kube?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('the HTTP-01 self-check', () => {
  it('holds the CA back until a late route serves the key authorization: one validation, one order', async () => {
    const host = hostName('late');
    await createCertificate('late', 'checked', host);
    // certkeeper keeps looking while the route is not loaded, and the CA has not been asked.
    await waitFor('two self-checks answered 404', async () => route.requests.filter((r) => r.host === host && r.fromSelfCheck && r.status === 404).length >= 2 || undefined);
    expect(route.requests.filter((r) => r.host === host && !r.fromSelfCheck)).toEqual([]);
    route.load(host);
    await waitForCertificate('late', isReady, 'Ready');
    const fromCa = route.requests.filter((r) => r.host === host && !r.fromSelfCheck);
    expect(fromCa.length).toBeGreaterThan(0);
    expect(fromCa.every((r) => r.status === 200)).toBe(true);
    expect(await ordersFor(host)).toHaveLength(1);
  });

  it('asks the CA at once with waitInsteadOfSelfCheck: 0s, so the same late route fails the validation', async () => {
    const host = hostName('hatch');
    await createCertificate('hatch', 'unchecked', host);
    const failed = await waitForCertificate('hatch', (c) => (c.status?.failedIssuanceAttempts ?? 0) >= 1, 'a failed attempt');
    expect(failed.status!.conditions!.find((x) => x.type === 'Ready')!.message).toContain(`http-01 challenge for ${host} failed`);
    expect(route.requests.filter((r) => r.host === host && r.fromSelfCheck)).toEqual([]);
    expect(route.requests.filter((r) => r.host === host && !r.fromSelfCheck).map((r) => r.status)).toContain(404);
  });

  it('asks the CA anyway after the timeout when only certkeeper cannot reach the name (no hairpin NAT)', async () => {
    await startOperator(['--http01-self-check-timeout', '3']);
    const host = hostName('hairpin');
    route.load(host);
    route.hideFromSelfCheck(host);
    await createCertificate('hairpin', 'checked', host);
    await waitForCertificate('hairpin', isReady, 'Ready');
    expect(route.requests.filter((r) => r.host === host && r.fromSelfCheck).length).toBeGreaterThan(0);
    expect(route.requests.filter((r) => r.host === host && r.fromSelfCheck).every((r) => r.status === 404)).toBe(true);
    expect(operator!.lines.some((line) => line.includes('HTTP-01 self-check did not see the key authorization') && line.includes(host))).toBe(true);
    expect(await ordersFor(host)).toHaveLength(1);
  });
});
