// certkeeper as users run it: the image built from the Dockerfile, the Helm
// chart installed on a real node (kubelet, containerd, runc, kube-proxy), the
// operator in Pods under the chart's ServiceAccount, probes, security context
// and Lease, issuing from the GTS-like CA; then failover, upgrade, the plain
// manifests of deploy/, and a stop that leaves nothing behind on the machine.
// Between upgrade and deploy/: CA injection for an admission webhook that runs
// as a Pod behind a Service (webhook-pod.ts), installed the way a chart would,
// called by the API server over the injected CA before and after its serving
// certificate is renewed.
//
// HTTP-01: Pebble validates at 127.0.0.1:<httpChallengePort>, where a TCP
// forwarder (test/env/forward.ts, the stand-in for a load balancer) sends it
// to the chart's solver Service; kube-proxy routes that to the operator's Pod.
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJournal, getOrders, mintEabKey } from '../env/ca-client.ts';
import { startTcpForwarder, type TcpForwarder } from '../env/forward.ts';
import { hostSnapshot, type HostSnapshot } from '../env/host-state.ts';
import { ensureOperatorImage, type OperatorImage } from '../env/image.ts';
import { startLocalEnv, type LocalEnv } from '../env/localenv-core.ts';
import { repoRoot } from '../env/tools.ts';
import type { LocalEnvInfo } from '../env/types.ts';
import { RENEW_REQUEST_ANNOTATION } from '../../src/controllers/certificate/checks.ts';
import { APPS_NS, certificateManifest, clusterTools, isReady, RELEASE_NS, waitFor, waitForServiceHttp, type Pod } from './helpers.ts';
import {
  DENY_MESSAGE, ROOT_CERTIFICATE, ROOT_SECRET, SERVING_CERTIFICATE, SERVING_SECRET, WEBHOOK_CONFIGURATION, WEBHOOK_DEPLOYMENT, WEBHOOK_NAME, WEBHOOK_NS, webhookChart,
} from './webhook-pod.ts';

const { kubectl, helm, getJson, operatorPods, leaseHolder, certificateReady } = clusterTools(() => info);

let image: OperatorImage;
let before: HostSnapshot;
let after: HostSnapshot | undefined;
let env: LocalEnv | undefined;
let info: LocalEnvInfo;
let workDir: string;
let challengeForwarder: TcpForwarder | undefined;
let stopped = false;

function helmImageArgs(): string[] {
  return ['--set', `image.repository=${image.repository},image.tag=${image.tag},image.pullPolicy=Never`];
}

const certificateYaml = (name: string, dnsName: string) => certificateManifest(name, [dnsName]);

const registrations = async () => (await getJournal(info.acme.managementUrl)).filter((e) => !e.onlyReturnExisting && e.status === 201);
const ordersFor = async (dnsName: string) => (await getOrders(info.acme.managementUrl)).filter((o) => o.status === 201 && o.identifiers.some((i) => i.value === dnsName));

beforeAll(async () => {
  image = ensureOperatorImage();
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkeeper-node-test-'));
  // The machine is compared while this run holds its node-cluster lock: another run's cluster may come and go around it.
  env = await startLocalEnv({ workDir, node: true, nodeWhileLocked: { acquired: () => { before = hostSnapshot(); }, releasing: () => { after = hostSnapshot(); } } });
  info = env.info;
  await env.nodeCluster!.importImage(image.archive);
}, 600_000);

afterAll(async () => {
  if (!stopped) {
    await challengeForwarder?.stop();
    await env?.stop();
  }
  if (workDir && !process.env.CERTKEEPER_KEEP_LOGS) fs.rmSync(workDir, { recursive: true, force: true });
});

