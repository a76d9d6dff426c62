import { describe, expect, it } from 'vitest';
import { Dns01Solver } from '../api/solvers.ts';
import { providerKind } from './dns01-handle.ts';

describe('dns01 solvers with cert-manager\'s field names', () => {
  it('parses each provider as cert-manager writes it and names its kind', () => {
    const solvers = {
      route53: { region: 'eu-west-1', hostedZoneID: 'Z123', accessKeyIDSecretRef: { name: 'aws', key: 'id' }, secretAccessKeySecretRef: { name: 'aws', key: 'secret' }, role: 'arn:aws:iam::1:role/dns' },
      cloudDNS: { project: 'p', hostedZoneName: 'zone', serviceAccountSecretRef: { name: 'gcp', key: 'key.json' } },
      cloudflare: { email: 'a@example.com', apiTokenSecretRef: { name: 'cf', key: 'api-token' } },
      azureDNS: { subscriptionID: 's', resourceGroupName: 'rg', hostedZoneName: 'example.com', environment: 'AzurePublicCloud', managedIdentity: { clientID: 'c' } },
      digitalocean: { tokenSecretRef: { name: 'do', key: 'access-token' } },
      acmeDNS: { host: 'https://acme-dns.example.com', accountSecretRef: { name: 'acme-dns', key: 'acmedns.json' } },
      webhook: { groupName: 'acme.example.com', solverName: 'hetzner', config: { secretName: 'h', zoneName: 'example.com', nested: { any: [1, 2] } } },
    };
    for (const [kind, config] of Object.entries(solvers)) {
      const parsed = Dns01Solver.parse({ cnameStrategy: 'Follow', [kind]: config });
      expect(providerKind(parsed)).toBe(kind);
      expect(parsed[kind as keyof typeof parsed]).toEqual(config);
    }
  });

  it('refuses a solver naming no provider or two', () => {
    expect(() => providerKind({})).toThrow('names exactly one provider');
    expect(() => providerKind(Dns01Solver.parse({ digitalocean: { tokenSecretRef: { name: 'd' } }, cloudflare: {} }))).toThrow('this one names cloudflare, digitalocean');
  });
});
