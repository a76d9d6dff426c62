// Challenge solvers of an ACME Issuer (spec.acme.solvers), as cert-manager
// users know them: each solves http01 or dns01, for the names its selector picks.
import { z } from 'zod';
import { SecretKeySelector } from './meta.ts';

export const SolverSelector = z.object({
  dnsNames: z.array(z.string()).optional().describe('Exact DNS names this solver is for (most specific match).'),
  dnsZones: z.array(z.string()).optional().describe('DNS zones this solver is for: a name matches its zone and subdomains; the longest zone wins.'),
  matchLabels: z.record(z.string(), z.string()).optional().describe('Labels the Certificate must have.'),
}).describe('Which names this solver handles. Without a selector it handles every name not matched more specifically.');

export const Http01Solver = z.object({
  ingress: z.object({
    ingressClassName: z.string().optional().describe('IngressClass of the Ingress certkeeper creates to route the challenge path to itself.'),
  }).optional().describe('Route the challenge through an Ingress (created in certkeeper\'s namespace, removed after validation).'),
  gatewayHTTPRoute: z.object({
    parentRefs: z.array(z.object({
      name: z.string().describe('Gateway name.'),
      namespace: z.string().optional().describe('Gateway namespace.'),
      sectionName: z.string().optional().describe('Listener name.'),
    })).min(1).describe('Gateways the HTTPRoute attaches to.'),
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
  http01: Http01Solver.optional(),
  dns01: Dns01Solver.optional(),
}).meta({
  'x-kubernetes-validations': [{ rule: 'has(self.http01) != has(self.dns01)', message: 'a solver has exactly one of http01 or dns01' }],
}).describe('One way to solve challenges.');
export type Solver = z.infer<typeof Solver>;