describe('the chart on a real node', () => {
  it('helm install: Pods Running and Ready through the chart probes, non-root on a read-only root, with a real ServiceAccount token', async () => {
    // The environment applied the CRDs already (kubectl); the chart's copy would conflict with their ownership.
    await helm(['install', 'certkeeper', path.join(repoRoot, 'charts/certkeeper'), '-n', RELEASE_NS, '--create-namespace', '--set', 'crds.install=false', ...helmImageArgs(), '--wait', '--timeout', '120s']);
    const [pod] = (await operatorPods()).filter(isReady);
    expect(pod).toBeDefined();
    expect(pod!.spec.nodeName).toBe(info.node!.name);
    expect(pod!.status.containerStatuses![0]!.restartCount).toBe(0);

    // What the kubelet enforced, seen from inside the container.
    const inside = await kubectl(['exec', '-n', RELEASE_NS, pod!.metadata.name, '--', 'sh', '-c',
      'id -u; id -g; touch /probe 2>&1 || true; cat /var/run/secrets/kubernetes.io/serviceaccount/token']);
    const [uid, gid, touch, token] = inside.trim().split('\n');
    expect(uid).toBe('65532');
    expect(gid).toBe('65532');
    expect(touch).toMatch(/Read-only file system/);
    const claims = JSON.parse(Buffer.from(token!.split('.')[1]!, 'base64url').toString()) as { sub: string };
    expect(claims.sub).toBe(`system:serviceaccount:${RELEASE_NS}:certkeeper`);

    // What the image carries besides Node: the bundle, bin/ and package.json; no
    // node_modules, npm, source maps or tests, and well under 30 MB.
    const contents = await kubectl(['exec', '-n', RELEASE_NS, pod!.metadata.name, '--', 'sh', '-c',
      'ls /app; du -sk /app | cut -f1; command -v npm || echo no-npm; find / -xdev \\( -name node_modules -o -name "*.map" -o -name "*.test.*" \\) -print 2>/dev/null | head -5; echo end']);
    const lines = contents.trim().split('\n');
    expect(lines.slice(0, 3)).toEqual(['bin', 'dist', 'package.json']);
    expect(Number(lines[3])).toBeLessThan(30 * 1024);
    expect(lines.slice(4)).toEqual(['no-npm', 'end']);

    // The operator works with that token: it holds the Lease (RBAC: Leases in its namespace only).
    await waitFor('the Lease held by the Pod', async () => (await leaseHolder())?.startsWith(`${pod!.metadata.name}_`));
  });

  it('issues a certificate through the deployed operator, HTTP-01 answered from its Pod', async () => {
    const service = await getJson<{ spec: { clusterIP: string; ports: { port: number }[] } }>(['get', 'service', 'certkeeper-http01', '-n', RELEASE_NS]);
    await waitForServiceHttp(service.spec.clusterIP, service.spec.ports[0]!.port);
    challengeForwarder = await startTcpForwarder({
      listenHost: '127.0.0.1',
      listenPort: info.acme.httpChallengePort,
      targetHost: service.spec.clusterIP,
      targetPort: service.spec.ports[0]!.port,
    });
    await kubectl(['create', 'namespace', APPS_NS]);
    const eab = await mintEabKey(info.acme.managementUrl);
    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'eab', namespace: APPS_NS }, stringData: { secret: eab.hmacKey } },
        {
          apiVersion: 'certkeeper.io/v1alpha1',
          kind: 'Issuer',
          metadata: { name: 'gts', namespace: APPS_NS },
          spec: {
            acme: {
              // The CA as Pods reach it: the machine's own address.
              server: info.node!.directoryUrl,
              email: 'ops@example.com',
              privateKeySecretRef: { name: 'account-key' },
              externalAccountBinding: { keyID: eab.keyId, keySecretRef: { name: 'eab' } },
              caBundle: fs.readFileSync(info.acme.caRootFile).toString('base64'),
              solvers: [{ http01: { ingress: { ingressClassName: 'none' } } }],
            },
          },
        },
      ],
    }));
    await kubectl(['apply', '-f', '-'], certificateYaml('first', 'first.certkeeper.test'));
    const cert = await certificateReady('first');
    expect(cert.status.revision).toBe(1);
    expect(await registrations()).toHaveLength(1);
    expect(await ordersFor('first.certkeeper.test')).toHaveLength(1);
  });

  it('with two replicas, deleting the leader Pod moves the work; a Certificate created meanwhile is ordered once; the Pod exits 0 on SIGTERM', async () => {
    await helm(['upgrade', 'certkeeper', path.join(repoRoot, 'charts/certkeeper'), '-n', RELEASE_NS, '--reuse-values', '--set', 'replicaCount=2', '--wait', '--timeout', '120s']);
    const pods = await waitFor('two Ready Pods', async () => {
      const ready = (await operatorPods()).filter(isReady);
      return ready.length === 2 ? ready : undefined;
    });
    const holder = (await waitFor('a leader', leaseHolder))!;
    const leader = pods.find((p) => holder.startsWith(`${p.metadata.name}_`))!;
    const standby = pods.find((p) => p !== leader)!;
    expect(leader).toBeDefined();

    // Watch the leader's container until the kubelet reports how it ended.
    const watch = spawn(info.kubectl, ['--kubeconfig', info.kubeconfig, 'get', 'pod', leader.metadata.name, '-n', RELEASE_NS, '--watch', '-o',
      'jsonpath={.status.containerStatuses[0].state.terminated.exitCode}{"\\n"}']);
    let watched = '';
    watch.stdout.on('data', (chunk: Buffer) => { watched += chunk.toString(); });
    try {
      const deleted = Date.now();
      await kubectl(['delete', 'pod', leader.metadata.name, '-n', RELEASE_NS, '--wait=false']);
      await kubectl(['apply', '-f', '-'], certificateYaml('during-failover', 'failover.certkeeper.test'));
      let lastHolder: string | undefined;
      const newHolder = await waitFor('another replica to lead', async () => {
        lastHolder = await leaseHolder();
        return lastHolder !== undefined && !lastHolder.startsWith(`${leader.metadata.name}_`) ? lastHolder : undefined;
      }, 15_000 + 10_000).catch((error: Error) => {
        throw new Error(`${error.message}; holder: ${lastHolder}; standby: ${standby.metadata.name}`);
      });
      // Usually the warm standby (it retries every 2 s); the Pod the ReplicaSet starts
      // in the leader's place may win the race for the released Lease, which is fine too.
      const replacements = (await operatorPods()).map((p) => p.metadata.name).filter((n) => n !== leader.metadata.name);
      expect(replacements.some((n) => newHolder.startsWith(`${n}_`)), `holder ${newHolder}, standby ${standby.metadata.name}`).toBe(true);
      // Released at SIGTERM, so well within the 15 s lease duration.
      expect(Date.now() - deleted).toBeLessThan(15_000);
      await certificateReady('during-failover');
      expect(await ordersFor('failover.certkeeper.test')).toHaveLength(1);
      const exitCode = await waitFor('the old leader\'s exit code', async () => watched.split('\n').find((l) => l.trim() !== '')?.trim(), 40_000);
      expect(exitCode).toBe('0');
    } finally {
      watch.kill();
    }
    expect(await registrations()).toHaveLength(1);
  });

  it('helm upgrade with a changed value rolls the Pods with no second registration and no duplicate order', async () => {
    const podsBefore = (await operatorPods()).map((p) => p.metadata.name);
    const ordersBefore = (await getOrders(info.acme.managementUrl)).length;
    await helm(['upgrade', 'certkeeper', path.join(repoRoot, 'charts/certkeeper'), '-n', RELEASE_NS, '--reuse-values', '--set', 'logLevel=debug', '--wait', '--timeout', '180s']);
    await kubectl(['rollout', 'status', 'deployment/certkeeper', '-n', RELEASE_NS, '--timeout=120s']);
    const podsAfter = await waitFor('only new Pods', async () => {
      const pods = await operatorPods();
      return pods.length === 2 && pods.every((p) => isReady(p) && !podsBefore.includes(p.metadata.name)) ? pods : undefined;
    });
    await waitFor('a new leader', async () => {
      const h = await leaseHolder();
      return podsAfter.some((p) => h?.startsWith(`${p.metadata.name}_`));
    });
    // The new leader re-syncs every Issuer and Certificate: nothing is registered or ordered again.
    await kubectl(['apply', '-f', '-'], certificateYaml('after-upgrade', 'after-upgrade.certkeeper.test'));
    await certificateReady('after-upgrade');
    expect(await registrations()).toHaveLength(1);
    expect((await getOrders(info.acme.managementUrl)).length).toBe(ordersBefore + 1);
    for (const name of ['first', 'during-failover']) {
      const cert = await certificateReady(name);
      expect(cert.status.revision).toBe(1);
    }
  });

});

