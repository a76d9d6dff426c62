import { describe, expect, it } from 'vitest';
import type { jsonApi } from '../errors.ts';
import { CloudDnsProvider } from './index.ts';

/** Cloud DNS's rrsets and changes calls over an in-memory zone, recording each change (the integration test uses the contract fake). */
function cloudDns() {
  const sets = new Map<string, string[]>();
  const changes: unknown[] = [];
  const call = (async (method: string, path: string, body?: { additions?: { name: string; rrdatas: string[] }[]; deletions?: { name: string }[] }) => {
    if (method === 'GET' && path.startsWith('managedZones/zone/rrsets')) {
      const name = decodeURIComponent(/name=([^&]+)/.exec(path)![1]!);
      const values = sets.get(name);
      return { rrsets: values ? [{ name, type: 'TXT', ttl: 60, rrdatas: values }] : [] };
    }
    if (method === 'GET' && path === 'managedZones/zone') return { name: 'zone', dnsName: 'example.com.' };
    if (method === 'POST' && path === 'managedZones/zone/changes') {
      changes.push(body);
      for (const d of body!.deletions ?? []) sets.delete(d.name);
      for (const a of body!.additions ?? []) sets.set(a.name, a.rrdatas);
      return { status: 'done' };
    }
    throw new Error(`unexpected ${method} ${path}`);
  }) as ReturnType<typeof jsonApi>;
  return { call, sets, changes };
}

describe('CloudDnsProvider', () => {
  it('replaces the sets of several names in one change, and removes an emptied set', async () => {
    const dns = cloudDns();
    const provider = new CloudDnsProvider(dns.call, 'zone');
    await Promise.all([
      provider.present('_acme-challenge.example.com.', 'wildcard'),
      provider.present('_acme-challenge.example.com.', 'base'),
      provider.present('_acme-challenge.www.example.com.', 'www'),
    ]);
    expect(dns.changes).toEqual([{ additions: [
      { name: '_acme-challenge.example.com.', type: 'TXT', ttl: 60, rrdatas: ['"wildcard"', '"base"'] },
      { name: '_acme-challenge.www.example.com.', type: 'TXT', ttl: 60, rrdatas: ['"www"'] },
    ] }]);
    await Promise.all([provider.cleanUp('_acme-challenge.example.com.', 'wildcard'), provider.cleanUp('_acme-challenge.www.example.com.', 'www')]);
    expect(dns.changes[1]).toEqual({
      deletions: [
        { name: '_acme-challenge.example.com.', type: 'TXT', ttl: 60, rrdatas: ['"wildcard"', '"base"'] },
        { name: '_acme-challenge.www.example.com.', type: 'TXT', ttl: 60, rrdatas: ['"www"'] },
      ],
      additions: [{ name: '_acme-challenge.example.com.', type: 'TXT', ttl: 60, rrdatas: ['"base"'] }],
    });
    expect([...dns.sets.keys()]).toEqual(['_acme-challenge.example.com.']);
  });
});
