import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as acme from 'acme-client';
import { describe, expect, it } from 'vitest';
import { AcmeConnections, installTransport, NoncePool, type AxiosLikeResponse } from './transport.ts';

describe('NoncePool', () => {
  it('hands out the newest nonce once, per origin', () => {
    const pool = new NoncePool(30_000, () => 0);
    pool.put('https://ca', 'n1');
    pool.put('https://ca', 'n2');
    pool.put('https://other', 'x');
    expect(pool.take('https://ca')).toBe('n2');
    expect(pool.take('https://ca')).toBe('n1');
    expect(pool.take('https://ca')).toBeUndefined();
    expect(pool.take('https://other')).toBe('x');
  });

  it('drops nonces older than the maximum age', () => {
    let now = 0;
    const pool = new NoncePool(30_000, () => now);
    pool.put('https://ca', 'old');
    now = 10_000;
    pool.put('https://ca', 'newer');
    now = 35_000;
    expect(pool.take('https://ca')).toBe('newer');
    expect(pool.take('https://ca')).toBeUndefined();
    now = 70_000;
    pool.put('https://ca', 'fresh');
    now = 100_001;
    expect(pool.take('https://ca')).toBeUndefined();
  });
});

describe('AcmeConnections.directory', () => {
  const directory = (n: number): AxiosLikeResponse => ({ status: 200, headers: {}, data: { newOrder: `https://ca/order-${n}` } });
  const trust = {};

  it('fetches a directory once while it is fresh, also for callers at the same time, and again after ten minutes', async () => {
    let now = 0;
    const connections = new AcmeConnections({ now: () => now });
    let fetches = 0;
    const fetch = async () => directory(++fetches);
    const [a, b] = await Promise.all([connections.directory('https://ca/dir', trust, fetch), connections.directory('https://ca/dir', trust, fetch)]);
    expect(fetches).toBe(1);
    expect(b).toBe(a);
    now = 9 * 60_000;
    expect((await connections.directory('https://ca/dir', trust, fetch)).data).toEqual({ newOrder: 'https://ca/order-1' });
    now = 10 * 60_000 + 1;
    expect((await connections.directory('https://ca/dir', trust, fetch)).data).toEqual({ newOrder: 'https://ca/order-2' });
    expect(fetches).toBe(2);
  });

  it('keeps nothing from a failed, non-200 or non-JSON answer', async () => {
    const connections = new AcmeConnections();
    let fetches = 0;
    const answers: (() => Promise<AxiosLikeResponse>)[] = [
      async () => { throw new Error('reset'); },
      async () => ({ status: 503, headers: {}, data: { type: 'urn:ietf:params:acme:error:serverInternal' } }),
      async () => ({ status: 200, headers: {}, data: '<html>maintenance</html>' }),
      async () => directory(4),
    ];
    const fetch = () => answers[fetches++]!();
    await expect(connections.directory('https://ca/dir', trust, fetch)).rejects.toThrow('reset');
    expect((await connections.directory('https://ca/dir', trust, fetch)).status).toBe(503);
    expect((await connections.directory('https://ca/dir', trust, fetch)).data).toBe('<html>maintenance</html>');
    expect((await connections.directory('https://ca/dir', trust, fetch)).data).toEqual({ newOrder: 'https://ca/order-4' });
    expect((await connections.directory('https://ca/dir', trust, fetch)).data).toEqual({ newOrder: 'https://ca/order-4' });
    expect(fetches).toBe(4);
  });

  it('keeps a directory per URL and per trust (another caBundle may reach another server)', async () => {
    const connections = new AcmeConnections();
    let fetches = 0;
    const fetch = async () => directory(++fetches);
    await connections.directory('https://ca/dir', {}, fetch);
    await connections.directory('https://other/dir', {}, fetch);
    await connections.directory('https://ca/dir', { ca: 'PEM' }, fetch);
    await connections.directory('https://ca/dir', { insecureSkipVerify: true }, fetch);
    await connections.directory('https://ca/dir', {}, fetch);
    expect(fetches).toBe(4);
  });
});

describe('installTransport with shared connections', () => {
  it('fetches the directory again after the CA answers 404 at an endpoint it named (the CA moved its endpoints)', async () => {
    // A CA in this process that serves its endpoints under /v1/, then moves them to /v2/ (a restarted or migrated CA).
    let version = 1;
    let directoryFetches = 0;
    const server = http.createServer((req, res) => {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      if (req.url === '/directory') {
        directoryFetches++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ newNonce: `${base}/v${version}/nonce`, newAccount: `${base}/v${version}/account`, newOrder: `${base}/v${version}/order` }));
      } else if (req.url === `/v${version}/nonce`) {
        res.writeHead(200, { 'replay-nonce': `nonce-v${version}` });
        res.end();
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const directoryUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/directory`;
      const connections = new AcmeConnections();
      const accountKey = await acme.crypto.createPrivateEcdsaKey();
      const nonceOf = (client: acme.Client) => (client as unknown as { http: { getNonce(): Promise<string> } }).http.getNonce();
      const newClient = () => {
        const client = new acme.Client({ directoryUrl, accountKey });
        installTransport(client, { connections, reuseNonces: false });
        return client;
      };
      expect(await nonceOf(newClient())).toBe('nonce-v1');
      expect(await nonceOf(newClient())).toBe('nonce-v1');
      expect(directoryFetches).toBe(1);
      version = 2;
      // The kept directory still names /v1/: this client's request fails with 404, and the directory is dropped ...
      await expect(nonceOf(newClient())).rejects.toThrow();
      // ... so the next client fetches it again and reaches the moved endpoints, long before the entry would expire.
      expect(await nonceOf(newClient())).toBe('nonce-v2');
      expect(directoryFetches).toBe(2);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
