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
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getOrders, mintEabKey } from '../env/ca-client.ts';
import { startTcpForwarder, type TcpForwarder } from '../env/forward.ts';
import { ensureOperatorImage, type OperatorImage } from '../env/image.ts';
import { startLocalEnv, type LocalEnv } from '../env/localenv-core.ts';
import { repoRoot } from '../env/tools.ts';
import { ensureTraefik, GATEWAY_NAME, traefikManifests, TRAEFIK_NAMESPACE } from '../env/traefik.ts';
import type { LocalEnvInfo } from '../env/types.ts';
import { APPS_NS, certificateManifest, clusterTools, RELEASE_NS, waitFor, waitForServiceHttp } from './helpers.ts';

const { kubectl, helm, getJson, certificateReady } = clusterTools(() => info);

/** Short-lived certificates, so that renewal (at two thirds of the lifetime) happens during the test. */
const VALIDITY_SECONDS = 45;
const HOST = 'shop.certkeeper.test';

let image: OperatorImage;
let env: LocalEnv | undefined;
let info: LocalEnvInfo;
let workDir: string;
let forwarder: TcpForwarder | undefined;
let traefikIp: string;

async function serviceIp(namespace: string, name: string): Promise<string> {
  return (await getJson<{ spec: { clusterIP: string } }>(['get', 'service', name, '-n', namespace])).spec.clusterIP;
}

/** The leaf certificate Traefik presents for a name (TLS to its Service from this machine). */
async function servedCertificate(servername: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: traefikIp, port: 443, servername, rejectUnauthorized: false }, () => {
      const peer = socket.getPeerX509Certificate();
      socket.end();
      if (peer) resolve(peer);
      else reject(new Error('no peer certificate'));
    });
    socket.once('error', reject);
  });
}

async function secretLeaf(name: string): Promise<{ leaf: X509Certificate; chain: number }> {
  const secret = await getJson<{ data: Record<string, string> }>(['get', 'secret', name, '-n', APPS_NS]);
  const pem = Buffer.from(secret.data['tls.crt']!, 'base64').toString();
  return { leaf: new X509Certificate(pem), chain: pem.match(/BEGIN CERTIFICATE/g)!.length };
}

