// The azureDNS dns01 solver: Azure DNS's Resource Manager REST API
// (api-version 2018-05-01) with a token from Azure's identity library (loaded
// only when an azureDNS solver is used). Credentials, as cert-manager takes
// them: a service principal's client secret from a Secret; else, where ambient
// credentials are allowed, AKS workload identity (the federated token file the
// webhook mounts: AZURE_FEDERATED_TOKEN_FILE) or a managed identity
// (managedIdentity.clientID / resourceID). The TXT record set holds every value
// at its name, so it is read and written under a per-name lock.
import type { TokenCredential } from '@azure/identity';
import type { z } from 'zod';
import type { AzureDNS } from '../../../api/solvers.ts';
import { KeyedMutex } from '../../../util/keyed-mutex.ts';
import type { ProviderContext } from '../../dns01-handle.ts';
import { Dns01ProviderError, jsonApi, relativeName, zoneCandidates } from '../errors.ts';
import type { ZoneProvider } from '../provider.ts';

const PROVIDER = 'azureDNS';
const API_VERSION = '2018-05-01';
const TTL = 60;
const rrsetLocks = new KeyedMutex();

/** Resource Manager and Entra ID per Azure cloud. */
export const AZURE_CLOUDS = {
  AzurePublicCloud: { resourceManager: 'https://management.azure.com', authorityHost: 'https://login.microsoftonline.com' },
  AzureChinaCloud: { resourceManager: 'https://management.chinacloudapi.cn', authorityHost: 'https://login.chinacloudapi.cn' },
  AzureUSGovernmentCloud: { resourceManager: 'https://management.usgovcloudapi.net', authorityHost: 'https://login.microsoftonline.us' },
} as const;

interface TxtRecordSet { properties?: { TTL?: number; TXTRecords?: { value: string[] }[] } }

const errorText = (body: unknown) => {
  const e = (body as { error?: { code?: string; message?: string } }).error;
  return e ? `${e.code ?? ''}${e.message ? `: ${e.message}` : ''}` : undefined;
};

async function credential(config: z.infer<typeof AzureDNS>, ctx: ProviderContext, authorityHost: string): Promise<TokenCredential> {
  const identity = await import('@azure/identity');
  // A custom authority host (sovereign clouds set their own) is not in the public instance list.
  const common = { authorityHost, disableInstanceDiscovery: authorityHost !== AZURE_CLOUDS.AzurePublicCloud.authorityHost };
  if (config.clientSecretSecretRef) {
    if (!config.clientID || !config.tenantID) throw new Dns01ProviderError(PROVIDER, 'Misconfigured', 'clientSecretSecretRef needs clientID and tenantID');
    const secret = await ctx.readSecret(PROVIDER, config.clientSecretSecretRef, 'client-secret');
    return new identity.ClientSecretCredential(config.tenantID, config.clientID, secret, common);
  }
  if (!ctx.ambientAllowed) {
    throw new Dns01ProviderError(PROVIDER, 'Unauthorized',
      `no clientSecretSecretRef, and an Issuer in namespace ${ctx.namespace} may not use the operator's managed or workload identity (use a ClusterIssuer, a client secret, or --issuer-ambient-credentials)`);
  }
  const managed = config.managedIdentity ?? {};
  if (process.env.AZURE_FEDERATED_TOKEN_FILE) {
    const tenantId = managed.tenantID ?? config.tenantID ?? process.env.AZURE_TENANT_ID;
    const clientId = managed.clientID ?? config.clientID ?? process.env.AZURE_CLIENT_ID;
    if (!tenantId || !clientId) throw new Dns01ProviderError(PROVIDER, 'Misconfigured', 'workload identity needs a tenant and client ID (managedIdentity.tenantID/clientID or AZURE_TENANT_ID/AZURE_CLIENT_ID)');
    return new identity.WorkloadIdentityCredential({ ...common, tenantId, clientId, tokenFilePath: process.env.AZURE_FEDERATED_TOKEN_FILE });
  }
  if (managed.resourceID) return new identity.ManagedIdentityCredential({ resourceId: managed.resourceID });
  if (managed.clientID) return new identity.ManagedIdentityCredential({ clientId: managed.clientID });
  return new identity.ManagedIdentityCredential();
}

