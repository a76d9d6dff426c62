// Challenge solvers of an ACME Issuer (spec.acme.solvers), as cert-manager
// users know them: each solves http01 or dns01, for the names its selector picks.
import { z } from 'zod';
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
    name: z.string().optional().describe('cert-manager: add the challenge path to this existing Ingress instead of creating one. Not supported yet: certkeeper creates its own Ingress (the Issuer says so).'),
    ingressTemplate: z.object({ metadata: ObjectMetaTemplate.optional() }).optional().describe('Labels and annotations for the challenge Ingress (e.g. for your ingress controller).'),
    ...SolverPodFields,
  }).meta({
    'x-kubernetes-validations': [{ rule: '!(has(self.ingressClassName) && has(self.class))', message: 'ingress.class and ingress.ingressClassName are mutually exclusive' }],
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

export const Rfc2136 = z.object({
  nameserver: z.string().min(1).describe('The authoritative server, host:port (port 53 if omitted).'),
  tsigKeyName: z.string().min(1).describe('TSIG key name.'),
  tsigAlgorithm: z.enum(['HMACSHA256', 'HMACSHA512', 'HMACSHA1', 'HMACMD5']).default('HMACSHA256').describe('TSIG algorithm.'),
  tsigSecretSecretRef: SecretKeySelector.describe('Secret holding the base64 TSIG secret (key defaults to "secret").'),
}).describe('Dynamic DNS updates (RFC 2136) signed with TSIG, e.g. BIND9, PowerDNS, Knot.');

export const Dns01Solver = z.object({
  rfc2136: Rfc2136.optional(),
}).describe('Solve DNS-01 by publishing a TXT record (required for wildcards).');

export const Solver = z.object({
  selector: SolverSelector.optional(),
  waitInsteadOfSelfCheck: z.boolean().optional().describe('cert-manager: skip its HTTP-01 self-check. No effect: certkeeper does no HTTP-01 self-check and tells the CA at once.'),
  http01: Http01Solver.optional(),
  dns01: Dns01Solver.optional(),
}).meta({
  'x-kubernetes-validations': [{ rule: 'has(self.http01) != has(self.dns01)', message: 'a solver has exactly one of http01 or dns01' }],
}).describe('One way to solve challenges.');
export type Solver = z.infer<typeof Solver>;
