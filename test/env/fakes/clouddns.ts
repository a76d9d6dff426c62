// A contract fake of the part of Cloud DNS's REST API v1 certkeeper calls,
// from Google's published reference: managedZones list (dnsName filter) and
// get, resourceRecordSets list (name and type filters), changes create (the
// deletions must match the current RRset exactly, else 412 conditionNotMet; an
// addition where an RRset exists is 409 alreadyExists; TXT rrdatas are quoted).
// Authentication: Authorization: Bearer with either a self-signed JWT of a
// known service account (RS256 verified with its public key; iss = sub = the
// account's email; a Cloud DNS or cloud-platform scope; not expired) or an
// access token the fake metadata server handed out; else 401 UNAUTHENTICATED.
// Errors use Google's error body ({error: {code, message, status, errors}}).
// Records go to BIND.
import { createPublicKey, createVerify, randomBytes } from 'node:crypto';
import type { DnsEnvInfo } from '../types.ts';
import { bindBackend, inZone, startFake, type FakeAnswer, type FakeServer } from './http.ts';

export interface CloudDnsFake extends FakeServer {
  zoneName: string;
  /** TXT RRsets now held. */
  rrsets(): { name: string; rrdatas: string[] }[];
}

interface RRSet { kind: string; name: string; type: string; ttl: number; rrdatas: string[] }

const googleError = (code: number, status: string, message: string, reason: string): FakeAnswer =>
  ({ status: code, body: { error: { code, message, status, errors: [{ message, domain: 'global', reason }] } } });
const SCOPES = ['https://www.googleapis.com/auth/ndev.clouddns.readwrite', 'https://www.googleapis.com/auth/cloud-platform'];

function verifySelfSignedJwt(jwt: string, accounts: Map<string, string>): boolean {
  const [header, payload, signature] = jwt.split('.');
  if (!header || !payload || !signature) return false;
  let h: { alg?: string; kid?: string };
  let p: { iss?: string; sub?: string; scope?: string; aud?: string; exp?: number; iat?: number };
  try {
    h = JSON.parse(Buffer.from(header, 'base64url').toString());
    p = JSON.parse(Buffer.from(payload, 'base64url').toString());
  } catch {
    return false;
  }
  const publicKey = p.iss ? accounts.get(p.iss) : undefined;
  if (h.alg !== 'RS256' || !publicKey || p.sub !== p.iss) return false;
  const now = Date.now() / 1000;
  if (typeof p.exp !== 'number' || p.exp < now || typeof p.iat !== 'number' || p.iat > now + 60 || p.exp - p.iat > 3600) return false;
  if (!(p.scope ?? '').split(' ').some((s) => SCOPES.includes(s))) return false;
  return createVerify('RSA-SHA256').update(`${header}.${payload}`).verify(createPublicKey(publicKey), Buffer.from(signature, 'base64url'));
}

