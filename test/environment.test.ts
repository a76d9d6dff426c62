// Proves the test environment is the real thing: a kube-apiserver of the
// pinned release that serves our CRDs, enforces their schemas, stores Secrets
// and delivers watch events.
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../src/api/meta.ts';
import { core, KubeClient, loadKubeConfig, supportsStreamingLists, type KubeObject } from '../src/kube/client.ts';
import { Informer } from '../src/kube/informer.ts';
import { createNamespace, env, kubeClient, kubectl, kubectlFails, waitFor } from './helpers.ts';
import pino from 'pino';
import { startControlPlane, type ControlPlane } from './env/controlplane.ts';
import { ensureTools } from './env/tools.ts';

const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };

/** A control plane of the test's own (with flags the shared one lacks), stopped and its directory removed afterwards. */
async function withControlPlane(extraApiServerFlags: string[], use: (plane: ControlPlane) => Promise<void>): Promise<void> {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-cp-'));
  try {
    const plane = await startControlPlane({ tools: ensureTools(), workDir, extraApiServerFlags });
    try {
      await use(plane);
    } finally {
      await plane.stop();
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

describe('the local control plane', () => {
  let kube: KubeClient;
  let namespace: string;

  beforeAll(async () => {
    kube = await kubeClient();
    namespace = await createNamespace(kube, 'env');
  });
  afterAll(() => kube.close());

  it('reports the pinned Kubernetes release on /version', async () => {
    const version = await kube.request<{ gitVersion: string }>('GET', '/version', {}, 'read');
    expect(version.gitVersion).toBe(env().kubernetesVersion);
    const { stdout } = await kubectl(['version', '-o', 'json']);
    expect(JSON.parse(stdout).serverVersion.gitVersion).toBe(env().kubernetesVersion);
  });

  it('serves the Issuer CRD from crds/ and rejects an object that breaks its schema', async () => {
    const valid = {
      apiVersion: API_VERSION,
      kind: 'Issuer',
      metadata: { name: 'valid', namespace },
      spec: { acme: { server: 'https://ca.example/directory', email: 'ops@example.com', privateKeySecretRef: { name: 'acct' } } },
    };
    const created = await kube.create<KubeObject>(issuers, valid);
    expect(created.metadata.uid).toBeTruthy();

    const stderr = await kubectlFails(['apply', '-f', '-'], JSON.stringify({
      ...valid,
      metadata: { name: 'invalid', namespace },
      spec: { acme: { server: 'http://plain.example/directory', privateKeySecretRef: { name: 'acct' }, skipTLSVerify: true, caBundle: 'Zm9v' } },
    }));
    expect(stderr).toContain('server must be an https:// URL');
    expect(stderr).toContain('skipTLSVerify and caBundle are mutually exclusive');

    const noEmail = await kubectlFails(['apply', '-f', '-'], JSON.stringify({
      ...valid,
      metadata: { name: 'no-email', namespace },
      spec: { acme: { server: 'https://ca.example/directory', privateKeySecretRef: { name: 'acct' }, externalAccountBinding: { keyID: 'k', keySecretRef: { name: 'eab' } } } },
    }));
    expect(noEmail).toContain('email is required with externalAccountBinding');
  });

  it('round-trips a Secret', async () => {
    const data = { 'tls.key': Buffer.from('not really a key').toString('base64') };
    await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'roundtrip', namespace }, data });
    const read = await kube.get<KubeObject & { data: Record<string, string> }>(core.secrets, namespace, 'roundtrip');
    expect(read?.data).toEqual(data);
  });

  it('delivers a change to a watching informer, with metadata only for Secrets', async () => {
    const informer = new Informer<KubeObject>({ kube, type: core.secrets, namespace, metadataOnly: true, log: pino({ level: 'silent' }) });
    const seen: string[] = [];
    informer.onChange((key, current) => seen.push(`${key}:${current ? 'present' : 'gone'}`));
    informer.start();
    await informer.waitForSync();
    await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'watched', namespace }, stringData: { a: 'b' } } as KubeObject);
    await waitFor('the watch event', async () => seen.includes(`${namespace}/watched:present`));
    expect((informer.get(`${namespace}/watched`) as unknown as { data?: unknown }).data).toBeUndefined();
    await kube.delete(core.secrets, namespace, 'watched');
    await waitFor('the delete event', async () => seen.includes(`${namespace}/watched:gone`));
    await informer.stop();
  });

  it('lists with a streaming watch where the API server offers it: every object, the end bookmark, then changes on the same stream', async () => {
    const requests: string[] = [];
    const counted = await KubeClient.fromKubeConfig(loadKubeConfig(env().kubeconfig), {
      fieldManager: 'certkeeper-tests', onRequest: (kind, _verb, resource) => { if (resource === 'secrets') requests.push(kind); },
    });
    counted.streamingLists = supportsStreamingLists(await counted.request('GET', '/version', {}, 'read'));
    // The pinned release serves streaming lists: if this fails, the test below proves nothing.
    expect(counted.streamingLists).toBe(true);
    const names = ['s1', 's2', 's3'];
    for (const name of names) {
      await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: `stream-${name}`, namespace, labels: { stream: 'yes' } }, stringData: { a: name } } as KubeObject);
    }
    const informer = new Informer<KubeObject>({ kube: counted, type: core.secrets, namespace, labelSelector: 'stream=yes', metadataOnly: true, log: pino({ level: 'silent' }) });
    informer.start();
    await informer.waitForSync();
    expect(informer.list().map((s) => s.metadata.name).sort()).toEqual(names.map((n) => `stream-${n}`));
    expect(requests).toEqual(['watch']);
    await kube.delete(core.secrets, namespace, 'stream-s2');
    await waitFor('the delete on the same stream', async () => informer.get(`${namespace}/stream-s2`) === undefined);
    expect(requests).toEqual(['watch']);
    await informer.stop();
    counted.close();
  });

  it('lists page by page when the API server refuses streaming lists (the WatchList feature gate off)', async () => {
    await withControlPlane(['--feature-gates=WatchList=false'], async (plane) => {
      const requests: string[] = [];
      const gated = await KubeClient.fromKubeConfig(loadKubeConfig(plane.kubeconfig), {
        fieldManager: 'certkeeper-tests', onRequest: (kind, _verb, resource) => { if (resource === 'secrets') requests.push(kind); },
      });
      // As connect() would decide from the version: the release offers them, this server has them off.
      gated.streamingLists = true;
      const secret = (name: string) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'default' }, stringData: { a: name } } as KubeObject);
      await gated.create(core.secrets, secret('before-sync'));
      requests.length = 0;
      const informer = new Informer<KubeObject>({ kube: gated, type: core.secrets, namespace: 'default', metadataOnly: true, log: pino({ level: 'silent' }) });
      informer.start();
      await informer.waitForSync();
      expect(informer.get('default/before-sync')).toBeDefined();
      // One refused streaming watch, then a list and a plain watch.
      await waitFor('the plain watch after the list', async () => requests.length >= 3);
      expect(requests).toEqual(['watch', 'read', 'watch']);
      await gated.create(core.secrets, secret('after-sync'));
      await waitFor('the new Secret', async () => informer.get('default/after-sync') !== undefined);
      await informer.stop();
      gated.close();
    });
  });

  it('stops cleanly: a second control plane leaves nothing running or listening', async () => {
    await withControlPlane([], async (plane) => {
      const port = Number(new URL(plane.server).port);
      const pids = plane.pids();
      expect(pids).toHaveLength(2);
      await plane.stop();
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
      const listening = await new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        socket.once('connect', () => { socket.destroy(); resolve(true); });
        socket.once('error', () => resolve(false));
      });
      expect(listening).toBe(false);
    });
  });

  it('serves TLS that the kubeconfig trusts and refuses anonymous requests', async () => {
    const kubeconfig = JSON.parse(readFileSync(env().kubeconfig, 'utf8'));
    const ca = Buffer.from(kubeconfig.clusters[0].cluster['certificate-authority-data'], 'base64');
    const status = await new Promise<number>((resolve, reject) => {
      https.get(`${kubeconfig.clusters[0].cluster.server}/api/v1/namespaces/${namespace}/secrets`, { ca }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(status).toBe(403);
  });
});
