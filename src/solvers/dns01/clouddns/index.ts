// The cloudDNS dns01 solver: Cloud DNS's REST API v1 with Google's auth
// library (loaded only when a cloudDNS solver is used). A service account key
// from a Secret signs its own short-lived JWTs (self-signed JWT access, as
// Google's client libraries do by default, so no token endpoint is called);
// without a key, Application Default Credentials, which on GKE is Workload
// Identity through the metadata server. The managed zone is the configured one
// or the public zone with the longest dnsName matching the record; a TXT RRset
// holds every value at its name, so each name's set is replaced (deletion of the
// old set, addition of the new) under a per-zone lock, and the edits that
// arrive within a few milliseconds go out as one change per zone.
import type { z } from 'zod';
import type { CloudDNS } from '../../../api/solvers.ts';
import { KeyedMutex } from '../../../util/keyed-mutex.ts';
import type { ProviderContext } from '../../dns01-handle.ts';
import { applyEdits, byName, sameValues, ZoneBatcher, type TxtEdit } from '../batch.ts';
import { Dns01ProviderError, jsonApi, zoneCandidates } from '../errors.ts';
import type { ZoneProvider } from '../provider.ts';

const PROVIDER = 'cloudDNS';
export const CLOUDDNS_API = 'https://dns.googleapis.com/dns/v1';
const SCOPE = 'https://www.googleapis.com/auth/ndev.clouddns.readwrite';
const TTL = 60;
const zoneLocks = new KeyedMutex();

interface ManagedZone { name: string; dnsName: string; visibility?: string }
interface ResourceRecordSet { name: string; type: string; ttl: number; rrdatas: string[] }

const errorText = (body: unknown) => {
  const e = (body as { error?: { status?: string; message?: string } }).error;
  return e ? `${e.status ?? ''}${e.message ? `: ${e.message}` : ''}` : undefined;
};

async function authHeaders(config: z.infer<typeof CloudDNS>, ctx: ProviderContext): Promise<() => Promise<Record<string, string>>> {
  const { GoogleAuth, JWT } = await import('google-auth-library');
  let client: { getRequestHeaders(): Promise<Headers> };
  if (config.serviceAccountSecretRef) {
    const text = await ctx.readSecret(PROVIDER, config.serviceAccountSecretRef, 'key.json');
    let key: { client_email?: string; private_key?: string; private_key_id?: string };
    try {
      key = JSON.parse(text);
    } catch {
      key = {};
    }
    if (!key.client_email || !key.private_key) {
      throw new Dns01ProviderError(PROVIDER, 'Unauthorized', `Secret ${ctx.namespace}/${config.serviceAccountSecretRef.name} does not hold a service account key (JSON with client_email and private_key)`);
    }
    const jwt = new JWT({ email: key.client_email, key: key.private_key, ...(key.private_key_id ? { keyId: key.private_key_id } : {}), scopes: [SCOPE] });
    // Self-signed JWTs with the scope: no call to Google's token endpoint.
    jwt.useJWTAccessWithScope = true;
    client = jwt;
  } else if (ctx.ambientAllowed) {
    client = await new GoogleAuth({ scopes: [SCOPE] }).getClient();
  } else {
    throw new Dns01ProviderError(PROVIDER, 'Unauthorized',
      `no serviceAccountSecretRef, and an Issuer in namespace ${ctx.namespace} may not use the operator's Application Default Credentials (use a ClusterIssuer, a key, or --issuer-ambient-credentials)`);
  }
  return async () => {
    try {
      return Object.fromEntries((await client.getRequestHeaders()).entries());
    } catch (error) {
      // The library's message names the failing step (metadata server, key), never the key.
      throw new Dns01ProviderError(PROVIDER, 'Unauthorized', `getting an access token: ${(error as Error).message.split('\n')[0]}`);
    }
  };
}

