// Challenge solvers of an ACME Issuer (spec.acme.solvers), as cert-manager
// users know them: each solves http01 or dns01, for the names its selector picks.
import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from './certificate.ts';
import { SecretKeySelector } from './meta.ts';

export const SolverSelector = z.object({
  dnsNames: z.array(z.string()).optional().describe('Exact DNS names this solver is for (most specific match).'),
  dnsZones: z.array(z.string()).optional().describe('DNS zones this solver is for: a name matches its zone and subdomains; the longest zone wins.'),
  matchLabels: z.record(z.string(), z.string()).optional().describe('Labels the Certificate must have.'),
}).describe('Which names this solver handles. Without a selector it handles every name not matched more specifically.');

/** Accepted for cert-manager manifests; certkeeper runs no solver pods, so these have no effect (the Issuer says so). */
const SolverPodFields = {
  serviceType: z.string().optional().describe('cert-manager: type of the solver Service. No effect: certkeeper answers HTTP-01 from its own Service.'),
  podTemplate: z.looseObject({}).meta({ 'x-kubernetes-preserve-unknown-fields': true }).optional().describe('cert-manager: template of the solver pods. No effect: certkeeper runs no solver pods.'),
};

const ObjectMetaTemplate = z.object({
  labels: z.record(z.string(), z.string()).optional().describe('Labels to add.'),
  annotations: z.record(z.string(), z.string()).optional().describe('Annotations to add.'),
});

export const Http01Solver = z.object({
  ingress: z.object({
    ingressClassName: z.string().optional().describe('IngressClass of the Ingress certkeeper creates to route the challenge path to itself.'),
    class: z.string().optional().describe('Legacy ingress class, set as the kubernetes.io/ingress.class annotation (for controllers that read only that). Exclusive with ingressClassName.'),
    name: z.string().max(253).regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'the name of an Ingress (no namespace: the one in each Certificate\'s own namespace is edited)').optional()
      .describe('Edit in place (the GCE case): add the challenge path to the existing Ingress of this name in the Certificate\'s namespace, routed to a Service certkeeper creates there, instead of creating an Ingress; only that path is removed after validation.'),
    ingressTemplate: z.object({ metadata: ObjectMetaTemplate.optional() }).optional().describe('Labels and annotations for the challenge Ingress (e.g. for your ingress controller).'),
    serviceType: z.string().max(63).optional().describe('With name: type of the Service certkeeper creates beside the edited Ingress in the Certificate\'s namespace, NodePort (the default, as in cert-manager; what GCE needs) or ClusterIP. No effect otherwise.'),
    podTemplate: SolverPodFields.podTemplate,
  }).meta({
    'x-kubernetes-validations': [
      { rule: '!(has(self.ingressClassName) && has(self.class))', message: 'ingress.class and ingress.ingressClassName are mutually exclusive' },
      { rule: '!has(self.name) || !self.name.contains(\'/\')', message: 'ingress.name is the name of an Ingress, without a namespace: the Ingress of that name in each Certificate\'s own namespace is edited' },
      { rule: '!has(self.name) || !has(self.serviceType) || self.serviceType in [\'NodePort\', \'ClusterIP\']', message: 'with ingress.name, serviceType is NodePort or ClusterIP (the Service certkeeper creates beside your Ingress)' },
    ],
  }).optional().describe('Route the challenge through an Ingress (created in certkeeper\'s namespace, removed after validation).'),
  gatewayHTTPRoute: z.object({
    parentRefs: z.array(z.object({
      name: z.string().describe('Gateway name.'),
      namespace: z.string().optional().describe('Gateway namespace.'),
      sectionName: z.string().optional().describe('Listener name.'),
      group: z.string().optional().describe('Group of the parent (default gateway.networking.k8s.io).'),
      kind: z.string().optional().describe('Kind of the parent (default Gateway).'),
      port: z.int().min(1).max(65535).optional().describe('Port of the parent to attach to.'),
    })).min(1).describe('Gateways the HTTPRoute attaches to.'),
    labels: z.record(z.string(), z.string()).optional().describe('Labels for the challenge HTTPRoute.'),
    ...SolverPodFields,
  }).optional().describe('Route the challenge through a Gateway API HTTPRoute (created in certkeeper\'s namespace, removed after validation).'),
}).describe('Solve HTTP-01: certkeeper answers /.well-known/acme-challenge/ itself, no solver pods. Without ingress or gatewayHTTPRoute, traffic must already reach certkeeper\'s solver port.');

const TSIG_ALGORITHMS = ['HMACMD5', 'HMACSHA1', 'HMACSHA256', 'HMACSHA512'];