export async function startCloudDnsFake(dns: DnsEnvInfo, opts: { project: string; serviceAccounts: { email: string; publicKeyPem: string }[]; accessTokens: Set<string> }): Promise<CloudDnsFake> {
  const backend = bindBackend(dns);
  const accounts = new Map(opts.serviceAccounts.map((a) => [a.email, a.publicKeyPem]));
  const zoneName = `zone-${randomBytes(3).toString('hex')}`;
  const zone = { kind: 'dns#managedZone', name: zoneName, dnsName: `${dns.zone}.`, visibility: 'public', id: '1234567890' };
  const rrsets = new Map<string, RRSet>(); // by name (TXT only)
  const prefix = `/dns/v1/projects/${opts.project}/`;
  const server = await startFake(async ({ method, url, headers, body }) => {
    const bearer = headers.authorization?.match(/^Bearer (.+)$/)?.[1] ?? '';
    if (!opts.accessTokens.has(bearer) && !verifySelfSignedJwt(bearer, accounts)) {
      return googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.', 'authError');
    }
    if (!url.pathname.startsWith(prefix)) return googleError(403, 'PERMISSION_DENIED', 'Forbidden', 'forbidden');
    const path = url.pathname.slice(prefix.length);
    if (method === 'GET' && path === 'managedZones') {
      const dnsName = url.searchParams.get('dnsName');
      if (dnsName !== null && !dnsName.endsWith('.')) return googleError(400, 'INVALID_ARGUMENT', 'Invalid value for dnsName', 'invalid');
      return { status: 200, body: { kind: 'dns#managedZonesListResponse', managedZones: dnsName === null || dnsName === zone.dnsName ? [zone] : [] } };
    }
    const m = /^managedZones\/([^/]+)(?:\/(rrsets|changes))?$/.exec(path);
    if (!m || m[1] !== zoneName) return googleError(404, 'NOT_FOUND', `The 'parameters.managedZone' resource named '${m?.[1] ?? path}' does not exist.`, 'notFound');
    if (method === 'GET' && !m[2]) return { status: 200, body: zone };
    if (method === 'GET' && m[2] === 'rrsets') {
      const name = url.searchParams.get('name');
      const type = url.searchParams.get('type');
      if (type && !name) return googleError(400, 'INVALID_ARGUMENT', 'type requires name', 'invalid');
      const list = [...rrsets.values()].filter((s) => (!name || s.name === name.toLowerCase()) && (!type || s.type === type));
      return { status: 200, body: { kind: 'dns#resourceRecordSetsListResponse', rrsets: list } };
    }
    if (method === 'POST' && m[2] === 'changes') {
      const change = body as { additions?: RRSet[]; deletions?: RRSet[] };
      for (const s of [...change.additions ?? [], ...change.deletions ?? []]) {
        if (s.type !== 'TXT') return googleError(400, 'INVALID_ARGUMENT', 'this fake takes TXT record sets only', 'invalid');
        if (typeof s.name !== 'string' || !s.name.endsWith('.') || !inZone(s.name.slice(0, -1), dns.zone)) return googleError(400, 'INVALID_ARGUMENT', `Invalid value for 'entity.change.additions[0].name': '${s.name}'`, 'invalid');
        if (!Array.isArray(s.rrdatas) || s.rrdatas.length === 0 || s.rrdatas.some((d) => typeof d !== 'string' || !/^".*"$/.test(d))) return googleError(400, 'INVALID_ARGUMENT', 'Invalid TXT rrdata', 'invalid');
        if (typeof s.ttl !== 'number' || s.ttl < 0) return googleError(400, 'INVALID_ARGUMENT', 'Invalid ttl', 'invalid');
      }
      for (const d of change.deletions ?? []) {
        const current = rrsets.get(d.name.toLowerCase());
        if (!current || current.ttl !== d.ttl || JSON.stringify([...current.rrdatas].sort()) !== JSON.stringify([...d.rrdatas].sort())) {
          return googleError(412, 'FAILED_PRECONDITION', `The resource 'entity.change.deletions[0]' named '${d.name} (TXT)' does not match`, 'conditionNotMet');
        }
      }
      const deleted = new Set((change.deletions ?? []).map((d) => d.name.toLowerCase()));
      for (const a of change.additions ?? []) {
        if (rrsets.has(a.name.toLowerCase()) && !deleted.has(a.name.toLowerCase())) {
          return googleError(409, 'ALREADY_EXISTS', `The resource 'entity.change.additions[0]' named '${a.name} (TXT)' already exists`, 'alreadyExists');
        }
      }
      const values = (s: RRSet | undefined) => (s?.rrdatas ?? []).map((d) => d.slice(1, -1));
      for (const d of change.deletions ?? []) {
        const name = d.name.toLowerCase();
        const kept = new Set(values((change.additions ?? []).find((a) => a.name.toLowerCase() === name)));
        for (const v of values(rrsets.get(name))) if (!kept.has(v)) await backend.removeTxt(name, v);
        rrsets.delete(name);
      }
      for (const a of change.additions ?? []) {
        const name = a.name.toLowerCase();
        for (const v of values(a)) await backend.addTxt(name, v);
        rrsets.set(name, { kind: 'dns#resourceRecordSet', name, type: 'TXT', ttl: a.ttl, rrdatas: a.rrdatas });
      }
      return { status: 200, body: { kind: 'dns#change', id: String(Date.now()), status: 'done', startTime: new Date().toISOString(), ...change } };
    }
    return googleError(405, 'INVALID_ARGUMENT', 'method not allowed', 'invalid');
  }, { basePath: '/dns/v1' });
  return { ...server, zoneName, rrsets: () => [...rrsets.values()].map(({ name, rrdatas }) => ({ name, rrdatas })) };
}
