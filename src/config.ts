// The operator's configuration, parsed from command-line flags and the
// environment by a function (never at import time), validated with zod.
import { parseArgs } from 'node:util';
import { z } from 'zod';

export const ControllerConfig = z.object({
  kubeconfig: z.string().optional(),
  clusterResourceNamespace: z.string().min(1),
  healthAddress: z.string(),
  metricsAddress: z.string(),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error']),
  logFormat: z.enum(['json', 'text']),
  http01Address: z.string(),
  http01ServiceName: z.string().min(1),
  http01ServiceNamespace: z.string().min(1),
  http01ServicePort: z.coerce.number().int().min(1).max(65535),
  http01RouteSettleSeconds: z.coerce.number().min(0).max(300),
  http01SelfCheckTimeoutSeconds: z.coerce.number().min(0).max(600),
  http01SelfCheckPort: z.coerce.number().int().min(1).max(65535),
  http01SelfCheckNameservers: z.array(z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d+$/, 'expected host:port')),
  enableCertificateOwnerRef: z.boolean(),
  secretAnnotationsCertManager: z.boolean(),
  dns01PropagationTimeoutSeconds: z.coerce.number().int().min(1),
  dns01RecursiveNameservers: z.array(z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d+$/, 'expected host:port')),
  dns01RecursiveNameserversOnly: z.boolean(),
  issuerAmbientCredentials: z.boolean(),
  dns01Endpoints: z.object({
    cloudflare: z.url().optional(),
    digitalocean: z.url().optional(),
    cloudDNS: z.url().optional(),
    azureResourceManager: z.url().optional(),
    azureAuthorityHost: z.url().optional(),
  }),
  leaderElect: z.boolean(),
  leaderElectionNamespace: z.string().min(1),
  leaderElectionId: z.string().min(1),
  leaseDurationSeconds: z.coerce.number().int().min(1),
  registrationSettleWindowSeconds: z.coerce.number().int().min(1),
  acmeRequestTimeoutSeconds: z.coerce.number().min(0.1),
  ingressShim: z.boolean(),
  gatewayShim: z.boolean(),
  ingressShimCertManagerAnnotations: z.boolean(),
  caInjector: z.stringbool({ truthy: ['true'], falsy: ['false'] }),
});
export type ControllerConfig = z.infer<typeof ControllerConfig>;

