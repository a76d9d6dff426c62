// DNS questions a DNS-01 solver asks before and after publishing: where a
// `_acme-challenge` CNAME points (cnameStrategy Follow), which zone a name is in
// and which servers are authoritative for it, and so where to check that a TXT
// value is served before the CA is told to look. The resolvers asked are
// cert-manager's --dns01-recursive-nameservers (or the system's), and with
// --dns01-recursive-nameservers-only the check asks those instead of the
// authoritative servers.
import { getServers, Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { parseHostPort } from './provider.ts';

export interface LookupOptions {
  /** host:port resolvers; the system's when empty. */
  recursiveNameservers: string[];
  /** Check propagation at the recursive nameservers, not the zone's authoritative servers. */
  recursiveOnly: boolean;
  timeoutMs?: number;
}

function resolver(opts: LookupOptions): Resolver {
  const r = new Resolver({ timeout: opts.timeoutMs ?? 2_000, tries: 2 });
  if (opts.recursiveNameservers.length > 0) r.setServers(opts.recursiveNameservers.map(asResolverAddress));
  return r;
}

function asResolverAddress(server: string): string {
  const { host, port } = parseHostPort(server);
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

const absent = (error: unknown) => ['ENODATA', 'ENOTFOUND'].includes((error as NodeJS.ErrnoException).code ?? '');

/** Follows CNAMEs from fqdn (at most 10) and returns the last name, with a trailing dot. */
export async function followCname(fqdn: string, opts: LookupOptions): Promise<string> {
  let name = fqdn.replace(/\.$/, '');
  const seen = new Set<string>();
  for (let i = 0; i < 10; i++) {
    let targets: string[];
    try {
      targets = await resolver(opts).resolveCname(name);
    } catch (error) {
      if (absent(error)) break;
      throw new Error(`looking up a CNAME at ${name}: ${(error as Error).message}`);
    }
    const target = targets[0]?.replace(/\.$/, '');
    if (!target || seen.has(target)) break;
    seen.add(name);
    name = target;
  }
  return `${name}.`;
}

/** The zone (apex, no trailing dot) fqdn is in: the longest suffix with an SOA record. */
export async function findZone(fqdn: string, opts: LookupOptions): Promise<string> {
  const labels = fqdn.replace(/\.$/, '').toLowerCase().split('.');
  for (let i = 0; i < labels.length; i++) {
    const candidate = labels.slice(i).join('.');
    try {
      await resolver(opts).resolveSoa(candidate);
      return candidate;
    } catch (error) {
      if (!absent(error)) throw new Error(`looking up the zone of ${fqdn} (SOA ${candidate}): ${(error as Error).message}`);
    }
  }
  throw new Error(`no zone found for ${fqdn}`);
}

/** Where to check a TXT value at fqdn: the recursive nameservers (-only), or the zone's authoritative servers on port 53. */
export async function propagationServers(fqdn: string, opts: LookupOptions): Promise<string[]> {
  if (opts.recursiveOnly) return opts.recursiveNameservers.length > 0 ? opts.recursiveNameservers : getServers();
  const zone = await findZone(fqdn, opts);
  const r = resolver(opts);
  const hosts = await r.resolveNs(zone);
  const addresses = await Promise.all(hosts.map(async (host) => {
    const v4 = await r.resolve4(host).catch(() => [] as string[]);
    return v4.length > 0 ? v4 : await r.resolve6(host).catch(() => [] as string[]);
  }));
  const servers = [...new Set(addresses.flat())].map((ip) => (isIP(ip) === 6 ? `[${ip}]:53` : `${ip}:53`));
  if (servers.length === 0) throw new Error(`no address for the nameservers of ${zone} (${hosts.join(', ') || 'none'})`);
  return servers;
}
