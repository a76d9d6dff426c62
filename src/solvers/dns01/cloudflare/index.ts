// The cloudflare dns01 solver, on Cloudflare's REST API v4 (no SDK: four calls).
// An API token (Authorization: Bearer; Zone:Read and DNS:Edit) or the legacy
// global key with the account email (X-Auth-Email, X-Auth-Key). The zone is the
// longest suffix of the record name that Cloudflare has as a zone; each TXT
// value is its own record, so a wildcard and its base name never collide.
import type { z } from 'zod';
import type { Cloudflare } from '../../../api/solvers.ts';
import type { ProviderContext } from '../../dns01-handle.ts';
import { Dns01ProviderError, jsonApi, zoneCandidates } from '../errors.ts';
import type { ZoneProvider } from '../provider.ts';

const PROVIDER = 'cloudflare';
export const CLOUDFLARE_API = 'https://api.cloudflare.com/client/v4';
const TTL = 60;

interface Envelope<T> { success: boolean; result: T; errors?: { code: number; message: string }[] }
interface Zone { id: string; name: string; status?: string }
interface DnsRecord { id: string; type: string; name: string; content: string }

const errorText = (body: unknown) => (body as Envelope<unknown>).errors?.map((e) => `${e.code} ${e.message}`).join('; ');

export async function createProvider(config: z.infer<typeof Cloudflare>, ctx: ProviderContext): Promise<ZoneProvider> {
  let headers: Record<string, string>;
  if (config.apiTokenSecretRef) {
    headers = { Authorization: `Bearer ${await ctx.readSecret(PROVIDER, config.apiTokenSecretRef, 'api-token')}` };
  } else if (config.apiKeySecretRef) {
    if (!config.email) throw new Dns01ProviderError(PROVIDER, 'Misconfigured', 'apiKeySecretRef needs email');
    headers = { 'X-Auth-Email': config.email, 'X-Auth-Key': await ctx.readSecret(PROVIDER, config.apiKeySecretRef, 'api-key') };
  } else {
    throw new Dns01ProviderError(PROVIDER, 'Misconfigured', 'set apiTokenSecretRef (or apiKeySecretRef with email)');
  }
  return new CloudflareProvider(jsonApi(ctx.endpoints.cloudflare ?? CLOUDFLARE_API, { provider: PROVIDER, headers: () => headers, errorText }));
}

type Call = ReturnType<typeof jsonApi>;

export class CloudflareProvider implements ZoneProvider {
  readonly #call: Call;
  readonly #zones = new Map<string, Promise<Zone>>();

  constructor(call: Call) {
    this.#call = call;
  }

  async prepare(fqdns: string[]): Promise<void> {
    await Promise.all(fqdns.map((fqdn) => this.zoneOf(fqdn)));
  }

  zoneOf(fqdn: string): Promise<Zone> {
    const key = fqdn.toLowerCase();
    let zone = this.#zones.get(key);
    if (!zone) {
      zone = this.#findZone(fqdn);
      zone.catch(() => this.#zones.delete(key));
      this.#zones.set(key, zone);
    }
    return zone;
  }

  async #findZone(fqdn: string): Promise<Zone> {
    for (const candidate of zoneCandidates(fqdn)) {
      const answer = await this.#call<Envelope<Zone[]>>('GET', `zones?name=${encodeURIComponent(candidate)}`);
      const zone = answer.result.find((z) => z.name.toLowerCase() === candidate);
      if (zone) return zone;
    }
    throw new Dns01ProviderError(PROVIDER, 'ZoneNotFound', `no zone for ${fqdn} in the account`);
  }

  async #records(zone: Zone, fqdn: string, value: string): Promise<DnsRecord[]> {
    const name = fqdn.replace(/\.$/, '');
    const answer = await this.#call<Envelope<DnsRecord[]>>('GET', `zones/${zone.id}/dns_records?type=TXT&name=${encodeURIComponent(name)}&per_page=100`);
    return answer.result.filter((r) => r.type === 'TXT' && r.content.replace(/^"|"$/g, '') === value);
  }

  async present(fqdn: string, value: string): Promise<void> {
    const zone = await this.zoneOf(fqdn);
    if ((await this.#records(zone, fqdn, value)).length > 0) return;
    await this.#call('POST', `zones/${zone.id}/dns_records`, { type: 'TXT', name: fqdn.replace(/\.$/, ''), content: value, ttl: TTL, comment: 'certkeeper DNS-01 challenge' });
  }

  async cleanUp(fqdn: string, value: string): Promise<void> {
    const zone = await this.zoneOf(fqdn);
    for (const record of await this.#records(zone, fqdn, value)) await this.#call('DELETE', `zones/${zone.id}/dns_records/${record.id}`);
  }
}