describe('an admission webhook in a Pod, its caBundle injected by the chart\'s certkeeper', () => {
  type SecretData = Record<'tls.crt' | 'tls.key' | 'ca.crt', string>;
  const secretData = async (name: string) => (await getJson<{ data: SecretData }>(['get', 'secret', name, '-n', WEBHOOK_NS])).data;
  const caBundle = async () => (await getJson<{ webhooks: { clientConfig: { caBundle?: string } }[] }>(['get', 'validatingwebhookconfiguration', WEBHOOK_CONFIGURATION])).webhooks[0]!.clientConfig.caBundle;
  const serialOf = (tlsCrt: string) => new X509Certificate(Buffer.from(tlsCrt, 'base64')).serialNumber;
  const webhookPods = async () => (await getJson<{ items: Pod[] }>(['get', 'pods', '-n', WEBHOOK_NS, '-l', 'app.kubernetes.io/component=webhook'])).items;
  const injectedEvents = async () => (await getJson<{ items: unknown[] }>(['get', 'events', '-n', 'default', '--field-selector', `involvedObject.name=${WEBHOOK_CONFIGURATION},reason=CAInjected`])).items;
  /** Creates a ConfigMap in the webhook's namespace: undefined when created, else what the API server said. */
  const createConfigMap = async (name: string): Promise<string | undefined> => {
    try {
      await kubectl(['create', 'configmap', name, '-n', WEBHOOK_NS, '--from-literal=a=b']);
      return undefined;
    } catch (error) {
      return (error as { stderr?: string }).stderr ?? String(error);
    }
  };
  /** The API server's answer to deny-me once it comes from a webhook Pod serving the certificate with this serial. */
  const deniedWith = async (serial: string) => {
    // Until kube-proxy routes the Service to a Ready Pod the call fails (refused, or a timeout), which Fail turns into a refusal.
    let last: string | undefined;
    return waitFor(`deny-me denied by the webhook Pod serving certificate ${serial}`, async () => {
      last = await createConfigMap('deny-me');
      return last?.includes(serial) ? last : undefined;
    }, 60_000).catch((error: Error) => {
      throw new Error(`${error.message}; last answer: ${last ?? 'created'}`);
    });
  };
  const loggedBy = (pod: string, line: string) => waitFor(`"${line}" in the log of ${pod}`, async () => (await kubectl(['logs', pod, '-n', WEBHOOK_NS])).includes(line), 15_000);

  afterAll(async () => {
    // failurePolicy Fail: nothing later may depend on this webhook.
    await kubectl(['delete', 'validatingwebhookconfiguration', WEBHOOK_CONFIGURATION, '--ignore-not-found']).catch(() => undefined);
  });

  it('injects the serving Certificate\'s CA; the API server calls the webhook Pod through its Service: deny-me denied with its message, another ConfigMap created', async () => {
    // Everything a chart would install at once; the webhook configuration comes without a caBundle.
    await kubectl(['create', 'namespace', WEBHOOK_NS]);
    await kubectl(['apply', '-f', '-'], JSON.stringify(webhookChart(image.name)));
    await certificateReady(ROOT_CERTIFICATE, 1, 60_000, WEBHOOK_NS);
    await certificateReady(SERVING_CERTIFICATE, 1, 60_000, WEBHOOK_NS);
    const root = await secretData(ROOT_SECRET);
    const serving = await secretData(SERVING_SECRET);
    // selfSigned root -> ca issuer -> serving certificate: the serving Secret's ca.crt is the root.
    expect(serving['ca.crt']).toBe(root['ca.crt']);
    await waitFor('the root CA in the webhook configuration\'s caBundle', async () => (await caBundle()) === serving['ca.crt'], 60_000);

    await kubectl(['rollout', 'status', `deployment/${WEBHOOK_DEPLOYMENT}`, '-n', WEBHOOK_NS, '--timeout=90s']);
    const [pod] = (await webhookPods()).filter(isReady);
    expect(pod).toBeDefined();
    const serial = serialOf(serving['tls.crt']);
    await loggedBy(pod!.metadata.name, `serving on :9443 with certificate ${serial}`);
    const denied = await deniedWith(serial);
    expect(denied).toContain(`admission webhook "${WEBHOOK_NAME}" denied the request: ${DENY_MESSAGE} (serving certificate ${serial})`);
    expect(await createConfigMap('allowed-1')).toBeUndefined();
    await loggedBy(pod!.metadata.name, `allowed CREATE configmap ${WEBHOOK_NS}/allowed-1`);
    expect(await injectedEvents()).toHaveLength(1);
  });

  it('renews the serving certificate; the restarted webhook Pod serves the new one and the API server calls it over the same injected CA', async () => {
    const before = await secretData(SERVING_SECRET);
    const [oldPod] = (await webhookPods()).filter(isReady);
    await kubectl(['annotate', 'certificate', SERVING_CERTIFICATE, '-n', WEBHOOK_NS, '--overwrite', `${RENEW_REQUEST_ANNOTATION}=${new Date().toISOString()}`]);
    await certificateReady(SERVING_CERTIFICATE, 2, 60_000, WEBHOOK_NS);
    const after = await secretData(SERVING_SECRET);
    expect(after['tls.crt']).not.toBe(before['tls.crt']);
    expect(after['tls.key']).not.toBe(before['tls.key']);
    // Same root: the caBundle stays as it is, and verifies the new certificate too.
    expect(after['ca.crt']).toBe(before['ca.crt']);
    expect(await caBundle()).toBe(before['ca.crt']);

    // The server reads its certificate at start: a new Pod mounts the renewed Secret (as a
    // reloader would restart it; kubelet would refresh the mounted files only at its next sync, up to a minute or more).
    await kubectl(['rollout', 'restart', `deployment/${WEBHOOK_DEPLOYMENT}`, '-n', WEBHOOK_NS]);
    await kubectl(['rollout', 'status', `deployment/${WEBHOOK_DEPLOYMENT}`, '-n', WEBHOOK_NS, '--timeout=90s']);
    // Gone, so no connection the API server keeps alive can still reach the old server.
    await kubectl(['wait', '--for=delete', `pod/${oldPod!.metadata.name}`, '-n', WEBHOOK_NS, '--timeout=60s']);
    const [newPod] = (await webhookPods()).filter((p) => isReady(p) && p.metadata.name !== oldPod!.metadata.name);
    expect(newPod).toBeDefined();
    const serial = serialOf(after['tls.crt']);
    await loggedBy(newPod!.metadata.name, `serving on :9443 with certificate ${serial}`);
    const denied = await deniedWith(serial);
    expect(denied).toContain(`admission webhook "${WEBHOOK_NAME}" denied the request: ${DENY_MESSAGE} (serving certificate ${serial})`);
    expect(await createConfigMap('allowed-2')).toBeUndefined();
    await loggedBy(newPod!.metadata.name, `allowed CREATE configmap ${WEBHOOK_NS}/allowed-2`);
    // Nothing was injected again: the caBundle was already right.
    expect(await caBundle()).toBe(before['ca.crt']);
    expect(await injectedEvents()).toHaveLength(1);
  });
});