export async function createProvider(config: z.infer<typeof CloudDNS>, ctx: ProviderContext): Promise<ZoneProvider> {
  const headers = await authHeaders(config, ctx);
  const base = `${(ctx.endpoints.cloudDNS ?? CLOUDDNS_API).replace(/\/$/, '')}/projects/${encodeURIComponent(config.project)}/`;
  return new CloudDnsProvider(jsonApi(base, { provider: PROVIDER, headers, errorText }), config.hostedZoneName);
}

type Call = ReturnType<typeof jsonApi>;
const quote = (value: string) => `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
const unquote = (value: string) => value.replace(/^"|"$/g, '').replace(/\\(.)/g, '$1');

export class CloudDnsProvider implements ZoneProvider {
  readonly #call: Call;
  readonly #zoneName: string | undefined;
  readonly #zones = new Map<string, Promise<string>>();

  constructor(call: Call, zoneName?: string) {
    this.#call = call;
    this.#zoneName = zoneName;
  }

  async prepare(fqdns: string[]): Promise<void> {
    await Promise.all(fqdns.map((fqdn) => this.zoneOf(fqdn)));
  }

  zoneOf(fqdn: string): Promise<string> {
    const key = this.#zoneName ?? fqdn.toLowerCase();
    let zone = this.#zones.get(key);
    if (!zone) {
      zone = this.#zoneName
        ? this.#call<ManagedZone>('GET', `managedZones/${encodeURIComponent(this.#zoneName)}`).then((z) => z.name)
        : this.#findZone(fqdn);
      zone.catch(() => this.#zones.delete(key));
      this.#zones.set(key, zone);
    }
    return zone;
  }

  async #findZone(fqdn: string): Promise<string> {
    for (const candidate of zoneCandidates(fqdn)) {
      const answer = await this.#call<{ managedZones?: ManagedZone[] }>('GET', `managedZones?dnsName=${encodeURIComponent(`${candidate}.`)}`);
      const zone = (answer.managedZones ?? []).find((z) => z.dnsName.toLowerCase() === `${candidate}.` && z.visibility !== 'private');
      if (zone) return zone.name;
    }
    throw new Dns01ProviderError(PROVIDER, 'ZoneNotFound', `no public managed zone for ${fqdn} in the project`);
  }

  async #current(zone: string, fqdn: string): Promise<ResourceRecordSet | undefined> {
    const answer = await this.#call<{ rrsets?: ResourceRecordSet[] }>('GET', `managedZones/${encodeURIComponent(zone)}/rrsets?name=${encodeURIComponent(fqdn)}&type=TXT`);
    return answer.rrsets?.find((s) => s.type === 'TXT' && s.name.toLowerCase() === fqdn.toLowerCase());
  }

  readonly #batches = new ZoneBatcher((zone, edits) => this.#apply(zone, edits));

  /** One batch: each name's set read and edited, every changed set replaced in one change. */
  async #apply(zone: string, edits: TxtEdit[]): Promise<void> {
    await zoneLocks.run(zone, async () => {
      const deletions: ResourceRecordSet[] = [];
      const additions: ResourceRecordSet[] = [];
      for (const [fqdn, nameEdits] of byName(edits)) {
        const current = await this.#current(zone, fqdn);
        const before = (current?.rrdatas ?? []).map(unquote);
        const after = applyEdits(before, nameEdits);
        if (sameValues(before, after)) continue;
        if (current) deletions.push(current);
        if (after.length > 0) additions.push({ name: fqdn, type: 'TXT', ttl: TTL, rrdatas: after.map(quote) });
      }
      if (deletions.length === 0 && additions.length === 0) return;
      await this.#call('POST', `managedZones/${encodeURIComponent(zone)}/changes`, {
        ...(deletions.length > 0 ? { deletions } : {}),
        ...(additions.length > 0 ? { additions } : {}),
      });
    });
  }

  async present(fqdn: string, value: string): Promise<void> {
    await this.#batches.enqueue(await this.zoneOf(fqdn), fqdn, value, true);
  }

  async cleanUp(fqdn: string, value: string): Promise<void> {
    await this.#batches.enqueue(await this.zoneOf(fqdn), fqdn, value, false);
  }
}
