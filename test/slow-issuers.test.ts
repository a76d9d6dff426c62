// A CA that never answers (a tarpit: it accepts the connection and says
// nothing) must not hold up other Issuers: a tenant's Issuers pointing at one
// occupy an account-sync slot each until --acme-request-timeout, so the
// operator runs enough of them side by side that another tenant's Issuer is
// registered while all of those still hang.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../src/api/meta.ts';
import { type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { createEabIssuer, createNamespace, kubeClient, waitFor } from './helpers.ts';
import { startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };
const TARPIT_ISSUERS = 6;

let kube: KubeClient;
let operator: OperatorProcess;
let tarpit: net.Server;
const open = new Set<net.Socket>();
let closed = 0;

beforeAll(async () => {
  kube = await kubeClient();
  tarpit = net.createServer((socket) => {
    open.add(socket);
    socket.on('close', () => {
      open.delete(socket);
      closed++;
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => tarpit.listen(0, '127.0.0.1', resolve));
  const ns = await createNamespace(kube, 'slow-issuers-system');
  operator = await startOperatorProcess({ clusterResourceNamespace: ns });
});

afterAll(async () => {
  await operator?.stop();
  for (const socket of open) socket.destroy();
  await new Promise<void>((resolve) => tarpit?.close(() => resolve()));
  kube?.close();
});

describe('Issuers whose CA never answers', () => {
  it('do not hold up another tenant\'s Issuer', async () => {
    const hostile = await createNamespace(kube, 'tarpit');
    const { port } = tarpit.address() as net.AddressInfo;
    for (let i = 0; i < TARPIT_ISSUERS; i++) {
      await kube.create(issuers, {
        apiVersion: API_VERSION, kind: 'Issuer', metadata: { name: `stuck-${i}`, namespace: hostile },
        // A directory URL each: Issuers of one CA share one directory request (AcmeConnections), and each of
        // these must hold a request of its own to occupy its own account-sync slot.
        spec: { acme: { server: `https://127.0.0.1:${port}/directory-${i}`, email: 'x@example.com', privateKeySecretRef: { name: `stuck-${i}-account` } } },
      } as KubeObject);
    }
    // Every one of them is waiting on the tarpit.
    await waitFor('all tarpit Issuers to be waiting on the CA', async () => open.size >= TARPIT_ISSUERS || undefined);

    const tenant = await createNamespace(kube, 'tenant');
    await createEabIssuer(kube, tenant);
    await waitFor('the tenant\'s Issuer to be ready', async () => {
      const issuer = await kube.get<KubeObject & { status?: { conditions?: { type: string; status: string }[] } }>(issuers, tenant, 'gts');
      return issuer?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') || undefined;
    });
    // Registered while every tarpit request was still hanging: it did not wait for one to time out.
    expect(closed).toBe(0);
    expect(open.size).toBeGreaterThanOrEqual(TARPIT_ISSUERS);
  });
});