describe('the plain manifests of deploy/', () => {
  it('kubectl apply --server-side -f deploy/ runs the same operator', async () => {
    await helm(['uninstall', 'certkeeper', '-n', RELEASE_NS, '--wait', '--timeout', '120s']);
    await kubectl(['delete', 'namespace', RELEASE_NS, '--wait=true', '--timeout=120s']);
    // deploy/ names the published image with IfNotPresent: the node has it under that name, so nothing is pulled.
    const controller = fs.readFileSync(path.join(repoRoot, 'deploy/03-controller.yaml'), 'utf8');
    const published = /image: "?([^"\s]+)"?/.exec(controller)![1]!;
    await env!.nodeCluster!.tagImage(image.name, published);
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', path.join(repoRoot, 'deploy')]);
    await kubectl(['rollout', 'status', 'deployment/certkeeper', '-n', RELEASE_NS, '--timeout=120s']);
    const service = await getJson<{ spec: { clusterIP: string; ports: { port: number }[] } }>(['get', 'service', 'certkeeper-http01', '-n', RELEASE_NS]);
    await waitForServiceHttp(service.spec.clusterIP, service.spec.ports[0]!.port);
    challengeForwarder!.retarget(service.spec.clusterIP, service.spec.ports[0]!.port);
    const [pod] = (await operatorPods()).filter(isReady);
    expect(pod).toBeDefined();
    await waitFor('the Lease held by the Pod', async () => (await leaseHolder())?.startsWith(`${pod!.metadata.name}_`));
    await kubectl(['apply', '-f', '-'], certificateYaml('from-deploy', 'from-deploy.certkeeper.test'));
    await certificateReady('from-deploy');
    expect(await registrations()).toHaveLength(1);
    expect(await ordersFor('from-deploy.certkeeper.test')).toHaveLength(1);
  });
});

describe('stopping the node cluster', () => {
  it('leaves nothing behind: sysctls, iptables, links, mounts, cgroups, runtime directories, processes', async () => {
    stopped = true;
    await challengeForwarder?.stop();
    await env!.stop();
    expect(after).toEqual(before);
  });
});
