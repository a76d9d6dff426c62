import { describe, expect, it } from 'vitest';
import { AcmeConnections, NoncePool, type AxiosLikeResponse } from './transport.ts';

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
