import { describe, expect, it } from 'vitest';
import { NoncePool } from './transport.ts';

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
