import { describe, expect, it } from 'vitest';
import { Dns01ProviderError, kindOfStatus, relativeName, retryDelayMs, zoneCandidates } from './errors.ts';

describe('DNS provider errors and helpers', () => {
  it('sorts HTTP statuses into what a user must do', () => {
    expect([401, 403, 429, 500, 404].map(kindOfStatus)).toEqual(['Unauthorized', 'Unauthorized', 'RateLimited', 'Failed', 'Failed']);
    expect(new Dns01ProviderError('cloudflare', 'RateLimited', 'GET /zones answered 429').message)
      .toBe('cloudflare: GET /zones answered 429 (RateLimited: the provider is rate-limiting; certkeeper retries with backoff)');
  });

  it('waits as Retry-After says (seconds or a date), else doubles from 500 ms, never past the cap', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryDelayMs(0, null, 10_000, now)).toBe(500);
    expect(retryDelayMs(3, null, 10_000, now)).toBe(4_000);
    expect(retryDelayMs(6, null, 10_000, now)).toBe(10_000);
    expect(retryDelayMs(0, '2', 10_000, now)).toBe(2_000);
    expect(retryDelayMs(0, '3600', 10_000, now)).toBe(10_000);
    expect(retryDelayMs(0, 'Thu, 01 Jan 2026 00:00:03 GMT', 10_000, now)).toBe(3_000);
  });

  it('lists the zones a record could be in, longest first, never the TLD alone', () => {
    expect(zoneCandidates('_acme-challenge.www.example.co.uk.')).toEqual(['_acme-challenge.www.example.co.uk', 'www.example.co.uk', 'example.co.uk', 'co.uk']);
  });

  it('names a record relative to its zone', () => {
    expect(relativeName('_acme-challenge.www.Example.com.', 'example.com')).toBe('_acme-challenge.www');
    expect(relativeName('example.com.', 'example.com.')).toBe('@');
    expect(() => relativeName('_acme-challenge.example.org.', 'example.com')).toThrow('is not in zone example.com');
  });
});
