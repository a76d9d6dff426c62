// HTTP-01 through a real ingress controller, end to end: certkeeper deployed
// with its chart, Traefik (built from its Go module) serving Ingresses and the
// Gateway API. Pebble validates through Traefik: Pebble -> (a forwarder on
// this machine standing in for the load balancer) -> Traefik's Service ->
// Traefik -> certkeeper's solver Service -> the operator's Pod, once for a
// challenge routed by an Ingress, once by an HTTPRoute, once through the
// user's own Ingress edited in place (a Service certkeeper puts beside it,
// whose EndpointSlice mirrors the solver Service's). Then the user's story:
// an Ingress that asks for a certificate (certkeeper.io/issuer annotation, the
// ingress shim), Traefik serving the issued certificate, and the renewed one
// after renewal.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getOrders } from '../env/ca-client.ts';
import { GATEWAY_NAME, TRAEFIK_NAMESPACE } from '../env/traefik.ts';
import type { LocalEnvInfo } from '../env/types.ts';
import { APPS_NS, certificateManifest, clusterTools, waitFor } from './helpers.ts';
import { httpsThroughTraefik, secretLeaf, servedChain, startIngressStory, userIngress, type IngressStory } from './ingress-story.ts';

const { kubectl, getJson, certificateReady } = clusterTools(() => info);

/** Short-lived certificates, so that renewal (at two thirds of the lifetime) happens during the test. */
const VALIDITY_SECONDS = 45;
const HOST = 'shop.certkeeper.test';

let story: IngressStory | undefined;
let info: LocalEnvInfo;
let workDir: string;

/** The leaf certificate Traefik presents for a name. */
const servedCertificate = async (servername: string) => (await servedChain(story!.traefikIp, servername))[0]!;

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkeeper-ingress-test-'));
  story = await startIngressStory({
    workDir,
    caValiditySeconds: VALIDITY_SECONDS,
    issuers: [
      { name: 'via-ingress', http01: { ingress: { ingressClassName: 'traefik' } } },
      { name: 'via-gateway', http01: { gatewayHTTPRoute: { parentRefs: [{ name: GATEWAY_NAME, namespace: TRAEFIK_NAMESPACE }] } } },
      { name: 'edit-in-place', http01: { ingress: { name: 'blog' } } },
    ],
  });
  info = story.info;
}, 900_000);

afterAll(async () => {
  await story?.stop();
  if (workDir && !process.env.CERTKEEPER_KEEP_LOGS) fs.rmSync(workDir, { recursive: true, force: true });
});

describe('HTTP-01 through Traefik', () => {
  it('validates a challenge routed by an Ingress of class traefik', async () => {
    await kubectl(['apply', '-f', '-'], certificateManifest('www', ['www.certkeeper.test'], 'via-ingress'));
    await certificateReady('www');
    const orders = (await getOrders(info.acme.managementUrl)).filter((o) => o.identifiers.some((i) => i.value === 'www.certkeeper.test'));
    expect(orders.filter((o) => o.status === 201).length).toBeGreaterThanOrEqual(1);
  });

  it('validates a challenge routed by an HTTPRoute on Traefik\'s Gateway', async () => {
    await kubectl(['apply', '-f', '-'], certificateManifest('api', ['api.certkeeper.test'], 'via-gateway'));
    await certificateReady('api');
  });

  it('validates a challenge routed through the user\'s own Ingress, edited in place, and gives the Ingress back as it was', async () => {
    // Pebble -> Traefik -> the Service certkeeper puts beside the Ingress -> its EndpointSlice -> certkeeper's Pod.
    const host = 'blog.certkeeper.test';
    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'Ingress',
          metadata: { name: 'blog', namespace: APPS_NS },
          spec: {
            ingressClassName: 'traefik',
            rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }],
          },
        },
      ],
    }));
    const before = await getJson<{ spec: unknown }>(['get', 'ingress', 'blog', '-n', APPS_NS]);
    await kubectl(['apply', '-f', '-'], certificateManifest('blog', [host], 'edit-in-place'));
    await certificateReady('blog');
    const after = await getJson<{ spec: unknown }>(['get', 'ingress', 'blog', '-n', APPS_NS]);
    expect(after.spec).toEqual(before.spec);
    const leftovers = await getJson<{ items: unknown[] }>(['get', 'services,endpointslices', '-n', APPS_NS, '-l', 'certkeeper.io/solver=http01-edit-in-place']);
    expect(leftovers.items).toEqual([]);
  });
});

describe('the user\'s story', () => {
  it('an Ingress that asks for a certificate: issued, served by Traefik, renewed and the renewed one served', async () => {
    await kubectl(['apply', '-f', '-'], JSON.stringify(userIngress('shop', HOST, 'via-ingress')));
    // The shim's Certificate is named like the Secret.
    const first = await certificateReady('shop-tls');
    const issued = await secretLeaf(info, 'shop-tls');
    expect(issued.certificates.length).toBeGreaterThanOrEqual(2);
    const served = await waitFor('Traefik to serve the Secret\'s certificate', async () => {
      const cert = await servedCertificate(HOST);
      return cert.fingerprint256 === (await secretLeaf(info, 'shop-tls')).leaf.fingerprint256 ? cert : undefined;
    }, 60_000);
    expect(served.subjectAltName).toBe(`DNS:${HOST}`);
    // The handshake carries the Secret's whole chain (leaf and intermediate), in order.
    const sentChain = await servedChain(story!.traefikIp, HOST);
    expect(sentChain.map((c) => c.fingerprint256)).toEqual(issued.certificates.map((c) => c.fingerprint256));

    // HTTPS through Traefik reaches the backend.
    const body = await httpsThroughTraefik(story!.traefikIp, HOST);
    expect(body).toContain('hello from web');

    // The CA issues for 45 s: certkeeper renews at about two thirds of that, and Traefik picks up the new Secret.
    const renewed = await certificateReady('shop-tls', first.status.revision + 1, 90_000);
    expect(renewed.status.revision).toBeGreaterThan(first.status.revision);
    const newServed = await waitFor('Traefik to serve the renewed certificate', async () => {
      const cert = await servedCertificate(HOST);
      return cert.fingerprint256 !== served.fingerprint256 && cert.fingerprint256 === (await secretLeaf(info, 'shop-tls')).leaf.fingerprint256 ? cert : undefined;
    }, 60_000);
    expect(Date.parse(newServed.validTo)).toBeGreaterThan(Date.parse(served.validTo));
  });
});
