// DNS-01 (RFC 8555 §8.4) independent of the DNS provider: the interface the
// Certificate controller calls to publish and remove challenge TXT records, the
// record name for a DNS name, and the check that the authoritative servers serve
// a value before the CA is told to validate.
import { lookup, Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';

/**
 * Publishes and removes DNS-01 TXT records. Several values may coexist at one
 * name (a wildcard and its base name share `_acme-challenge.<base>`): present
 * adds its value beside the others and cleanUp removes only its value. Both are
 * idempotent.
 */
export interface Dns01Provider {
  /** fqdn: the record name with trailing dot, e.g. `_acme-challenge.www.example.com.` */
  present(fqdn: string, value: string): Promise<void>;
  cleanUp(fqdn: string, value: string): Promise<void>;
}

/** `_acme-challenge.<name>.` for a DNS name; a wildcard `*.example.com` uses its base name. */
export function challengeRecordName(dnsName: string): string {
  const name = dnsName.trim().replace(/\.$/, '').toLowerCase().replace(/^\*\./, '');
  if (name === '' || name.includes('*') || name.split('.').some((label) => label === '')) {
    throw new Error(`not a DNS name for DNS-01: ${JSON.stringify(dnsName)}`);
  }
  return `_acme-challenge.${name}.`;
}

/** Splits `host:port`, `[v6]:port`, a bare IPv6 address or a bare host; the port defaults to 53. */
export function parseHostPort(server: string, defaultPort = 53): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(server);
  let host: string;
  let port: string | undefined;
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2];
  } else if (isIP(server) === 6) {
    host = server;
  } else {
    const i = server.lastIndexOf(':');
    host = i < 0 ? server : server.slice(0, i);
    port = i < 0 ? undefined : server.slice(i + 1);
  }
  const portNumber = port === undefined ? defaultPort : Number(port);
  if (host === '' || !Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535) {
    throw new Error(`not a host:port: ${JSON.stringify(server)}`);
  }
  return { host, port: portNumber };
}

// node:dns resolvers take IP addresses only; a host name is looked up first.
async function resolverServer(server: string): Promise<string> {
  const { host, port } = parseHostPort(server);
  const ip = isIP(host) ? host : (await lookup(host)).address;
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * The TXT values at fqdn as one server answers them (character-strings of a
 * record joined); [] when the name or the TXT RRset does not exist.
 */
export async function queryTxt(fqdn: string, nameserver: string, timeoutMs = 2_000): Promise<string[]> {
  // A fresh resolver per query: c-ares can cache answers per channel, and a
  // cached answer would hide a change at the server.
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  resolver.setServers([await resolverServer(nameserver)]);
  try {
    return (await resolver.resolveTxt(fqdn.replace(/\.$/, ''))).map((chunks) => chunks.join(''));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENODATA' || code === 'ENOTFOUND') return [];
    throw error;
  }
}

export interface PropagationOptions {
  /** The zone's authoritative servers, host:port (port 53 if omitted); each must serve the value. */
  nameservers: string[];
  /** Default 60 s. */
  timeoutMs?: number;
  /** Default 1 s. */
  intervalMs?: number;
}

/**
 * Resolves once every given server answers TXT fqdn with value among its values,
 * asking the servers directly (no recursive resolver, no cache in between).
 */
export async function waitForPropagation(fqdn: string, value: string, opts: PropagationOptions): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const intervalMs = opts.intervalMs ?? 1_000;
  if (opts.nameservers.length === 0) throw new Error('waitForPropagation needs at least one nameserver');
  const deadline = Date.now() + timeoutMs;
  let pending = [...opts.nameservers];
  const last = new Map<string, string>();
  for (;;) {
    const results = await Promise.all(pending.map(async (ns) => {
      try {
        const values = await queryTxt(fqdn, ns, Math.max(100, Math.min(2_000, deadline - Date.now())));
        last.set(ns, values.length === 0 ? 'no TXT record' : `${values.length} other value(s)`);
        return values.includes(value);
      } catch (error) {
        last.set(ns, (error as Error).message);
        return false;
      }
    }));
    pending = pending.filter((_, i) => !results[i]);
    if (pending.length === 0) return;
    if (Date.now() + intervalMs > deadline) {
      const details = pending.map((ns) => `${ns}: ${last.get(ns)}`).join('; ');
      throw new Error(`TXT ${fqdn} does not have the challenge value at ${pending.join(', ')} after ${timeoutMs} ms (${details})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A provider of one kind, built for one solver: present/cleanUp, and a check of credentials and zones before an order is opened. */
export interface ZoneProvider extends Dns01Provider {
  /** Verifies the credentials and finds the zones of these record names; throws a Dns01ProviderError, opening no order. */
  prepare?(fqdns: string[]): Promise<void>;
  /** The name to check propagation at when it is not fqdn (acme-dns: the registration's fulldomain). */
  checkName?(fqdn: string): string;
  /** Servers authoritative by configuration (rfc2136's nameserver): checked instead of looking them up. */
  authoritativeServers?: string[];
}

/** What the Certificate controller needs from a dns01 solver: check first, publish/remove a TXT value, and wait until it is served. */
export interface Dns01Handle {
  /** Checks credentials and zones for these record names before an order is opened. */
  prepare?(fqdns: string[]): Promise<void>;
  present(fqdn: string, value: string): Promise<void>;
  cleanUp(fqdn: string, value: string): Promise<void>;
  waitForPropagation(fqdn: string, value: string): Promise<void>;
}
