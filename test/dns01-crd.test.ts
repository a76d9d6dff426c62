// cert-manager's dns01 solvers apply with only the API group changed: the real
// API server accepts a ClusterIssuer with every provider as cert-manager
// documents it, and its CEL rule refuses a solver with two providers or none.
import { describe, expect, it } from 'vitest';
import { kubectl, kubectlFails } from './helpers.ts';

const issuer = (solvers: unknown[]) => JSON.stringify({
  apiVersion: 'certkeeper.io/v1alpha1',
  kind: 'ClusterIssuer',
  metadata: { name: 'cert-manager-shaped' },
  spec: { acme: { server: 'https://acme.example.com/directory', email: 'ops@example.com', privateKeySecretRef: { name: 'acme-account' }, solvers } },
});

// As in cert-manager's documentation for each provider.
const CERT_MANAGER_SOLVERS = [
  { dns01: { cnameStrategy: 'Follow', route53: { region: 'us-east-1', hostedZoneID: 'Z2ABCDEF', accessKeyIDSecretRef: { name: 'route53', key: 'access-key-id' }, secretAccessKeySecretRef: { name: 'route53', key: 'secret-access-key' }, role: 'arn:aws:iam::123456789012:role/dns' } } },
  { dns01: { route53: { region: 'eu-west-1', role: 'arn:aws:iam::123456789012:role/dns', auth: { kubernetes: { serviceAccountRef: { name: 'dns01', audiences: ['sts.amazonaws.com'] } } } } } },
  { dns01: { cloudDNS: { project: 'my-project', hostedZoneName: 'example-com', serviceAccountSecretRef: { name: 'clouddns', key: 'key.json' } } } },
  { dns01: { cloudflare: { email: 'ops@example.com', apiKeySecretRef: { name: 'cloudflare', key: 'api-key' } } } },
  { dns01: { cloudflare: { apiTokenSecretRef: { name: 'cloudflare', key: 'api-token' } } } },
  { dns01: { azureDNS: { clientID: 'c', clientSecretSecretRef: { name: 'azure', key: 'client-secret' }, subscriptionID: 's', tenantID: 't', resourceGroupName: 'rg', hostedZoneName: 'example.com', environment: 'AzurePublicCloud' } } },
  { dns01: { azureDNS: { subscriptionID: 's', resourceGroupName: 'rg', hostedZoneName: 'example.com', managedIdentity: { clientID: 'c' } } } },
  { dns01: { digitalocean: { tokenSecretRef: { name: 'digitalocean', key: 'access-token' } } } },
  { dns01: { acmeDNS: { host: 'https://acme.example.com', accountSecretRef: { name: 'acme-dns', key: 'acmedns.json' } } } },
  { dns01: { rfc2136: { nameserver: '192.0.2.53', tsigKeyName: 'k', tsigAlgorithm: 'HMACSHA512', tsigSecretSecretRef: { name: 'tsig', key: 'secret' } } } },
  { dns01: { webhook: { groupName: 'acme.example.com', solverName: 'my-dns', config: { apiKeySecretRef: { name: 'x', key: 'y' }, ttl: 60, zones: ['example.com'] } } } },
];

describe('dns01 solvers with cert-manager\'s field names', () => {
  it('are accepted by the API server as cert-manager writes them', async () => {
    const { stdout } = await kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], issuer(CERT_MANAGER_SOLVERS));
    const applied = JSON.parse(stdout) as { spec: { acme: { solvers: unknown[] } } };
    // Nothing pruned: every field survived, the webhook's free-form config too.
    expect(applied.spec.acme.solvers).toEqual(CERT_MANAGER_SOLVERS);
  });

  it('takes rfc2136 as cert-manager allows it: unsigned, an algorithm in any case, UDP; refuses a key name without its secret', async () => {
    const forms = [
      { dns01: { rfc2136: { nameserver: '192.0.2.53:53' } } },
      { dns01: { rfc2136: { nameserver: '192.0.2.53', tsigKeyName: 'k', tsigAlgorithm: 'hmacsha256', tsigSecretSecretRef: { name: 'tsig', key: 'secret' }, protocol: 'UDP' } } },
    ];
    await kubectl(['apply', '--dry-run=server', '-f', '-'], issuer(forms));
    const half = await kubectlFails(['apply', '--dry-run=server', '-f', '-'], issuer([{ dns01: { rfc2136: { nameserver: '192.0.2.53', tsigKeyName: 'k' } } }]));
    expect(half).toContain('tsigKeyName and tsigSecretSecretRef go together');
    const algorithm = await kubectlFails(['apply', '--dry-run=server', '-f', '-'], issuer([{ dns01: { rfc2136: { nameserver: '192.0.2.53', tsigKeyName: 'k', tsigAlgorithm: 'SHA3', tsigSecretSecretRef: { name: 'tsig' } } } }]));
    expect(algorithm).toContain('tsigAlgorithm');
  });

  it('refuses a dns01 solver with two providers or none', async () => {
    const two = await kubectlFails(['apply', '--dry-run=server', '-f', '-'], issuer([{ dns01: { cloudflare: { apiTokenSecretRef: { name: 'a' } }, digitalocean: { tokenSecretRef: { name: 'b' } } } }]));
    expect(two).toContain('a dns01 solver names exactly one provider');
    const none = await kubectlFails(['apply', '--dry-run=server', '-f', '-'], issuer([{ dns01: { cnameStrategy: 'Follow' } }]));
    expect(none).toContain('a dns01 solver names exactly one provider');
  });
});
