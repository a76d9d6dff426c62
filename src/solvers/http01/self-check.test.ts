import { describe, expect, it } from 'vitest';
import { judgeResponse, redirectTarget } from './self-check.ts';

describe('judgeResponse', () => {
  const keyAuthorization = 'token.thumbprint';
  it.each([
    [200, 'token.thumbprint', undefined],
    [200, 'token.thumbprint\n', undefined],
    [200, '  token.thumbprint \r\n', undefined],
    [200, 'token.other', 'answered HTTP 200 with something other than the key authorization'],
    [200, '', 'answered HTTP 200 with something other than the key authorization'],
    [404, 'token.thumbprint', 'answered HTTP 404'],
    [503, '', 'answered HTTP 503'],
  ])('status %i with body %j → %s', (status, body, expected) => {
    expect(judgeResponse(status, body, keyAuthorization)).toBe(expected);
  });

  it('never repeats the body it got (it may come from anything a tenant names)', () => {
    expect(judgeResponse(200, 'secret-looking-body', 'x')).not.toContain('secret-looking-body');
  });
});

describe('redirectTarget', () => {
  const from = new URL('http://www.example.com/.well-known/acme-challenge/abc');
  it('follows relative and absolute http(s) redirects', () => {
    expect(String(redirectTarget('https://www.example.com/.well-known/acme-challenge/abc', from))).toBe('https://www.example.com/.well-known/acme-challenge/abc');
    expect(String(redirectTarget('/other/abc', from))).toBe('http://www.example.com/other/abc');
    expect(String(redirectTarget('http://cdn.example.net:8080/x', from))).toBe('http://cdn.example.net:8080/x');
  });
  it('refuses what a CA would not follow', () => {
    expect(redirectTarget(undefined, from)).toBe('redirected without a Location');
    expect(redirectTarget('ftp://www.example.com/abc', from)).toBe('redirected to a ftp: URL');
    expect(redirectTarget('http://[bad', from)).toBe('redirected to an invalid URL');
  });
});