export const Rfc2136 = z.object({
  nameserver: z.string().min(1).describe('The authoritative server, host:port (port 53 if omitted).'),
  tsigKeyName: z.string().min(1).optional().describe('TSIG key name; with tsigSecretSecretRef. Without both, updates are sent unsigned (a server that allows updates by address).'),
  tsigAlgorithm: z.string().regex(/^[Hh][Mm][Aa][Cc]([Mm][Dd]5|[Ss][Hh][Aa](1|256|512))$/, `one of ${TSIG_ALGORITHMS.join(', ')} (any case)`).optional().describe('TSIG algorithm: HMACSHA256, HMACSHA512, HMACSHA1 or HMACMD5, in any case. Absent: HMACSHA256 (what BIND\'s tsig-keygen makes), then HMACMD5 (cert-manager\'s default) if the server does not know the key under SHA-256.'),
  tsigSecretSecretRef: SecretKeySelector.optional().describe('Secret holding the base64 TSIG secret (key defaults to "secret").'),
  protocol: z.enum(['TCP', 'UDP']).optional().describe('Transport for the updates: TCP (the default here; every RFC 2136 server answers it) or UDP (cert-manager\'s default), with TCP again for a truncated answer.'),
}).meta({
  'x-kubernetes-validations': [{ rule: 'has(self.tsigKeyName) == has(self.tsigSecretSecretRef)', message: 'tsigKeyName and tsigSecretSecretRef go together: both for signed updates, neither for unsigned ones' }],
}).describe('Dynamic DNS updates (RFC 2136), signed with TSIG or not, e.g. BIND9, PowerDNS, Knot.');

// The other providers carry cert-manager's field names, so a cert-manager
// solver applies with only the API group changed.
const secretRef = (what: string) => SecretKeySelector.describe(what);

export const Route53 = z.object({
  region: z.string().optional().describe('AWS region for the Route 53 and STS clients (default: AWS_REGION, else us-east-1; Route 53 is global).'),
  hostedZoneID: z.string().optional().describe('Hosted zone to change; found from the name (the longest matching public zone) when absent.'),
  accessKeyID: z.string().optional().describe('Access key ID of static credentials (or accessKeyIDSecretRef).'),
  accessKeyIDSecretRef: secretRef('Secret holding the access key ID.').optional(),
  secretAccessKeySecretRef: secretRef('Secret holding the secret access key.').optional(),
  role: z.string().optional().describe('Role ARN to assume (sts:AssumeRole) with the credentials above or the ambient ones.'),
  auth: z.object({
    kubernetes: z.object({
      serviceAccountRef: z.object({
        name: z.string().min(1).describe('ServiceAccount in the issuer\'s namespace (the cluster resource namespace for a ClusterIssuer) whose token certkeeper requests.'),
        audiences: z.array(z.string()).optional().describe('Token audiences (default sts.amazonaws.com).'),
      }).describe('The ServiceAccount whose token is exchanged.'),
    }).describe('A Kubernetes ServiceAccount token.'),
  }).optional().describe('Web identity: a ServiceAccount token exchanged for role\'s credentials (sts:AssumeRoleWithWebIdentity), as IRSA does.'),
}).describe('AWS Route 53. Without static credentials or auth, the SDK\'s default chain (environment, IRSA / EKS Pod Identity web identity file, instance role).');

export const CloudDNS = z.object({
  project: z.string().min(1).describe('Google Cloud project of the managed zone.'),
  hostedZoneName: z.string().optional().describe('Managed zone name; found from the name when absent.'),
  serviceAccountSecretRef: secretRef('Secret holding a service account key (JSON). Without it, Application Default Credentials (GKE Workload Identity).').optional(),
}).describe('Google Cloud DNS.');

export const Cloudflare = z.object({
  email: z.string().optional().describe('Account email, only with apiKeySecretRef.'),
  apiKeySecretRef: secretRef('Secret holding a global API key (legacy; prefer apiTokenSecretRef).').optional(),
  apiTokenSecretRef: secretRef('Secret holding an API token with Zone:Read and DNS:Edit.').optional(),
}).describe('Cloudflare; the zone is found from the name.');