/** An Issuer in the apps namespace with one http01 solver, and its EAB Secret. */
async function issuer(name: string, solver: object) {
  const eab = await mintEabKey(info.acme.managementUrl);
  const caBundle = fs.readFileSync(info.acme.caRootFile).toString('base64');
  return [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name}-eab`, namespace: APPS_NS }, stringData: { secret: eab.hmacKey } },
    {
      apiVersion: 'certkeeper.io/v1alpha1',
      kind: 'Issuer',
      metadata: { name, namespace: APPS_NS },
      spec: { acme: { server: info.node!.directoryUrl, email: 'ops@example.com', privateKeySecretRef: { name: `${name}-account` }, externalAccountBinding: { keyID: eab.keyId, keySecretRef: { name: `${name}-eab` } }, caBundle, solvers: [{ http01: solver }] } },
    },
  ];
}

beforeAll(async () => {
  image = ensureOperatorImage();
  const traefik = ensureTraefik();
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkeeper-ingress-test-'));
  env = await startLocalEnv({ workDir, node: true, caValiditySeconds: VALIDITY_SECONDS });
  info = env.info;
  await env.nodeCluster!.importImage(image.archive);
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', traefik.gatewayApiCrds]);
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', traefik.gatewayApiCrds]);
  await kubectl(['apply', '-f', '-'], await traefikManifests(env.nodeCluster!, traefik.binary, workDir));
  await helm(['install', 'certkeeper', path.join(repoRoot, 'charts/certkeeper'), '-n', RELEASE_NS, '--create-namespace', '--set', 'crds.install=false',
    '--set', `image.repository=${image.repository},image.tag=${image.tag},image.pullPolicy=Never`,
    // Traefik batches route updates for 2 s: without a pause the CA may check a new route first and get a 404.
    '--set', 'http01.routeSettleSeconds=3', '--wait', '--timeout', '120s']);
  await kubectl(['rollout', 'status', 'deployment/traefik', '-n', TRAEFIK_NAMESPACE, '--timeout=120s']);
  traefikIp = await serviceIp(TRAEFIK_NAMESPACE, 'traefik');
  await waitForServiceHttp(traefikIp, 80);
  // Pebble validates at 127.0.0.1:<httpChallengePort> (every test name resolves to 127.0.0.1): that is the ingress controller's port 80 now.
  forwarder = await startTcpForwarder({ listenHost: '127.0.0.1', listenPort: info.acme.httpChallengePort, targetHost: traefikIp, targetPort: 80 });

  await kubectl(['create', 'namespace', APPS_NS]);
  // A plain HTTP backend for the user's Ingress (node from the operator's image).
  const web = { 'app.kubernetes.io/name': 'web' };
  await kubectl(['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      ...await issuer('via-ingress', { ingress: { ingressClassName: 'traefik' } }),
      ...await issuer('via-gateway', { gatewayHTTPRoute: { parentRefs: [{ name: GATEWAY_NAME, namespace: TRAEFIK_NAMESPACE }] } }),
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: APPS_NS },
        spec: {
          selector: { matchLabels: web },
          template: {
            metadata: { labels: web },
            spec: {
              securityContext: { runAsNonRoot: true, runAsUser: 65532 },
              containers: [{
                name: 'web',
                image: image.name,
                imagePullPolicy: 'Never',
                command: ['node', '-e', "require('node:http').createServer((q, s) => s.end('hello from web')).listen(8080)"],
                ports: [{ containerPort: 8080 }],
                readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
              }],
            },
          },
        },
      },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: APPS_NS }, spec: { selector: web, ports: [{ port: 80, targetPort: 8080 }] } },
    ],
  }));
  await kubectl(['rollout', 'status', 'deployment/web', '-n', APPS_NS, '--timeout=120s']);
}, 900_000);

afterAll(async () => {
  await forwarder?.stop();
  await env?.stop();
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
        ...await issuer('edit-in-place', { ingress: { name: 'blog' } }),
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
    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'shop', namespace: APPS_NS, annotations: { 'certkeeper.io/issuer': 'via-ingress' } },
      spec: {
        ingressClassName: 'traefik',
        tls: [{ hosts: [HOST], secretName: 'shop-tls' }],
        rules: [{ host: HOST, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }],
      },
    }));
    // The shim's Certificate is named like the Secret.
    const first = await certificateReady('shop-tls');
    const issued = await secretLeaf('shop-tls');
    expect(issued.chain).toBeGreaterThanOrEqual(2);
    const served = await waitFor('Traefik to serve the Secret\'s certificate', async () => {
      const cert = await servedCertificate(HOST);
      return cert.fingerprint256 === (await secretLeaf('shop-tls')).leaf.fingerprint256 ? cert : undefined;
    }, 60_000);
    expect(served.subjectAltName).toBe(`DNS:${HOST}`);

    // HTTPS through Traefik reaches the backend.
    const body = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: traefikIp, port: 443, servername: HOST, rejectUnauthorized: false }, () => {
        socket.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
      });
      let text = '';
      socket.on('data', (c: Buffer) => { text += c.toString(); });
      socket.on('end', () => resolve(text));
      socket.once('error', reject);
    });
    expect(body).toContain('hello from web');

    // The CA issues for 45 s: certkeeper renews at about two thirds of that, and Traefik picks up the new Secret.
    const renewed = await certificateReady('shop-tls', first.status.revision + 1, 90_000);
    expect(renewed.status.revision).toBeGreaterThan(first.status.revision);
    const newServed = await waitFor('Traefik to serve the renewed certificate', async () => {
      const cert = await servedCertificate(HOST);
      return cert.fingerprint256 !== served.fingerprint256 && cert.fingerprint256 === (await secretLeaf('shop-tls')).leaf.fingerprint256 ? cert : undefined;
    }, 60_000);
    expect(Date.parse(newServed.validTo)).toBeGreaterThan(Date.parse(served.validTo));
  });
});
