// A contract fake of the part of Cloudflare's API v4 certkeeper calls, from
// Cloudflare's published API reference: GET /zones?name=, GET/POST
// /zones/{zone_id}/dns_records, DELETE /zones/{zone_id}/dns_records/{id}.
// Authentication as documented: an API token (Authorization: Bearer) or a
// global key (X-Auth-Email + X-Auth-Key); anything else is 403 with error code
// 10000. Bodies checked against the documented shapes (TXT records: type, name,
// content, ttl 1 or 60..86400). Answers use the documented envelope
// ({success, errors, messages, result, result_info}). Records go to BIND.
import { randomBytes } from 'node:crypto';
import type { DnsEnvInfo } from '../types.ts';
import { bindBackend, inZone, startFake, type FakeAnswer, type FakeServer } from './http.ts';

export interface CloudflareFake extends FakeServer {
  zoneId: string;
  /** TXT records the fake holds now. */
  records(): { id: string; name: string; content: string }[];
}

const envelope = (result: unknown, extra: Record<string, unknown> = {}): FakeAnswer => ({ status: 200, body: { success: true, errors: [], messages: [], result, ...extra } });
const failure = (status: number, code: number, message: string): FakeAnswer => ({ status, body: { success: false, errors: [{ code, message }], messages: [], result: null } });

export async function startCloudflareFake(dns: DnsEnvInfo, credentials: { token?: string; email?: string; key?: string }): Promise<CloudflareFake> {
  const backend = bindBackend(dns);
  const zoneId = randomBytes(16).toString('hex');
  const records = new Map<string, { id: string; type: string; name: string; content: string; ttl: number }>();
  const server = await startFake(async ({ method, url, headers, body }) => {
    const bearer = headers.authorization?.match(/^Bearer (.+)$/)?.[1];
    const authorized = (credentials.token && bearer === credentials.token)
      || (credentials.key && headers['x-auth-key'] === credentials.key && headers['x-auth-email'] === credentials.email);
    if (!authorized) return failure(403, 10000, 'Authentication error');
    const path = url.pathname.replace(/^\/client\/v4/, '');
    if (method === 'GET' && path === '/zones') {
      const name = url.searchParams.get('name');
      const zones = name === null || name === dns.zone ? [{ id: zoneId, name: dns.zone, status: 'active' }] : [];
      return envelope(zones, { result_info: { page: 1, per_page: 20, count: zones.length, total_count: zones.length } });
    }
    const m = /^\/zones\/([^/]+)\/dns_records(?:\/([^/]+))?$/.exec(path);
    if (!m) return failure(404, 7003, 'Could not route to ' + path + ', perhaps your object identifier is invalid?');
    if (m[1] !== zoneId) return failure(404, 7003, 'Could not route to ' + path + ', perhaps your object identifier is invalid?');
    if (method === 'GET' && !m[2]) {
      const type = url.searchParams.get('type');
      const name = url.searchParams.get('name');
      const list = [...records.values()].filter((r) => (!type || r.type === type) && (!name || r.name === name.toLowerCase()));
      return envelope(list, { result_info: { page: 1, per_page: 100, count: list.length, total_count: list.length } });
    }
    if (method === 'POST' && !m[2]) {
      const r = body as { type?: unknown; name?: unknown; content?: unknown; ttl?: unknown; comment?: unknown };
      if (r?.type !== 'TXT') return failure(400, 9004, 'This record type is not supported by this fake (TXT only)');
      if (typeof r.name !== 'string' || r.name.endsWith('.') || !inZone(r.name, dns.zone)) return failure(400, 9005, 'Content for name must be a domain name in the zone, without a trailing dot');
      if (typeof r.content !== 'string' || r.content.length === 0 || r.content.length > 2048) return failure(400, 9021, 'Invalid TXT content');
      if (r.ttl !== undefined && (typeof r.ttl !== 'number' || (r.ttl !== 1 && (r.ttl < 60 || r.ttl > 86400)))) return failure(400, 9021, 'Invalid TTL. Must be between 60 and 86400, or 1 for automatic');
      if (r.comment !== undefined && typeof r.comment !== 'string') return failure(400, 9000, 'comment must be a string');
      const name = r.name.toLowerCase();
      if ([...records.values()].some((x) => x.name === name && x.content === r.content)) return failure(400, 81058, 'An identical record already exists.');
      const record = { id: randomBytes(16).toString('hex'), type: 'TXT', name, content: r.content, ttl: (r.ttl as number | undefined) ?? 1 };
      await backend.addTxt(name, r.content);
      records.set(record.id, record);
      return envelope(record);
    }
    if (method === 'DELETE' && m[2]) {
      const record = records.get(m[2]);
      if (!record) return failure(404, 81044, 'Record does not exist.');
      await backend.removeTxt(record.name, record.content);
      records.delete(m[2]);
      return envelope({ id: record.id });
    }
    return failure(405, 10000, 'Method not allowed');
  }, { basePath: '/client/v4' });
  return { ...server, zoneId, records: () => [...records.values()].map(({ id, name, content }) => ({ id, name, content })) };
}
