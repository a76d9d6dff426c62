// A contract fake of the part of Azure DNS's Resource Manager API certkeeper
// calls (api-version 2018-05-01, from the published REST reference): list and
// get DNS zones in a resource group, get / create-or-update (PUT) / delete TXT
// record sets at .../dnsZones/{zone}/TXT/{relativeName} ("@" at the apex).
// Authorization: Bearer with a token the fake Entra ID handed out, else 401
// AuthenticationFailed / InvalidAuthenticationToken; missing record sets 404
// NotFound; the api-version must be given. Errors use ARM's {error: {code,
// message}}. Served over HTTPS; record sets go to BIND.
import type { DnsEnvInfo } from '../types.ts';
import { bindBackend, startFake, type FakeAnswer, type FakeServer } from './http.ts';

export interface AzureDnsFake extends FakeServer {
  recordSets(): { name: string; values: string[] }[];
}

const armError = (status: number, code: string, message: string): FakeAnswer => ({ status, body: { error: { code, message } } });

export async function startAzureDnsFake(dns: DnsEnvInfo, opts: {
  subscriptionId: string; resourceGroup: string; tls: { cert: string; key: string }; tokens: Map<string, unknown>;
}): Promise<AzureDnsFake> {
  const backend = bindBackend(dns);
  const sets = new Map<string, string[]>(); // relative name → values
  const zoneId = `/subscriptions/${opts.subscriptionId}/resourceGroups/${opts.resourceGroup}/providers/Microsoft.Network/dnsZones/${dns.zone}`;
  const zone = { id: zoneId, name: dns.zone, type: 'Microsoft.Network/dnszones', location: 'global', properties: { nameServers: ['ns1-01.azure-dns.com.'], zoneType: 'Public' } };
  const fqdn = (relative: string) => (relative === '@' ? dns.zone : `${relative}.${dns.zone}`);
  const server = await startFake(async ({ method, url, headers, body }) => {
    const bearer = headers.authorization?.match(/^Bearer (.+)$/)?.[1];
    if (!bearer) return armError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.");
    if (!opts.tokens.has(bearer)) return armError(401, 'InvalidAuthenticationToken', 'The access token is invalid.');
    if (url.searchParams.get('api-version') !== '2018-05-01') return armError(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests (this fake knows '2018-05-01').");
    const prefix = `/subscriptions/${opts.subscriptionId}/resourceGroups/${opts.resourceGroup}/providers/Microsoft.Network/dnsZones`;
    if (!url.pathname.toLowerCase().startsWith(prefix.toLowerCase())) return armError(403, 'AuthorizationFailed', 'The client does not have authorization to perform action over this scope.');
    const rest = decodeURIComponent(url.pathname.slice(prefix.length));
    if (method === 'GET' && (rest === '' || rest === '/')) return { status: 200, body: { value: [zone] } };
    const m = /^\/([^/]+)(?:\/TXT\/([^/]+))?$/.exec(rest);
    if (!m || m[1]!.toLowerCase() !== dns.zone) return armError(404, 'ResourceNotFound', `The Resource 'Microsoft.Network/dnszones/${m?.[1]}' under resource group '${opts.resourceGroup}' was not found.`);
    if (!m[2]) return method === 'GET' ? { status: 200, body: zone } : armError(405, 'MethodNotAllowed', 'method not allowed');
    const relative = m[2].toLowerCase();
    const recordSet = (values: string[]) => ({
      id: `${zoneId}/TXT/${relative}`, name: relative, type: 'Microsoft.Network/dnszones/TXT', etag: String(values.length),
      properties: { TTL: 60, fqdn: `${fqdn(relative)}.`, TXTRecords: values.map((v) => ({ value: [v] })) },
    });
    if (method === 'GET') {
      const values = sets.get(relative);
      return values ? { status: 200, body: recordSet(values) } : armError(404, 'NotFound', `The resource record '${relative}' does not exist in resource group '${opts.resourceGroup}' of subscription '${opts.subscriptionId}'.`);
    }
    if (method === 'PUT') {
      const p = (body as { properties?: { TTL?: unknown; TXTRecords?: { value?: unknown }[] } } | undefined)?.properties;
      if (!p || typeof p.TTL !== 'number' || !Array.isArray(p.TXTRecords) || p.TXTRecords.length === 0) return armError(400, 'BadRequest', 'properties.TTL and properties.TXTRecords are required');
      const values: string[] = [];
      for (const r of p.TXTRecords) {
        if (!Array.isArray(r.value) || r.value.some((v) => typeof v !== 'string' || v.length > 255)) return armError(400, 'BadRequest', 'TXTRecords[].value is a list of strings of at most 255 characters');
        values.push((r.value as string[]).join(''));
      }
      const before = sets.get(relative) ?? [];
      for (const v of values) if (!before.includes(v)) await backend.addTxt(fqdn(relative), v);
      for (const v of before) if (!values.includes(v)) await backend.removeTxt(fqdn(relative), v);
      sets.set(relative, values);
      return { status: before.length > 0 ? 200 : 201, body: recordSet(values) };
    }
    if (method === 'DELETE') {
      for (const v of sets.get(relative) ?? []) await backend.removeTxt(fqdn(relative), v);
      const existed = sets.delete(relative);
      return { status: existed ? 200 : 204 };
    }
    return armError(405, 'MethodNotAllowed', 'method not allowed');
  }, { tls: opts.tls });
  return { ...server, recordSets: () => [...sets.entries()].map(([name, values]) => ({ name, values })) };
}
