// Traefik, a real ingress controller (Ingress and Gateway API), in the node
// cluster: its binary (tools/build-traefik.sh) as a one-file image imported
// into the node's containerd, a Deployment with its RBAC, an IngressClass
// `traefik`, a GatewayClass and a Gateway `traefik/web` listening for HTTP,
// and a Service with ports 80 (HTTP) and 443 (TLS from the Ingresses' Secrets).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { NodeCluster } from './node.ts';
import { writeOciArchive } from './oci.ts';
import { repoRoot } from './tools.ts';

export const TRAEFIK_NAMESPACE = 'traefik';
export const TRAEFIK_IMAGE = 'certkeeper.local/traefik:test';
export const GATEWAY_NAME = 'web';

export interface TraefikBuild {
  binary: string;
  /** The Gateway API's standard CRDs, all of which Traefik's provider watches. */
  gatewayApiCrds: string;
}

export function ensureTraefik(): TraefikBuild {
  const binDir = execFileSync('bash', [path.join(repoRoot, 'tools/build-traefik.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim().split('\n').pop()!;
  return { binary: path.join(binDir, 'traefik'), gatewayApiCrds: path.join(binDir, 'gateway-api-crds') };
}

/** Imports Traefik's image into the node and returns the manifests that run it. */
export async function traefikManifests(cluster: NodeCluster, traefikBinary: string, workDir: string): Promise<string> {
  const root = path.join(workDir, 'traefik-root');
  fs.mkdirSync(path.join(root, 'tmp'), { recursive: true });
  fs.copyFileSync(traefikBinary, path.join(root, 'traefik'));
  fs.chmodSync(path.join(root, 'traefik'), 0o755);
  const archive = path.join(workDir, 'traefik.tar');
  writeOciArchive({ name: TRAEFIK_IMAGE, rootDir: root, entrypoint: ['/traefik'], user: '65532:65532' }, archive);
  await cluster.importImage(archive);

  const labels = { 'app.kubernetes.io/name': 'traefik' };
  const items = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: TRAEFIK_NAMESPACE } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'traefik', namespace: TRAEFIK_NAMESPACE } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'certkeeper-test-traefik' },
      rules: [
        { apiGroups: [''], resources: ['services', 'secrets', 'configmaps', 'nodes', 'namespaces'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['networking.k8s.io'], resources: ['ingresses', 'ingressclasses'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['networking.k8s.io'], resources: ['ingresses/status'], verbs: ['update'] },
        { apiGroups: ['gateway.networking.k8s.io'], resources: ['gatewayclasses', 'gateways', 'httproutes', 'referencegrants', 'grpcroutes', 'tcproutes', 'tlsroutes', 'backendtlspolicies'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['gateway.networking.k8s.io'], resources: ['gatewayclasses/status', 'gateways/status', 'httproutes/status', 'grpcroutes/status', 'tcproutes/status', 'tlsroutes/status', 'backendtlspolicies/status'], verbs: ['update', 'patch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'certkeeper-test-traefik' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'certkeeper-test-traefik' },
      subjects: [{ kind: 'ServiceAccount', name: 'traefik', namespace: TRAEFIK_NAMESPACE }],
    },
    { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'traefik' }, spec: { controller: 'traefik.io/ingress-controller' } },
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'traefik' }, spec: { controllerName: 'traefik.io/gateway-controller' } },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: GATEWAY_NAME, namespace: TRAEFIK_NAMESPACE },
      // Traefik maps a listener to the entry point with the same port.
      spec: { gatewayClassName: 'traefik', listeners: [{ name: 'http', protocol: 'HTTP', port: 8000, allowedRoutes: { namespaces: { from: 'All' } } }] },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'traefik', namespace: TRAEFIK_NAMESPACE, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'traefik',
            enableServiceLinks: false,
            securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [{
              name: 'traefik',
              image: TRAEFIK_IMAGE,
              imagePullPolicy: 'Never',
              args: [
                '--entryPoints.web.address=:8000',
                '--entryPoints.websecure.address=:8443',
                '--entryPoints.websecure.http.tls=true',
                '--entryPoints.traefik.address=:9000',
                '--ping=true',
                '--ping.entryPoint=traefik',
                '--providers.kubernetesIngress=true',
                '--providers.kubernetesGateway=true',
                // Nothing leaves the machine: no version checks, no usage reports.
                '--global.checkNewVersion=false',
                '--global.sendAnonymousUsage=false',
                '--log.level=INFO',
              ],
              ports: [{ name: 'web', containerPort: 8000 }, { name: 'websecure', containerPort: 8443 }, { name: 'ping', containerPort: 9000 }],
              readinessProbe: { httpGet: { path: '/ping', port: 'ping' }, periodSeconds: 2 },
              securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            }],
            volumes: [{ name: 'tmp', emptyDir: {} }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'traefik', namespace: TRAEFIK_NAMESPACE },
      spec: { selector: labels, ports: [{ name: 'web', port: 80, targetPort: 'web' }, { name: 'websecure', port: 443, targetPort: 'websecure' }] },
    },
  ];
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}
