// The digitalocean dns01 solver, on DigitalOcean's REST API v2 (no SDK: four
// calls) with a personal access token (Authorization: Bearer). The domain is
// the longest suffix of the record name that the account has as a domain;
// record names are relative to it; each TXT value is its own record.
import type { z } from 'zod';
import type { DigitalOcean } from '../../../api/solvers.ts';
import type { ProviderContext } from '../../dns01-handle.ts';
import { Dns01ProviderError, jsonApi, relativeName, zoneCandidates } from '../errors.ts';
import type { ZoneProvider } from '../provider.ts';

const PROVIDER = 'digitalocean';
export const DIGITALOCEAN_API = 'https://api.digitalocean.com/v2';
const TTL = 60;

interface DomainRecord { id: number; type: string; name: string; data: string }

const errorText = (body: unknown) => {
  const b = body as { id?: string; message?: string };
  return b.id || b.message ? `${b.id ?? ''}${b.message ? `: ${b.message}` : ''}` : undefined;
};

export async function createProvider(config: z.infer<typeof DigitalOcean>, ctx: ProviderContext): Promise<ZoneProvider> {
  const token = await ctx.readSecret(PROVIDER, config.tokenSecretRef, 'access-token');
  return new DigitalOceanProvider(jsonApi(ctx.endpoints.digitalocean ?? DIGITALOCEAN_API, { provider: PROVIDER, headers: () => ({ Authorization: `Bearer ${token}` }), errorText }));
}

type Call = ReturnType<typeof jsonApi>;

export class DigitalOceanProvider implements ZoneProvider {
  readonly #call: Call;
  readonly #domains = new Map<string, Promise<string>>();

  constructor(call: Call) {
    this.#call = call;
  }

  async prepare(fqdns: string[]): Promise<void> {
    await Promise.all(fqdns.map((fqdn) => this.domainOf(fqdn)));
  }

  domainOf(fqdn: string): Promise<string> {
    const key = fqdn.toLowerCase();
    let domain = this.#domains.get(key);
    if (!domain) {
      domain = this.#findDomain(fqdn);
      domain.catch(() => this.#domains.delete(key));
      this.#domains.set(key, domain);
    }
    return domain;
  }

  async #findDomain(fqdn: string): Promise<string> {
    for (const candidate of zoneCandidates(fqdn)) {
      try {
        await this.#call('GET', `domains/${encodeURIComponent(candidate)}`);
        return candidate;
      } catch (error) {
        // 404: not a domain of the account; try the next shorter name.
        if (!(error instanceof Dns01ProviderError && error.status === 404)) throw error;
      }
    }
    throw new Dns01ProviderError(PROVIDER, 'ZoneNotFound', `no domain for ${fqdn} in the account`);
  }

  async #records(domain: string, fqdn: string, value: string): Promise<DomainRecord[]> {
    const name = fqdn.replace(/\.$/, '');
    const answer = await this.#call<{ domain_records: DomainRecord[] }>('GET', `domains/${encodeURIComponent(domain)}/records?type=TXT&name=${encodeURIComponent(name)}&per_page=200`);
    return answer.domain_records.filter((r) => r.type === 'TXT' && r.data === value);
  }

  async present(fqdn: string, value: string): Promise<void> {
    const domain = await this.domainOf(fqdn);
    if ((await this.#records(domain, fqdn, value)).length > 0) return;
    await this.#call('POST', `domains/${encodeURIComponent(domain)}/records`, { type: 'TXT', name: relativeName(fqdn, domain), data: value, ttl: TTL });
  }

  async cleanUp(fqdn: string, value: string): Promise<void> {
    const domain = await this.domainOf(fqdn);
    for (const record of await this.#records(domain, fqdn, value)) await this.#call('DELETE', `domains/${encodeURIComponent(domain)}/records/${record.id}`);
  }
}