export async function createProvider(config: z.infer<typeof AzureDNS>, ctx: ProviderContext): Promise<ZoneProvider> {
  const cloud = AZURE_CLOUDS[config.environment ?? 'AzurePublicCloud'];
  const authorityHost = ctx.endpoints.azureAuthorityHost ?? cloud.authorityHost;
  const tokens = await credential(config, ctx, authorityHost);
  const scope = `${cloud.resourceManager}/.default`;
  const headers = async () => {
    let token;
    try {
      token = await tokens.getToken(scope);
    } catch (error) {
      // The library's first line names the step and Entra ID's error code, never the secret.
      throw new Dns01ProviderError(PROVIDER, 'Unauthorized', `getting a token: ${(error as Error).message.split('\n')[0]}`);
    }
    if (!token) throw new Dns01ProviderError(PROVIDER, 'Unauthorized', 'getting a token: none returned');
    return { Authorization: `Bearer ${token.token}` };
  };
  const base = `${(ctx.endpoints.azureResourceManager ?? cloud.resourceManager).replace(/\/$/, '')}/subscriptions/${encodeURIComponent(config.subscriptionID)}/resourceGroups/${encodeURIComponent(config.resourceGroupName)}/providers/Microsoft.Network/dnsZones`;
  return new AzureDnsProvider(jsonApi(base, { provider: PROVIDER, headers, errorText }), config.hostedZoneName);
}

type Call = ReturnType<typeof jsonApi>;

export class AzureDnsProvider implements ZoneProvider {
  readonly #call: Call;
  readonly #zoneName: string | undefined;
  readonly #zones = new Map<string, Promise<string>>();

  constructor(call: Call, zoneName?: string) {
    this.#call = call;
    this.#zoneName = zoneName?.replace(/\.$/, '');
  }

  async prepare(fqdns: string[]): Promise<void> {
    await Promise.all(fqdns.map((fqdn) => this.zoneOf(fqdn)));
  }

  zoneOf(fqdn: string): Promise<string> {
    const key = this.#zoneName ?? fqdn.toLowerCase();
    let zone = this.#zones.get(key);
    if (!zone) {
      zone = this.#zoneName ? this.#call('GET', `${encodeURIComponent(this.#zoneName)}?api-version=${API_VERSION}`).then(() => this.#zoneName!) : this.#findZone(fqdn);
      zone.catch(() => this.#zones.delete(key));
      this.#zones.set(key, zone);
    }
    return zone;
  }

  async #findZone(fqdn: string): Promise<string> {
    const answer = await this.#call<{ value?: { name: string }[] }>('GET', `?api-version=${API_VERSION}`);
    const names = new Set((answer.value ?? []).map((z) => z.name.toLowerCase()));
    const zone = zoneCandidates(fqdn).find((candidate) => names.has(candidate));
    if (!zone) throw new Dns01ProviderError(PROVIDER, 'ZoneNotFound', `no DNS zone for ${fqdn} in the resource group`);
    return zone;
  }

  #path(zone: string, fqdn: string): string {
    return `${encodeURIComponent(zone)}/TXT/${encodeURIComponent(relativeName(fqdn, zone))}?api-version=${API_VERSION}`;
  }

  async #values(zone: string, fqdn: string): Promise<string[]> {
    try {
      const set = await this.#call<TxtRecordSet>('GET', this.#path(zone, fqdn));
      return (set.properties?.TXTRecords ?? []).map((r) => r.value.join(''));
    } catch (error) {
      if (error instanceof Dns01ProviderError && error.status === 404) return [];
      throw error;
    }
  }

  async #write(zone: string, fqdn: string, edit: (values: string[]) => string[]): Promise<void> {
    await rrsetLocks.run(`${zone}/${fqdn.toLowerCase()}`, async () => {
      const before = await this.#values(zone, fqdn);
      const after = edit(before);
      if (after.length === before.length && after.every((v) => before.includes(v))) return;
      if (after.length === 0) await this.#call('DELETE', this.#path(zone, fqdn));
      else await this.#call('PUT', this.#path(zone, fqdn), { properties: { TTL, TXTRecords: after.map((v) => ({ value: [v] })) } });
    });
  }

  async present(fqdn: string, value: string): Promise<void> {
    await this.#write(await this.zoneOf(fqdn), fqdn, (values) => (values.includes(value) ? values : [...values, value]));
  }

  async cleanUp(fqdn: string, value: string): Promise<void> {
    await this.#write(await this.zoneOf(fqdn), fqdn, (values) => values.filter((v) => v !== value));
  }
}
