// The user's story on the node cluster, shared by test/node/ingress.test.ts and
// `npm run demo -- --node`: the node cluster with the operator's image, Traefik
// (Ingress and Gateway API), certkeeper installed with its chart, a forwarder
// standing in for the load balancer in front of Traefik (Pebble validates at
// 127.0.0.1:<httpChallengePort>), a namespace for the user's apps with a plain
// HTTP backend, and Issuers with fresh EAB keys from the GTS-like CA.
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { mintEabKey } from '../env/ca-client.ts';
import { startTcpForwarder, type TcpForwarder } from '../env/forward.ts';
import { ensureOperatorImage, type OperatorImage } from '../env/image.ts';
import { startLocalEnv, type LocalEnv } from '../env/localenv-core.ts';
import { repoRoot } from '../env/tools.ts';
import { ensureTraefik, traefikManifests, TRAEFIK_NAMESPACE } from '../env/traefik.ts';
import type { LocalEnvInfo } from '../env/types.ts';
import { APPS_NS, clusterTools, RELEASE_NS, waitForServiceHttp } from './helpers.ts';

export interface IngressStoryOptions {
  workDir: string;
  /** Lifetime of the CA's certificates (short ones make renewal happen while watching). */
  caValiditySeconds?: number;
  /** Issuers to create in the apps namespace, each with its own EAB key and one HTTP-01 solver. */
  issuers: { name: string; http01: object }[];
  /** Told what happens, step by step (the demo prints it). */
  progress?: (text: string) => void;
}

export interface IngressStory {
  env: LocalEnv;
  info: LocalEnvInfo;
  image: OperatorImage;
  /** ClusterIP of Traefik's Service (ports 80 and 443), reachable from this machine. */
  traefikIp: string;
  /** The helm command that installed certkeeper (for showing). */
  helmInstall: string[];
  stop(): Promise<void>;
}