export const controllerFlags = {
  kubeconfig: { type: 'string', description: 'Path to a kubeconfig (default: $KUBECONFIG, ~/.kube/config, or the in-cluster service account)' },
  'cluster-resource-namespace': { type: 'string', description: 'Namespace holding ClusterIssuers\' Secrets (default: $POD_NAMESPACE or "certkeeper")' },
  'health-address': { type: 'string', description: 'host:port serving /healthz and /readyz (default 0.0.0.0:8081)' },
  'metrics-address': { type: 'string', description: 'host:port serving Prometheus /metrics (default 0.0.0.0:9402)' },
  'log-level': { type: 'string', description: 'trace, debug, info (default), warn or error' },
  'log-format': { type: 'string', description: 'json (default) or text for humans' },
  'http01-address': { type: 'string', description: 'host:port where certkeeper answers HTTP-01 challenges (default 0.0.0.0:8089)' },
  'http01-service-name': { type: 'string', description: 'Service that routes to the HTTP-01 port (default certkeeper-http01)' },
  'http01-service-namespace': { type: 'string', description: 'Namespace of that Service, where challenge Ingresses/HTTPRoutes are created (default: $POD_NAMESPACE, else the cluster resource namespace)' },
  'http01-service-port': { type: 'string', description: 'Port of that Service (default 8089)' },
  'enable-certificate-owner-ref': { type: 'boolean', description: 'Make each TLS Secret owned by its Certificate, so it is deleted with it (default: kept)' },
  'secret-annotations-cert-manager': { type: 'boolean', description: 'Also write cert-manager.io/ informational annotations (certificate-name, issuer-name, alt-names, ...) on TLS Secrets, for tools that read them' },
  'http01-route-settle': { type: 'string', description: 'Seconds to wait after creating a challenge Ingress or HTTPRoute before the CA is asked to validate, for ingress controllers that load new routes asynchronously (default 0)' },
  'http01-self-check-timeout': { type: 'string', description: 'Seconds to keep fetching an HTTP-01 challenge URL until it serves the key authorization before the CA is asked to validate; after that the CA is asked anyway (default 60; 0: no self-check)' },
  'http01-self-check-port': { type: 'string', description: 'Port the self-check fetches http:// challenge URLs on (default 80, where CAs validate; test CAs such as Pebble use another)' },
  'http01-self-check-nameservers': { type: 'string', description: 'Comma-separated host:port resolvers for the self-check (default: the system\'s)' },
  'dns01-propagation-timeout': { type: 'string', description: 'Seconds to wait for a DNS-01 record at the authoritative server (default 120)' },
  'dns01-recursive-nameservers': { type: 'string', description: 'Comma-separated host:port resolvers for DNS-01 lookups (zones, CNAMEs, nameservers; default: the system\'s)' },
  'dns01-recursive-nameservers-only': { type: 'boolean', description: 'Check DNS-01 records at the recursive nameservers only, not at the zone\'s authoritative servers' },
  'issuer-ambient-credentials': { type: 'boolean', description: 'Let namespaced Issuers use the operator\'s own cloud credentials (IRSA, Workload Identity, ...); ClusterIssuers always may' },
  'leader-elect': { type: 'boolean', description: 'Run leader election so several replicas can run; only the leader reconciles' },
  'leader-election-namespace': { type: 'string', description: 'Namespace of the leader Lease (default: the cluster resource namespace)' },
  'leader-election-id': { type: 'string', description: 'Name of the leader Lease (default certkeeper)' },
  'lease-duration': { type: 'string', description: 'Seconds a standby waits for a silent leader before taking over (default 15)' },
  'registration-settle-window': { type: 'string', description: 'Seconds after an EAB registration with no definite answer during which certkeeper only looks the account up, never sends the key again (default 600)' },
  'acme-request-timeout': { type: 'string', description: 'Seconds to wait for an answer to one ACME request (default 30)' },
  'disable-ingress-shim': { type: 'boolean', description: 'Do not create Certificates for Ingresses annotated certkeeper.io/issuer or certkeeper.io/cluster-issuer' },
  'disable-gateway-shim': { type: 'boolean', description: 'Do not create Certificates for annotated Gateways (the Gateway shim runs only where the Gateway API is installed)' },
  'ingress-shim-cert-manager-annotations': { type: 'boolean', description: 'Also read cert-manager.io/ and acme.cert-manager.io/ annotations: on Ingresses and Gateways, and the inject-ca-from* annotations of CA injection (for clusters moving off cert-manager; default off)' },
  'cert-manager-annotations': { type: 'boolean', description: 'The same as --ingress-shim-cert-manager-annotations (a name that says it is not only the shim\'s)' },
  'ca-injector': { type: 'string', description: 'true (default) or false: CA injection, copying a CA into the caBundle of webhook configurations, CRDs and APIServices annotated certkeeper.io/inject-ca-from, inject-ca-from-secret or inject-apiserver-ca' },
  help: { type: 'boolean', short: 'h', description: 'Show this help' },
} as const;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseControllerConfig(args: string[], env: NodeJS.ProcessEnv): ControllerConfig | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: Object.fromEntries(Object.entries(controllerFlags).map(([k, v]) => [k, { type: v.type, ...('short' in v ? { short: v.short } : {}) }])),
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const parsed = ControllerConfig.safeParse({
    kubeconfig: values.kubeconfig ?? env.KUBECONFIG,
    clusterResourceNamespace: values['cluster-resource-namespace'] ?? env.POD_NAMESPACE ?? 'certkeeper',
    healthAddress: values['health-address'] ?? '0.0.0.0:8081',
    metricsAddress: values['metrics-address'] ?? '0.0.0.0:9402',
    logLevel: values['log-level'] ?? env.LOG_LEVEL ?? 'info',
    logFormat: values['log-format'] ?? env.LOG_FORMAT ?? 'json',
    http01Address: values['http01-address'] ?? '0.0.0.0:8089',
    http01ServiceName: values['http01-service-name'] ?? 'certkeeper-http01',
    http01ServiceNamespace: values['http01-service-namespace'] ?? env.POD_NAMESPACE ?? values['cluster-resource-namespace'] ?? 'certkeeper',
    http01ServicePort: values['http01-service-port'] ?? '8089',
    enableCertificateOwnerRef: values['enable-certificate-owner-ref'] === true,
    secretAnnotationsCertManager: values['secret-annotations-cert-manager'] === true,
    http01RouteSettleSeconds: values['http01-route-settle'] ?? '0',
    http01SelfCheckTimeoutSeconds: values['http01-self-check-timeout'] ?? '60',
    http01SelfCheckPort: values['http01-self-check-port'] ?? '80',
    http01SelfCheckNameservers: String(values['http01-self-check-nameservers'] ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    dns01PropagationTimeoutSeconds: values['dns01-propagation-timeout'] ?? '120',
    dns01RecursiveNameservers: String(values['dns01-recursive-nameservers'] ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    dns01RecursiveNameserversOnly: values['dns01-recursive-nameservers-only'] === true,
    issuerAmbientCredentials: values['issuer-ambient-credentials'] === true,
    // API base URLs for DNS providers: for API-compatible endpoints and tests.
    dns01Endpoints: {
      cloudflare: env.CERTKEEPER_CLOUDFLARE_API_URL,
      digitalocean: env.CERTKEEPER_DIGITALOCEAN_API_URL,
      cloudDNS: env.CERTKEEPER_CLOUDDNS_API_URL,
      azureResourceManager: env.CERTKEEPER_AZURE_RESOURCE_MANAGER_URL,
      azureAuthorityHost: env.AZURE_AUTHORITY_HOST,
    },
    leaderElect: values['leader-elect'] === true,
    leaderElectionNamespace: values['leader-election-namespace'] ?? values['cluster-resource-namespace'] ?? env.POD_NAMESPACE ?? 'certkeeper',
    leaderElectionId: values['leader-election-id'] ?? 'certkeeper',
    leaseDurationSeconds: values['lease-duration'] ?? '15',
    registrationSettleWindowSeconds: values['registration-settle-window'] ?? '600',
    acmeRequestTimeoutSeconds: values['acme-request-timeout'] ?? '30',
    ingressShim: values['disable-ingress-shim'] !== true,
    gatewayShim: values['disable-gateway-shim'] !== true,
    ingressShimCertManagerAnnotations: values['ingress-shim-cert-manager-annotations'] === true || values['cert-manager-annotations'] === true,
    caInjector: values['ca-injector'] ?? 'true',
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UsageError(`invalid --${String(issue.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${issue.message}`);
  }
  return parsed.data;
}

export function parseHostPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const port = Number(address.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`invalid address "${address}": expected host:port`);
  return { host: address.slice(0, colon) || '0.0.0.0', port };
}