export const AzureDNS = z.object({
  subscriptionID: z.string().min(1).describe('Subscription of the DNS zone.'),
  resourceGroupName: z.string().min(1).describe('Resource group of the DNS zone.'),
  hostedZoneName: z.string().optional().describe('DNS zone; found from the name among the resource group\'s zones when absent.'),
  tenantID: z.string().optional().describe('Tenant of the service principal (with clientID and clientSecretSecretRef).'),
  clientID: z.string().optional().describe('Service principal (app) client ID.'),
  clientSecretSecretRef: secretRef('Secret holding the service principal\'s client secret.').optional(),
  environment: z.enum(['AzurePublicCloud', 'AzureChinaCloud', 'AzureUSGovernmentCloud']).optional().describe('Azure cloud (default AzurePublicCloud).'),
  managedIdentity: z.object({
    clientID: z.string().optional().describe('Client ID of a user-assigned identity.'),
    resourceID: z.string().optional().describe('Resource ID of a user-assigned identity.'),
    tenantID: z.string().optional().describe('Tenant (workload identity).'),
  }).optional().describe('Managed identity, or AKS workload identity when the pod has AZURE_FEDERATED_TOKEN_FILE.'),
}).describe('Azure DNS.');

export const DigitalOcean = z.object({
  tokenSecretRef: secretRef('Secret holding a personal access token with domain read and write scopes.'),
}).describe('DigitalOcean DNS; the domain is found from the name.');

export const AcmeDNS = z.object({
  host: z.string().min(1).describe('URL of the acme-dns server\'s HTTP API.'),
  accountSecretRef: secretRef('Secret holding the registrations JSON: {"<domain>": {"username","password","fulldomain","subdomain"}}.'),
}).describe('acme-dns: updates its TXT record; _acme-challenge.<domain> must be a CNAME to the registration\'s fulldomain.');

export const Webhook = z.object({
  groupName: z.string().min(1).describe('API group the webhook solver serves (its APIService).'),
  solverName: z.string().min(1).describe('Solver name within that group.'),
  config: z.unknown().optional().meta({ 'x-kubernetes-preserve-unknown-fields': true }).describe('Passed to the solver unchanged.'),
}).describe('A cert-manager webhook solver, called through the API server\'s aggregation layer.');

export const DNS01_PROVIDERS = ['rfc2136', 'route53', 'cloudDNS', 'cloudflare', 'azureDNS', 'digitalocean', 'acmeDNS', 'webhook'] as const;
export type Dns01ProviderKind = typeof DNS01_PROVIDERS[number];

export const Dns01Solver = z.object({
  cnameStrategy: z.enum(['None', 'Follow']).optional().describe('Follow: when _acme-challenge.<name> is a CNAME, publish at its target (in the zone that answers).'),
  rfc2136: Rfc2136.optional(),
  route53: Route53.optional(),
  cloudDNS: CloudDNS.optional(),
  cloudflare: Cloudflare.optional(),
  azureDNS: AzureDNS.optional(),
  digitalocean: DigitalOcean.optional(),
  acmeDNS: AcmeDNS.optional(),
  webhook: Webhook.optional(),
}).meta({
  'x-kubernetes-validations': [{
    // A sum of constants: cheap for the API server's CEL cost estimate (a list filter is not).
    rule: `${DNS01_PROVIDERS.map((p) => `(has(self.${p}) ? 1 : 0)`).join(' + ')} == 1`,
    message: `a dns01 solver names exactly one provider: ${DNS01_PROVIDERS.join(', ')}`,
  }],
}).describe('Solve DNS-01 by publishing a TXT record (required for wildcards).');
export type Dns01Solver = z.infer<typeof Dns01Solver>;

/** waitInsteadOfSelfCheck in milliseconds (a Go duration; Go also accepts a bare 0). */
export function waitInsteadMs(duration: string): number {
  return duration === '0' ? 0 : parseDuration(duration);
}

export const Solver = z.object({
  selector: SolverSelector.optional(),
  waitInsteadOfSelfCheck: z.string().regex(new RegExp(`^0$|${DURATION_PATTERN}`)).refine((d) => waitInsteadMs(d) <= 15 * 60_000, 'at most 15m').optional().meta({
    'x-kubernetes-validations': [{ rule: "duration(self) <= duration('15m')", message: 'waitInsteadOfSelfCheck is at most 15m (a worker waits that long)' }],
  }).describe('Skip the check before the CA is asked (HTTP-01: certkeeper fetching the challenge URL; DNS-01: the record at the authoritative servers) and wait this long after presenting instead, e.g. 30s; 0s asks the CA at once. For split-horizon DNS or load balancers without hairpin NAT. At most 15m.'),
  http01: Http01Solver.optional(),
  dns01: Dns01Solver.optional(),
}).meta({
  'x-kubernetes-validations': [{ rule: 'has(self.http01) != has(self.dns01)', message: 'a solver has exactly one of http01 or dns01' }],
}).describe('One way to solve challenges.');
export type Solver = z.infer<typeof Solver>;
