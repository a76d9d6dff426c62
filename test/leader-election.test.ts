// Two replicas against one API server and the GTS-like CA: only the leader
// reconciles; when it is killed mid-work the standby takes over within the
// lease time, every Certificate ends Ready, and the CA still saw one EAB
// registration. A graceful stop (SIGTERM) releases the Lease at once.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../src/api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { getJournal, mintEabKey } from './env/ca-client.ts';
import { createNamespace, env, kubeClient, waitFor } from './helpers.ts';
import { startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };
const certificates = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'certificates', namespaced: true };
interface Lease extends KubeObject { spec?: { holderIdentity?: string; leaseTransitions?: number } }
interface CertificateObject extends KubeObject { status?: { conditions?: { type: string; status: string }[] } }

let kube: KubeClient;
let ns: string;
const replicas: OperatorProcess[] = [];

const identityOf = (p: OperatorProcess) => p.records().find((r) => r.msg === 'became the leader')?.identity as string | undefined;
const lease = () => kube.get<Lease>(core.leases, ns, 'certkeeper');
// Other test files' leftovers in the shared cluster (a DNS-01 record that never shows, a slow CA call) must not
// hold a graceful stop past its grace period: short waits keep every reconcile well inside it.
const startReplica = () => startOperatorProcess({ clusterResourceNamespace: ns, args: ['--leader-elect', '--lease-duration', '3', '--dns01-propagation-timeout', '5', '--acme-request-timeout', '5'] });

beforeAll(async () => {
  kube = await kubeClient();
  ns = await createNamespace(kube, 'ha');
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  kube?.close();
});

describe('two replicas', () => {
  it('fails over to the standby when the leader is killed mid-work, with one EAB registration', async () => {
    replicas.push(await startReplica(), await startReplica());
    const leader = await waitFor('a leader', async () => replicas.find((r) => identityOf(r)));
    const standby = replicas.find((r) => r !== leader)!;
    expect((await lease())!.spec!.holderIdentity).toBe(identityOf(leader));

    const eab = await mintEabKey(env().acme.managementUrl);
    await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'eab', namespace: ns }, stringData: { secret: eab.hmacKey } } as KubeObject);
    await kube.create(issuers, {
      apiVersion: API_VERSION, kind: 'Issuer', metadata: { name: 'gts', namespace: ns },
      spec: { acme: {
        server: env().acme.directoryUrl, email: 'ops@example.com', privateKeySecretRef: { name: 'account' },
        externalAccountBinding: { keyID: eab.keyId, keySecretRef: { name: 'eab' } },
        caBundle: readFileSync(env().acme.caRootFile).toString('base64'),
        solvers: [{ http01: {} }],
      } },
    } as KubeObject);
    const names = Array.from({ length: 8 }, (_, i) => `cert-${i}`);
    await Promise.all(names.map((name) => kube.create(certificates, {
      apiVersion: API_VERSION, kind: 'Certificate', metadata: { name, namespace: ns },
      spec: { secretName: `${name}-tls`, issuerRef: { name: 'gts' }, dnsNames: [`${name}-${process.pid}.${env().dns.zone}`] },
    } as KubeObject)));
    const isReady = (c: CertificateObject | undefined) => c?.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') ?? false;
    const readyCount = async () => (await Promise.all(names.map((n) => kube.get<CertificateObject>(certificates, ns, n)))).filter(isReady).length;

    // Mid-work: some Certificates are done, not all... or at least the leader has started.
    await waitFor('the leader to have issued a certificate', async () => (await readyCount()) >= 1);
    await leader.kill();
    const newIdentity = await waitFor('the standby to take over', async () => {
      const holder = (await lease())?.spec?.holderIdentity;
      return holder && holder === identityOf(standby) ? holder : undefined;
    }, { timeoutMs: 20_000 });
    expect(newIdentity).not.toBe(identityOf(leader));

    await waitFor('every Certificate Ready', async () => (await readyCount()) === names.length, { timeoutMs: 60_000 });
    const sends = (await getJournal(env().acme.managementUrl)).filter((e) => e.kid === eab.keyId);
    expect(sends).toHaveLength(1);
    expect(sends[0]!.status).toBe(201);
  });

  it('releases the Lease on SIGTERM, exiting 0, so the next replica takes over at once', async () => {
    const current = replicas.find((r) => r.child.exitCode === null && r.child.signalCode === null)!;
    await waitFor('the survivor to lead', async () => (await lease())?.spec?.holderIdentity === identityOf(current));
    const late = await startReplica();
    replicas.push(late);
    expect(await current.stop()).toBe(0);
    const released = current.lines.some((l) => l.includes('released the leader Lease'));
    if (!released) console.log('the stop did not release the Lease:', current.lines.filter((l) => /in-flight|reconcile|issuing/.test(l)).slice(-10).join('\n'));
    expect(released).toBe(true);
    // Released: the newcomer does not wait for the lease to run out.
    await waitFor('the newcomer to lead', async () => identityOf(late) !== undefined && (await lease())?.spec?.holderIdentity === identityOf(late), { timeoutMs: 10_000 });
  });
});
