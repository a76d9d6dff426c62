// The provider-independent parts of DNS-01: record names and server addresses.
import { describe, expect, it } from 'vitest';
import { challengeRecordName, parseHostPort, waitForPropagation } from './provider.ts';

describe('challengeRecordName', () => {
  it.each([
    ['example.com', '_acme-challenge.example.com.'],
    ['www.example.com', '_acme-challenge.www.example.com.'],
    ['*.example.com', '_acme-challenge.example.com.'],
    ['*.wild.certkeeper.test', '_acme-challenge.wild.certkeeper.test.'],
    ['WWW.Example.COM.', '_acme-challenge.www.example.com.'],
    [' a.b.c ', '_acme-challenge.a.b.c.'],
  ])('%s → %s', (name, record) => {
    expect(challengeRecordName(name)).toBe(record);
  });

  it.each(['', '*', '*.', 'a.*.example.com', 'a..example.com', '**.example.com'])('refuses %j', (name) => {
    expect(() => challengeRecordName(name)).toThrow(/not a DNS name/);
  });
});

describe('parseHostPort', () => {
  it.each([
    ['127.0.0.1:5353', { host: '127.0.0.1', port: 5353 }],
    ['127.0.0.1', { host: '127.0.0.1', port: 53 }],
    ['ns1.example.com:53', { host: 'ns1.example.com', port: 53 }],
    ['ns1.example.com', { host: 'ns1.example.com', port: 53 }],
    ['[::1]:5353', { host: '::1', port: 5353 }],
    ['[::1]', { host: '::1', port: 53 }],
    ['2001:db8::53', { host: '2001:db8::53', port: 53 }],
  ])('%s', (server, expected) => {
    expect(parseHostPort(server)).toEqual(expected);
  });

  it.each(['', ':53', 'host:0', 'host:65536', 'host:x'])('refuses %j', (server) => {
    expect(() => parseHostPort(server)).toThrow(/host:port/);
  });
});

describe('waitForPropagation', () => {
  it('needs a nameserver', async () => {
    await expect(waitForPropagation('_acme-challenge.example.com.', 'v', { nameservers: [] })).rejects.toThrow(/at least one nameserver/);
  });
});
