// A contract fake of the part of DigitalOcean's API v2 certkeeper calls, from
// DigitalOcean's published API reference: GET /v2/domains/{domain},
// GET/POST /v2/domains/{domain}/records (type and name filters; name is the
// full name in the filter, relative in the body), DELETE
// /v2/domains/{domain}/records/{id} (204). Authorization: Bearer with the
// token, else 401 {id: "Unauthorized"}; unknown domains 404 {id: "not_found"}.
// Records go to BIND.
import type { DnsEnvInfo } from '../types.ts';
import { bindBackend, startFake, type FakeAnswer, type FakeServer } from './http.ts';

export interface DigitalOceanFake extends FakeServer {
  records(): { id: number; name: string; data: string }[];
}

const error = (status: number, id: string, message: string): FakeAnswer => ({ status, body: { id, message, request_id: 'fake' } });

export async function startDigitalOceanFake(dns: DnsEnvInfo, token: string): Promise<DigitalOceanFake> {
  const backend = bindBackend(dns);
  let nextId = 1000;
  const records = new Map<number, { id: number; type: string; name: string; data: string; ttl: number }>();
  const fqdn = (name: string) => (name === '@' ? dns.zone : `${name}.${dns.zone}`);
  const server = await startFake(async ({ method, url, headers, body }) => {
    if (headers.authorization !== `Bearer ${token}`) return error(401, 'Unauthorized', 'Unable to authenticate you');
    const m = /^\/v2\/domains\/([^/]+)(?:\/records(?:\/(\d+))?)?$/.exec(url.pathname);
    const isRecords = url.pathname.includes('/records');
    if (!m || m[1] !== dns.zone) return error(404, 'not_found', 'The resource you were accessing could not be found.');
    if (method === 'GET' && !isRecords) return { status: 200, body: { domain: { name: dns.zone, ttl: 1800, zone_file: '' } } };
    if (method === 'GET' && isRecords && !m[2]) {
      const type = url.searchParams.get('type');
      const name = url.searchParams.get('name');
      if (name !== null && !type) return error(422, 'unprocessable_entity', 'type is required when filtering by name');
      const list = [...records.values()].filter((r) => (!type || r.type === type) && (!name || fqdn(r.name) === name.toLowerCase()));
      return { status: 200, body: { domain_records: list, links: {}, meta: { total: list.length } } };
    }
    if (method === 'POST' && isRecords && !m[2]) {
      const r = body as { type?: unknown; name?: unknown; data?: unknown; ttl?: unknown };
      if (r?.type !== 'TXT') return error(422, 'unprocessable_entity', 'this fake takes TXT records only');
      if (typeof r.name !== 'string' || r.name.endsWith('.') || r.name.endsWith(dns.zone)) return error(422, 'unprocessable_entity', 'name must be relative to the domain');
      if (typeof r.data !== 'string' || r.data.length === 0) return error(422, 'unprocessable_entity', 'data is required');
      if (r.ttl !== undefined && (typeof r.ttl !== 'number' || r.ttl < 30)) return error(422, 'unprocessable_entity', 'ttl must be at least 30');
      const record = { id: nextId++, type: 'TXT', name: r.name.toLowerCase(), data: r.data, ttl: (r.ttl as number | undefined) ?? 1800 };
      await backend.addTxt(fqdn(record.name), record.data);
      records.set(record.id, record);
      return { status: 201, body: { domain_record: record } };
    }
    if (method === 'DELETE' && m[2]) {
      const record = records.get(Number(m[2]));
      if (!record) return error(404, 'not_found', 'The resource you were accessing could not be found.');
      await backend.removeTxt(fqdn(record.name), record.data);
      records.delete(record.id);
      return { status: 204 };
    }
    return error(405, 'method_not_allowed', 'method not allowed');
  });
  return { ...server, records: () => [...records.values()].map(({ id, name, data }) => ({ id, name, data })) };
}
