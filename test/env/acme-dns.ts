// A local server implementing acme-dns's documented HTTP API (acme-dns itself
// is not available here): POST /register answers 201 with username, password,
// fulldomain, subdomain and allowfrom; POST /update takes X-Api-User and
// X-Api-Key and {subdomain, txt} (txt exactly 43 characters), answers
// {"txt": ...} or 401 {"error":"forbidden"} / 400 {"error":"bad_subdomain"} /
// {"error":"bad_txt"}; GET /health. Like acme-dns it keeps the two most recent
// TXT values per subdomain. The TXT records are served by the test BIND
// (written with RFC 2136) under <subdomain>.<domain>, so the CA validates real
// DNS answers through the user's _acme-challenge CNAME.
import { randomBytes, randomUUID } from 'node:crypto';
import { Rfc2136Provider } from '../../src/solvers/dns01/rfc2136.ts';
import { startFake, type FakeServer } from './fakes/http.ts';
import type { DnsEnvInfo } from './types.ts';

export interface AcmeDnsRegistration {
  username: string;
  password: string;
  fulldomain: string;
  subdomain: string;
  allowfrom: string[];
}

export interface AcmeDnsServer extends FakeServer {
  /** The domain the subdomains live under, e.g. auth.certkeeper.test. */
  domain: string;
  /** Current TXT values per subdomain (at most two). */
  values(subdomain: string): string[];
}

export async function startAcmeDns(dns: DnsEnvInfo): Promise<AcmeDnsServer> {
  const domain = `auth.${dns.zone}`;
  const bind = new Rfc2136Provider({ nameserver: dns.server, tsigKeyName: dns.tsig.name, tsigAlgorithm: dns.tsig.algorithm, tsigSecret: dns.tsig.secret, zone: dns.zone });
  const accounts = new Map<string, { password: string; subdomain: string }>();
  const txt = new Map<string, string[]>();
  const server = await startFake(async ({ method, url, headers, body }) => {
    if (method === 'GET' && url.pathname === '/health') return { status: 200 };
    if (method === 'POST' && url.pathname === '/register') {
      const registration: AcmeDnsRegistration = {
        username: randomUUID(),
        password: randomBytes(30).toString('base64url').slice(0, 40),
        subdomain: randomUUID(),
        fulldomain: '',
        allowfrom: ((body as { allowfrom?: string[] } | undefined)?.allowfrom) ?? [],
      };
      registration.fulldomain = `${registration.subdomain}.${domain}`;
      accounts.set(registration.username, { password: registration.password, subdomain: registration.subdomain });
      return { status: 201, body: registration };
    }
    if (method === 'POST' && url.pathname === '/update') {
      const user = headers['x-api-user'];
      const account = typeof user === 'string' ? accounts.get(user) : undefined;
      if (!account || headers['x-api-key'] !== account.password) return { status: 401, body: { error: 'forbidden' } };
      const update = body as { subdomain?: unknown; txt?: unknown } | undefined;
      if (update?.subdomain !== account.subdomain) return { status: 401, body: { error: 'forbidden' } };
      if (typeof update.txt !== 'string' || update.txt.length !== 43) return { status: 400, body: { error: 'bad_txt' } };
      const fqdn = `${account.subdomain}.${domain}.`;
      // One array per subdomain, changed before any await: concurrent updates see each other.
      const values = txt.get(account.subdomain) ?? [];
      txt.set(account.subdomain, values);
      if (!values.includes(update.txt)) {
        values.push(update.txt);
        // The two most recent values stay (a wildcard and its base name at once).
        const evicted = values.length > 2 ? values.splice(0, values.length - 2) : [];
        await bind.present(fqdn, update.txt);
        for (const old of evicted) await bind.cleanUp(fqdn, old);
      }
      return { status: 200, body: { txt: update.txt } };
    }
    return { status: 404, body: { error: 'not_found' } };
  });
  return { ...server, domain, values: (subdomain) => [...txt.get(subdomain) ?? []] };
}
