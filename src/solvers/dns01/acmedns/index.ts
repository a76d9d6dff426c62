// The acmeDNS dns01 solver: acme-dns's HTTP API. The user registered each
// domain at the acme-dns server and pointed _acme-challenge.<domain> at the
// registration's fulldomain with a CNAME; the Secret holds the registrations as
// JSON keyed by domain ({"example.com": {"username", "password", "fulldomain",
// "subdomain"}}, the file acme-dns clients write). present sends the value
// with POST /update (X-Api-User, X-Api-Key); acme-dns keeps the two latest
// values per registration and has no delete, so cleanUp has nothing to do.
// The propagation check looks at the fulldomain.
import { z } from 'zod';
import type { AcmeDNS } from '../../../api/solvers.ts';
import type { ProviderContext } from '../../dns01-handle.ts';
import { Dns01ProviderError, jsonApi } from '../errors.ts';
import type { ZoneProvider } from '../provider.ts';

const PROVIDER = 'acmeDNS';

export const AcmeDnsRegistration = z.object({
  username: z.string().min(1),
  password: z.string().min(1),
  fulldomain: z.string().min(1),
  subdomain: z.string().min(1),
}).loose();
export const AcmeDnsAccounts = z.record(z.string(), AcmeDnsRegistration);
type Registration = z.infer<typeof AcmeDnsRegistration>;

/** The domain a challenge record is for: _acme-challenge.www.example.com. → www.example.com. */
export const domainOf = (fqdn: string) => fqdn.replace(/\.$/, '').toLowerCase().replace(/^_acme-challenge\./, '');

export async function createProvider(config: z.infer<typeof AcmeDNS>, ctx: ProviderContext): Promise<ZoneProvider> {
  const text = await ctx.readSecret(PROVIDER, config.accountSecretRef, 'acmedns.json');
  let accounts: z.infer<typeof AcmeDnsAccounts>;
  try {
    accounts = AcmeDnsAccounts.parse(JSON.parse(text));
  } catch (error) {
    // Never the content: it holds the passwords.
    const where = error instanceof z.ZodError ? ` (at ${error.issues[0]?.path.join('.')})` : '';
    throw new Dns01ProviderError(PROVIDER, 'Unauthorized', `Secret ${ctx.namespace}/${config.accountSecretRef.name} is not acme-dns registrations JSON${where}`);
  }
  const lower = new Map(Object.entries(accounts).map(([domain, registration]) => [domain.toLowerCase().replace(/\.$/, '').replace(/^\*\./, ''), registration]));
  return new AcmeDnsProvider(config.host, lower, `${ctx.namespace}/${config.accountSecretRef.name}`);
}

export class AcmeDnsProvider implements ZoneProvider {
  readonly #host: string;
  readonly #accounts: Map<string, Registration>;
  readonly #secret: string;

  constructor(host: string, accounts: Map<string, Registration>, secret: string) {
    this.#host = host;
    this.#accounts = accounts;
    this.#secret = secret;
  }

  registration(fqdn: string): Registration {
    const registration = this.#accounts.get(domainOf(fqdn));
    if (!registration) throw new Dns01ProviderError(PROVIDER, 'Unauthorized', `Secret ${this.#secret} has no acme-dns registration for ${domainOf(fqdn)}`);
    return registration;
  }

  async prepare(fqdns: string[]): Promise<void> {
    for (const fqdn of fqdns) this.registration(fqdn);
  }

  checkName(fqdn: string): string {
    return `${this.registration(fqdn).fulldomain.replace(/\.$/, '')}.`;
  }

  async present(fqdn: string, value: string): Promise<void> {
    const registration = this.registration(fqdn);
    const call = jsonApi(this.#host, {
      provider: PROVIDER,
      headers: () => ({ 'X-Api-User': registration.username, 'X-Api-Key': registration.password }),
      errorText: (body) => (body as { error?: string }).error,
    });
    await call('POST', 'update', { subdomain: registration.subdomain, txt: value });
  }

  async cleanUp(): Promise<void> {
    // acme-dns has no delete: the value is replaced by the next two updates.
  }
}