export async function startIngressStory(opts: IngressStoryOptions): Promise<IngressStory> {
  const progress = opts.progress ?? (() => {});
  progress('building (or reusing) the operator image from the Dockerfile and Traefik from its Go module');
  const image = ensureOperatorImage();
  const traefik = ensureTraefik();
  progress('starting a single-node cluster (etcd, kube-apiserver, controller-manager, scheduler, kube-proxy, kubelet, containerd), BIND9 and the GTS-like CA');
  const env = await startLocalEnv({ workDir: opts.workDir, node: true, caValiditySeconds: opts.caValiditySeconds });
  const info = env.info;
  const { kubectl, helm, getJson } = clusterTools(() => info);
  let forwarder: TcpForwarder | undefined;
  const stop = async () => {
    await forwarder?.stop();
    await env.stop();
  };
  try {
    progress(`importing ${image.name} into the node's containerd`);
    await env.nodeCluster!.importImage(image.archive);
    progress('installing Traefik (IngressClass traefik, Gateway traefik/web)');
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', traefik.gatewayApiCrds]);
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', traefik.gatewayApiCrds]);
    await kubectl(['apply', '-f', '-'], await traefikManifests(env.nodeCluster!, traefik.binary, opts.workDir));
    const helmInstall = ['install', 'certkeeper', path.join(repoRoot, 'charts/certkeeper'), '-n', RELEASE_NS, '--create-namespace', '--set', 'crds.install=false',
      '--set', `image.repository=${image.repository},image.tag=${image.tag},image.pullPolicy=Never`,
      // Traefik batches route updates for 2 s: without a pause the CA may check a new route first and get a 404.
      '--set', 'http01.routeSettleSeconds=3', '--wait', '--timeout', '120s'];
    progress(`helm ${helmInstall.join(' ').replace(repoRoot + '/', '')}`);
    await helm(helmInstall);
    await kubectl(['rollout', 'status', 'deployment/traefik', '-n', TRAEFIK_NAMESPACE, '--timeout=120s']);
    const traefikIp = (await getJson<{ spec: { clusterIP: string } }>(['get', 'service', 'traefik', '-n', TRAEFIK_NAMESPACE])).spec.clusterIP;
    await waitForServiceHttp(traefikIp, 80);
    // Pebble validates at 127.0.0.1:<httpChallengePort> (every test name resolves to 127.0.0.1): that is the ingress controller's port 80 now.
    forwarder = await startTcpForwarder({ listenHost: '127.0.0.1', listenPort: info.acme.httpChallengePort, targetHost: traefikIp, targetPort: 80 });

    progress(`creating namespace ${APPS_NS} with a web backend and ${opts.issuers.length === 1 ? 'an Issuer' : 'Issuers'} (a fresh EAB key each, the CA as Pods reach it)`);
    await kubectl(['create', 'namespace', APPS_NS]);
    const caBundle = fs.readFileSync(info.acme.caRootFile).toString('base64');
    const issuerObjects = await Promise.all(opts.issuers.map(async ({ name, http01 }) => {
      const eab = await mintEabKey(info.acme.managementUrl);
      return [
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name}-eab`, namespace: APPS_NS }, stringData: { secret: eab.hmacKey } },
        {
          apiVersion: 'certkeeper.io/v1alpha1',
          kind: 'Issuer',
          metadata: { name, namespace: APPS_NS },
          spec: { acme: { server: info.node!.directoryUrl, email: 'ops@example.com', privateKeySecretRef: { name: `${name}-account` }, externalAccountBinding: { keyID: eab.keyId, keySecretRef: { name: `${name}-eab` } }, caBundle, solvers: [{ http01 }] } },
        },
      ];
    }));
    // A plain HTTP backend for the user's Ingress (node from the operator's image).
    const web = { 'app.kubernetes.io/name': 'web' };
    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        ...issuerObjects.flat(),
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
    return { env, info, image, traefikIp, helmInstall, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** An Ingress of class traefik for one host, asking certkeeper for its TLS Secret (the ingress shim). */
export function userIngress(name: string, host: string, issuer: string, secretName = `${name}-tls`): object {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: APPS_NS, annotations: { 'certkeeper.io/issuer': issuer } },
    spec: {
      ingressClassName: 'traefik',
      tls: [{ hosts: [host], secretName }],
      rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }],
    },
  };
}

/** What Traefik presents for a name: the leaf and the chain it sends (TLS to its Service from this machine). */
export async function servedChain(traefikIp: string, servername: string): Promise<X509Certificate[]> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: traefikIp, port: 443, servername, rejectUnauthorized: false }, () => {
      const chain: X509Certificate[] = [];
      const seen = new Set<string>();
      for (let c: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true); c?.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
        seen.add(c.fingerprint256);
        chain.push(new X509Certificate(c.raw));
      }
      socket.end();
      if (chain.length > 0) resolve(chain);
      else reject(new Error('no peer certificate'));
    });
    socket.once('error', reject);
  });
}

/** An HTTPS GET through Traefik; resolves to the whole response (status line, headers, body). */
export async function httpsThroughTraefik(traefikIp: string, host: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = tls.connect({ host: traefikIp, port: 443, servername: host, rejectUnauthorized: false }, () => {
      socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    });
    let text = '';
    socket.on('data', (c: Buffer) => { text += c.toString(); });
    socket.on('end', () => resolve(text));
    socket.once('error', reject);
  });
}

/** The certificates of a TLS Secret's tls.crt in the apps namespace (leaf first). */
export async function secretLeaf(info: LocalEnvInfo, name: string): Promise<{ leaf: X509Certificate; certificates: X509Certificate[] }> {
  const { getJson } = clusterTools(() => info);
  const secret = await getJson<{ data: Record<string, string> }>(['get', 'secret', name, '-n', APPS_NS]);
  const pem = Buffer.from(secret.data['tls.crt']!, 'base64').toString();
  const certificates = pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!.map((block) => new X509Certificate(block));
  return { leaf: certificates[0]!, certificates };
}
